package io.shardcluster.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Context;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.CountRequest;
import io.shardcluster.proto.v1.CountResponse;
import io.shardcluster.proto.v1.DeleteRequest;
import io.shardcluster.proto.v1.DeleteResponse;
import io.shardcluster.proto.v1.GetRequest;
import io.shardcluster.proto.v1.GetResponse;
import io.shardcluster.proto.v1.GetStatsRequest;
import io.shardcluster.proto.v1.IdentifyRequest;
import io.shardcluster.proto.v1.IdentifyResponse;
import io.shardcluster.proto.v1.KeyRangeProto;
import io.shardcluster.proto.v1.KeyValueProto;
import io.shardcluster.proto.v1.MultiGetRequest;
import io.shardcluster.proto.v1.MultiGetResponse;
import io.shardcluster.proto.v1.MultiPutRequest;
import io.shardcluster.proto.v1.MultiPutResponse;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.proto.v1.PutRequest;
import io.shardcluster.proto.v1.PutResponse;
import io.shardcluster.proto.v1.QueryRequest;
import io.shardcluster.proto.v1.QueryResponse;
import io.shardcluster.proto.v1.QueryRow;
import io.shardcluster.proto.v1.ScanRequest;
import io.shardcluster.proto.v1.ScanResponse;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.query.Query;
import io.shardcluster.query.QueryParser;
import io.shardcluster.query.ShardQuery;
import io.shardcluster.query.Values;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.rpc.StatusErrors;
import io.shardcluster.server.Failpoints;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/** Serves the data RPCs: converts between the wire and {@link Shard}. */
final class ShardNodeService extends ShardNodeGrpc.ShardNodeImplBase {
  private static final int SCAN_BATCH_ROWS = 256;
  private static final int QUERY_BATCH_ROWS = 1000;
  private static final int QUERY_BATCH_BYTES = 1 << 20;
  private static final byte[] NO_VALUE = new byte[0];
  private static final int SCAN_BATCH_BYTES = 256 * 1024;

  private static final int CANCEL_CHECK_ROWS = 4096;

  private final Shard shard;
  private final Ownership ownership;
  private final IdentifyResponse identity;
  private final Supplier<NodeStats> stats;
  private final Executor queries;
  private final Executor lookups;
  private final UnaryAnswers answers;
  private final Failpoints failpoints;

  /**
   * @param queries runs queries, off gRPC's I/O threads
   * @param lookups runs a request again once the group lookup it needed has completed, or where it
   *     may wait for a transaction's record
   */
  ShardNodeService(
      Shard shard,
      Ownership ownership,
      IdentifyResponse identity,
      Supplier<NodeStats> stats,
      Executor queries,
      Executor lookups,
      Failpoints failpoints) {
    this.shard = shard;
    this.ownership = ownership;
    this.identity = identity;
    this.stats = stats;
    this.queries = queries;
    this.lookups = lookups;
    this.answers = new UnaryAnswers(ownership, lookups);
    this.failpoints = failpoints;
  }

  private <T> void unary(StreamObserver<T> observer, Supplier<T> body) {
    answers.answer(observer, body);
  }

  @Override
  public void get(GetRequest request, StreamObserver<GetResponse> observer) {
    unary(
        observer,
        () ->
            shard
                .get(
                    keyspace(request.getKeyspace()),
                    request.getKey().toByteArray(),
                    request.getEpoch())
                .map(value -> GetResponse.newBuilder().setFound(true).setValue(wrap(value)).build())
                .orElse(GetResponse.getDefaultInstance()));
  }

  @Override
  public void put(PutRequest request, StreamObserver<PutResponse> observer) {
    unary(
        observer,
        () -> {
          shard.put(
              keyspace(request.getKeyspace()),
              request.getKey().toByteArray(),
              request.getValue().toByteArray(),
              request.getEpoch());
          return PutResponse.getDefaultInstance();
        });
  }

  @Override
  public void delete(DeleteRequest request, StreamObserver<DeleteResponse> observer) {
    unary(
        observer,
        () -> {
          shard.delete(
              keyspace(request.getKeyspace()), request.getKey().toByteArray(), request.getEpoch());
          return DeleteResponse.getDefaultInstance();
        });
  }

  @Override
  public void multiGet(MultiGetRequest request, StreamObserver<MultiGetResponse> observer) {
    unary(
        observer,
        () -> {
          List<byte[]> keys = new ArrayList<>(request.getKeysCount());
          request.getKeysList().forEach(key -> keys.add(key.toByteArray()));
          MultiGetResponse.Builder response = MultiGetResponse.newBuilder();
          for (byte[] value :
              shard.multiGet(keyspace(request.getKeyspace()), keys, request.getEpoch())) {
            response.addResults(
                value == null
                    ? GetResponse.getDefaultInstance()
                    : GetResponse.newBuilder().setFound(true).setValue(wrap(value)).build());
          }
          return response.build();
        });
  }

