package io.shardcluster.client.internal;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.shardcluster.client.KeyValue;
import io.shardcluster.client.KeyValueIterator;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.NodeUnavailableException;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.KeyValueProto;
import io.shardcluster.proto.v1.ScanRequest;
import io.shardcluster.proto.v1.ScanResponse;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.routing.ScanOrder;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingCache;
import io.shardcluster.rpc.StatusErrors;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A scan across the nodes of a keyspace that may hold keys in its range: one server stream per
 * node, each in the keyspace's scan order (key order in a range keyspace, position order in a hash
 * keyspace; see {@link ScanOrder}), merged k-way. Rows are pulled from the streams as the caller
 * consumes them (gRPC flow control keeps the nodes from running ahead). Every stream runs at the
 * epoch of the table it was opened with, and a node stops its stream as soon as its own table
 * changes; the merge then reopens every stream after the last key it returned (in scan order),
 * under a fresh table. So each key is returned exactly once even while keys move between nodes (and
 * again after a node restarts).
 */
public final class MergedScan implements KeyValueIterator {
  private static final Comparator<ByteString> KEY_ORDER =
      ByteString.unsignedLexicographicalComparator();

  private final RoutingCache routing;
  private final NodeChannels channels;
  private final RetryPolicy policy;
  private final String keyspace;
  private final ByteString from;
  private final ByteString to;
  private final long limit;
  private final Duration streamTimeout;

  // Range keyspaces: every cursor's position is 0, and keys decide.
  private final PriorityQueue<Cursor> heads =
      new PriorityQueue<>(
          Comparator.comparing(Cursor::position, Long::compareUnsigned)
              .thenComparing(Cursor::key, KEY_ORDER));
  private @Nullable List<Cursor> cursors;
  private @Nullable ByteString lastKey;
  // The epoch of the table the streams were last opened with.
  private long openedAt;
  // Whether a node the scan asked is a replica group: one that does not answer is electing a
  // leader, and the scan waits for it as single-key requests do.
  private boolean askedReplicaGroup;
  private long emitted;
  private int attempt;
  // Rows returned when the last failure happened: progress since then resets the retry budget.
  private long emittedAtFailure = -1;
  private @Nullable KeyValue next;
  private boolean done;

  public MergedScan(
      RoutingCache routing,
      NodeChannels channels,
      RetryPolicy policy,
      String keyspace,
      ByteString from,
      ByteString to,
      long limit,
      Duration streamTimeout) {
    this.routing = routing;
    this.channels = channels;
    this.policy = policy;
    this.keyspace = keyspace;
    this.from = from;
    this.to = to;
    this.limit = limit;
    this.streamTimeout = streamTimeout;
  }

  @Override
  public boolean hasNext() {
    if (next != null) {
      return true;
    }
    if (done) {
      return false;
    }
    if (limit > 0 && emitted >= limit) {
      close();
      return false;
    }
    while (true) {
      try {
        if (cursors == null) {
          open();
        }
        Cursor head = heads.poll();
        if (head == null) {
          close();
          return false;
        }
        ByteString key = head.key();
        next = new KeyValue(key.toByteArray(), head.value().toByteArray());
        lastKey = key;
        emitted++;
        if (head.advance()) {
          heads.add(head);
        }
        return true;
      } catch (ShardClusterException e) {
        closeStreams();
        if (next != null) {
          // The row is good; reopen after it on the next call.
          return true;
        }
        if (emitted > emittedAtFailure) {
          // A scan that spans many ownership changes reopens once per change, making progress.
          attempt = 0;
        }
        emittedAtFailure = emitted;
        if (!policy.shouldRetry(e, attempt, askedReplicaGroup)) {
          close();
          throw e;
        }
        // Reopen under the next table as soon as it is here (or the backoff ends: a node that
        // is behind, restarting or unreachable has no newer table to wait for).
        routing.awaitNewer(openedAt, policy.backoffMillis(attempt));
        attempt++;
      }
    }
  }

  @Override
  public KeyValue next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    // hasNext() found it.
    KeyValue row = requireNonNull(next);
    next = null;
    return row;
  }

  private void open() {
    RoutingTable table = routing.current();
    openedAt = table.epoch();
    Keyspace routed = table.keyspace(keyspace);
    boolean keyOrder = ScanOrder.isKeyOrder(routed);
    // Key order resumes by narrowing the range; scan order by position goes on after the last key.
    ByteString start = lastKey == null || !keyOrder ? from : KeyRange.successor(lastKey);
    ByteString after = lastKey == null || keyOrder ? ByteString.EMPTY : lastKey;
    // A range keyspace asks only the owners of the ranges the scan overlaps; a directory keyspace
    // asks every node.
    Set<String> owners = routed.ownersOf(start, to, table.nodeAddresses().keySet());
    askedReplicaGroup = owners.stream().anyMatch(table::replicated);
    ScanRequest request =
        ScanRequest.newBuilder()
            .setKeyspace(keyspace)
            .setStart(start)
            .setEnd(to)
            .setAfter(after)
            .setLimit(limit == 0 ? 0 : limit - emitted)
            .setEpoch(table.epoch())
            .build();
    cursors = new ArrayList<>();
    for (String owner : owners) {
      String address = table.address(owner).orElse("?");
      Cursor cursor = new Cursor(owner, address, request, keyOrder ? null : routed);
      cursors.add(cursor);
      if (cursor.advance()) {
        heads.add(cursor);
      }
    }
  }

  private void closeStreams() {
    if (cursors != null) {
      cursors.forEach(Cursor::cancel);
    }
    cursors = null;
    heads.clear();
  }

  @Override
  public void close() {
    done = true;
    closeStreams();
  }

  /** One node's stream and its current row. */
  private final class Cursor {
    private final String node;
    private final String address;
    private final Context.CancellableContext context = Context.current().withCancellation();
    private final Iterator<ScanResponse> batches;
    // Null in a range keyspace, where every row's position is 0.
    private final @Nullable Keyspace positioned;
    private List<KeyValueProto> batch = List.of();
    private int index = -1;
    private long position;

    Cursor(String node, String address, ScanRequest request, @Nullable Keyspace positioned) {
      this.node = node;
      this.address = address;
      this.positioned = positioned;
      ShardNodeGrpc.ShardNodeBlockingStub stub =
          ShardNodeGrpc.newBlockingStub(channels.channel(address))
              .withDeadlineAfter(streamTimeout.toMillis(), TimeUnit.MILLISECONDS);
      Context previous = context.attach();
      try {
        this.batches = stub.scan(request);
      } finally {
        context.detach(previous);
      }
    }

    ByteString key() {
      return batch.get(index).getKey();
    }

    /** The current row's position in a hash or directory keyspace; 0 in a range keyspace. */
    long position() {
      return position;
    }

    ByteString value() {
      return batch.get(index).getValue();
    }

    /** Moves to the next row; false at the end of the stream. */
    boolean advance() {
      index++;
      try {
        while (index >= batch.size()) {
          if (!batches.hasNext()) {
            return false;
          }
          batch = batches.next().getEntriesList();
          index = 0;
        }
        if (positioned != null) {
          position = ScanOrder.positionOf(positioned, key().toByteArray());
        }
        return true;
      } catch (RuntimeException e) {
        ShardClusterException error = StatusErrors.fromStatus(e);
        if (error.code() == ErrorCode.UNAVAILABLE) {
          channels.resetConnectBackoff(address);
          throw new NodeUnavailableException(node, address, error.getMessage(), error);
        }
        throw error;
      }
    }

    void cancel() {
      context.cancel(null);
    }
  }
}