  @Override
  public void multiPut(MultiPutRequest request, StreamObserver<MultiPutResponse> observer) {
    unary(
        observer,
        () -> {
          List<OutgoingMigrations.Mutation> entries = new ArrayList<>(request.getEntriesCount());
          for (KeyValueProto entry : request.getEntriesList()) {
            entries.add(
                new OutgoingMigrations.Mutation(
                    entry.getKey().toByteArray(), entry.getValue().toByteArray()));
          }
          shard.multiPut(keyspace(request.getKeyspace()), entries, request.getEpoch());
          return MultiPutResponse.getDefaultInstance();
        });
  }

  @Override
  public void scan(ScanRequest request, StreamObserver<ScanResponse> observer) {
    var call = (ServerCallStreamObserver<ScanResponse>) observer;
    Shard.Scan scan;
    try {
      scan =
          shard.scan(
              keyspace(request.getKeyspace()),
              request.getStart().toByteArray(),
              request.getEnd().toByteArray(),
              request.getAfter().isEmpty() ? null : request.getAfter().toByteArray(),
              request.getLimit(),
              request.getEpoch());
    } catch (RuntimeException e) {
      observer.onError(StatusErrors.toStatus(e));
      return;
    }
    new ScanStream(call, scan).start();
  }

  /**
   * Sends a scan's rows in batches whenever the client can take more (gRPC flow control). Rows are
   * read on the thread gRPC calls in on (often an I/O thread), so a group lookup the scan needs
   * runs aside, and the scan goes on from the key that needed it once the answer is in. The methods
   * synchronize: the pump may then run on a lookup thread, never at once with gRPC's calls.
   */
  private final class ScanStream {
    private final ServerCallStreamObserver<ScanResponse> call;
    private final Shard.Scan scan;
    private boolean finished;
    private boolean lookingUp;
    private boolean pumping;

    ScanStream(ServerCallStreamObserver<ScanResponse> call, Shard.Scan scan) {
      this.call = call;
      this.scan = scan;
    }

    synchronized void start() {
      call.setOnCancelHandler(this::finish);
      call.setOnReadyHandler(this::pump);
      pump();
    }

    private synchronized void pump() {
      // Called back from inside the pump (an in-process caller asking for more as it is sent a
      // batch): the pump's loop goes on while the call is ready, so there is nothing to do.
      if (lookingUp || pumping) {
        return;
      }
      pumping = true;
      try {
        Ownership.withoutWaiting(
            () -> {
              sendWhileReady();
              return null;
            });
      } catch (Ownership.LookupNeeded needed) {
        lookingUp = true;
        var unused = ownership.lookUp(needed).whenCompleteAsync(this::resume, lookups);
      } catch (RuntimeException e) {
        finish();
        call.onError(StatusErrors.toStatus(e));
      } finally {
        pumping = false;
      }
    }

    private synchronized void resume(String owner, Throwable error) {
      lookingUp = false;
      if (finished) {
        return;
      }
      if (error != null) {
        finish();
        call.onError(StatusErrors.toStatus(error));
        return;
      }
      scan.answer(owner);
      pump();
    }

    private void sendWhileReady() {
      while (!finished && call.isReady()) {
        ScanResponse.Builder batch = ScanResponse.newBuilder();
        int bytes = 0;
        boolean more = true;
        while (batch.getEntriesCount() < SCAN_BATCH_ROWS && bytes < SCAN_BATCH_BYTES) {
          try {
            more = scan.advance();
          } catch (Ownership.LookupNeeded needed) {
            // The rows before the key that needs the lookup are read: send them first.
            if (batch.getEntriesCount() > 0) {
              call.onNext(batch.build());
            }
            throw needed;
          }
          if (!more) {
            break;
          }
          byte[] key = scan.key();
          byte[] value = scan.value();
          batch.addEntriesBuilder().setKey(wrap(key)).setValue(wrap(value));
          bytes += key.length + value.length;
        }
        if (batch.getEntriesCount() > 0) {
          call.onNext(batch.build());
        }
        if (!more) {
          finish();
          call.onCompleted();
        }
      }
    }

    private synchronized void finish() {
      if (!finished) {
        finished = true;
        scan.close();
      }
    }
  }

  /**
   * Runs this node's part of a query and sends its rows in batches. The result is built before it
   * is sent (it is bounded by the result, not by the rows read: groups, a top-k, or the matches).
   */
  @Override
  public void query(QueryRequest request, StreamObserver<QueryResponse> observer) {
    // A query reads many rows: never on an I/O thread, where it would hold up every request of
    // the connections that thread serves. Stopped when the caller gives up.
    var call = (ServerCallStreamObserver<QueryResponse>) observer;
    FlowControl flow = new FlowControl(call);
    Context context = Context.current();
    queries.execute(
        context.wrap(
            () -> {
              try {
                runQuery(request, new Batches(call, flow), context);
              } catch (RuntimeException e) {
                if (!call.isCancelled()) {
                  call.onError(StatusErrors.toStatus(e));
                }
              }
            }));
  }

  private void runQuery(QueryRequest request, Batches out, Context context) {
    Query query = QueryParser.parse(request.getSql());
    ShardQuery part = new ShardQuery(query);
    List<KeyRange> asked = new ArrayList<>();
    for (KeyRangeProto range : request.getRangesList()) {
      asked.add(new KeyRange(range.getStart(), range.getEnd()));
    }
    Shard.RangeReads reads = shard.rangeReads(keyspace(request.getKeyspace()), asked);
    byte[] after = request.getAfter().isEmpty() ? null : request.getAfter().toByteArray();
    List<MovingSet> within =
        request.getWithinList().stream().map(RoutingTables::fromProto).toList();
    boolean more = true;
    boolean values = part.readsValues();
    long read = 0;
    boolean sentSome = false;
    for (int i = 0; more && i < reads.scans().size(); i++) {
      try (Shard.Scan scan =
          shard.scan(
              keyspace(request.getKeyspace()),
              reads.scans().get(i).start().toByteArray(),
              reads.scans().get(i).end().toByteArray(),
              after,
              0,
              request.getEpoch())) {
        while (more && scan.advance()) {
          if (read++ == 0 && !part.streams()) {
            failpoints.hit(Failpoints.QUERY_MID_SCAN);
          } else if (read % CANCEL_CHECK_ROWS == 0 && context.isCancelled()) {
            throw new ShardClusterException(ErrorCode.CANCELLED, "the query was cancelled");
          }
          if (reads.asked(scan.key()) && isWithin(within, scan, scan.key())) {
            more = part.add(scan.key(), values ? scan.value() : NO_VALUE);
            // A plain query without ORDER BY sends its rows as it finds them.
            if (part.streams() && part.pendingRows() >= QUERY_BATCH_ROWS) {
              out.send(part.takeRows());
              if (!sentSome) {
                sentSome = true;
                failpoints.hit(Failpoints.QUERY_MID_SCAN);
              }
            }
          }
        }
      }
    }
    if (part.streams()) {
      out.send(part.takeRows());
    } else {
      part.result().forEach(row -> out.add(null, row));
    }
    out.finish(part.scanned());
    shard.recordQuery();
    out.complete();
  }

  /** A query part's response stream: rows in messages of bounded size, paced by the receiver. */
  private static final class Batches {
    private final ServerCallStreamObserver<QueryResponse> call;
    private final FlowControl flow;
    private QueryResponse.Builder batch = QueryResponse.newBuilder();
    private int bytes;

    Batches(ServerCallStreamObserver<QueryResponse> call, FlowControl flow) {
      this.call = call;
      this.flow = flow;
    }

    /** Rows found by a streaming query, each with its key. */
    void send(List<ShardQuery.Found> rows) {
      rows.forEach(found -> add(found.key(), found.values()));
    }

    /** One row; its key if it has one. */
    void add(byte @Nullable [] key, List<JsonNode> row) {
      QueryRow.Builder encoded = batch.addRowsBuilder();
      if (key != null) {
        encoded.setKey(UnsafeByteOperations.unsafeWrap(key));
        bytes += key.length;
      }
      for (JsonNode value : row) {
        String json = Values.toJson(value);
        encoded.addValues(json);
        bytes += json.length();
      }
      if (batch.getRowsCount() >= QUERY_BATCH_ROWS || bytes >= QUERY_BATCH_BYTES) {
        flush();
      }
    }

    private void flush() {
      flow.awaitReady();
      call.onNext(batch.build());
      batch = QueryResponse.newBuilder();
      bytes = 0;
    }

    /** Sends the last rows with the count of rows read. */
    void finish(long scanned) {
      batch.setRowsScanned(scanned);
      flush();
    }

    void complete() {
      call.onCompleted();
    }
  }

  private static boolean isWithin(List<MovingSet> within, Shard.Scan scan, byte[] key) {
    for (MovingSet set : within) {
      if (!set.contains(scan.routing(), key)) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void count(CountRequest request, StreamObserver<CountResponse> observer) {
    unary(
        observer,
        () ->
            CountResponse.newBuilder()
                .setCount(
                    shard.count(
                        keyspace(request.getKeyspace()),
                        request.getStart().toByteArray(),
                        request.getEnd().toByteArray()))
                .build());
  }

  @Override
  public void getStats(GetStatsRequest request, StreamObserver<NodeStats> observer) {
    // The stats of the last heartbeat window, with the scan and query counts as of now.
    unary(
        observer,
        () -> stats.get().toBuilder().setScans(shard.scans()).setQueries(shard.queries()).build());
  }

  @Override
  public void identify(IdentifyRequest request, StreamObserver<IdentifyResponse> observer) {
    observer.onNext(identity);
    observer.onCompleted();
  }

  private static String keyspace(String name) {
    return name.isEmpty() ? Keyspace.DEFAULT : name;
  }

  private static ByteString wrap(byte[] bytes) {
    return UnsafeByteOperations.unsafeWrap(bytes);
  }
}
