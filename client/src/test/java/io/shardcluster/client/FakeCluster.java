package io.shardcluster.client;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.proto.v1.GetRequest;
import io.shardcluster.proto.v1.GetResponse;
import io.shardcluster.proto.v1.GetRoutingTableRequest;
import io.shardcluster.proto.v1.MultiGetRequest;
import io.shardcluster.proto.v1.MultiGetResponse;
import io.shardcluster.proto.v1.MultiPutRequest;
import io.shardcluster.proto.v1.MultiPutResponse;
import io.shardcluster.proto.v1.PutRequest;
import io.shardcluster.proto.v1.PutResponse;
import io.shardcluster.proto.v1.RoutingGrpc;
import io.shardcluster.proto.v1.RoutingTableProto;
import io.shardcluster.proto.v1.ScanRequest;
import io.shardcluster.proto.v1.ScanResponse;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.proto.v1.WatchRoutingTableRequest;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.routing.ScanOrder;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.rpc.StatusErrors;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An in-process stand-in for a cluster, to test the client's routing, retries and merging: a
 * coordinator serving a settable routing table, and nodes keeping keys in sorted maps and refusing
 * keys their table does not give them, as real nodes do.
 */
final class FakeCluster implements AutoCloseable {
  private static final Keyspace HASH = Keyspace.hash(Keyspace.DEFAULT);

  static final String COORDINATOR = "coordinator:1";

  final AtomicReference<RoutingTable> table = new AtomicReference<>();
  final Map<String, NavigableMap<ByteString, ByteString>> data = new ConcurrentHashMap<>();
  final Map<String, AtomicInteger> requests = new ConcurrentHashMap<>();
  final List<ServerCallStreamObserver<RoutingTableProto>> watchers = new CopyOnWriteArrayList<>();
  final Map<String, Server> servers = new ConcurrentHashMap<>();
  volatile boolean pushUpdates = true;

  /** Keys every node refuses with WRONG_SHARD at the current epoch, as a cutover's fence does. */
  final Set<ByteString> fenced = ConcurrentHashMap.newKeySet();

  FakeCluster(List<String> nodes) throws IOException {
    List<Long> starts = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      starts.add(Long.divideUnsigned(-1L, nodes.size()) * i);
    }
    Map<String, String> addresses = new TreeMap<>();
    nodes.forEach(n -> addresses.put(n, n + ":1"));
    table.set(
        new RoutingTable(
            1,
            addresses,
            Map.of(
                Keyspace.DEFAULT,
                Keyspace.hash(Keyspace.DEFAULT).withRing(HashRing.of(starts, nodes)))));
    startCoordinator();
    for (String node : nodes) {
      // As a node stores a hash keyspace: in position order.
      data.put(node, new ConcurrentSkipListMap<>(ScanOrder.comparator(HASH)));
      requests.put(node, new AtomicInteger());
      startNode(node);
    }
  }

  void startCoordinator() throws IOException {
    servers.put(
        COORDINATOR,
        InProcessServerBuilder.forName(COORDINATOR)
            .directExecutor()
            .addService(new Coordinator())
            .build()
            .start());
  }

  /**
   * Installs a new table at the coordinator (and so at the nodes); pushes it to watchers if
   * enabled.
   */
  void setTable(RoutingTable next) {
    table.set(next);
    if (pushUpdates) {
      for (var watcher : watchers) {
        watcher.onNext(RoutingTables.toProto(next));
      }
    }
  }

  void stop(String name) {
    servers.remove(name).shutdownNow();
  }

  /** Starts a node's server; after {@link #stop}, it comes back with the data it had. */
  void startNode(String node) throws IOException {
    servers.put(
        node,
        InProcessServerBuilder.forName(node + ":1")
            .directExecutor()
            .addService(new Node(node))
            .build()
            .start());
  }

  static ManagedChannel channel(String address) {
    return InProcessChannelBuilder.forName(address).directExecutor().build();
  }

  ShardClient client() {
    return ShardClient.builder()
        .coordinator(COORDINATOR)
        .channelFactory(FakeCluster::channel)
        .build();
  }

  @Override
  public void close() {
    servers.values().forEach(Server::shutdownNow);
  }

  private final class Coordinator extends RoutingGrpc.RoutingImplBase {
    @Override
    public void getRoutingTable(
        GetRoutingTableRequest request, StreamObserver<RoutingTableProto> observer) {
      observer.onNext(RoutingTables.toProto(table.get()));
      observer.onCompleted();
    }

    @Override
    public void watchRoutingTable(
        WatchRoutingTableRequest request, StreamObserver<RoutingTableProto> observer) {
      var call = (ServerCallStreamObserver<RoutingTableProto>) observer;
      watchers.add(call);
      if (table.get().epoch() > request.getKnownEpoch()) {
        call.onNext(RoutingTables.toProto(table.get()));
      }
    }
  }

  private final class Node extends ShardNodeGrpc.ShardNodeImplBase {
    private final String id;

    Node(String id) {
      this.id = id;
    }

    private void checkOwned(ByteString key) {
      RoutingTable current = table.get();
      if (fenced.contains(key)) {
        throw new WrongShardException(current.epoch(), id, "", "");
      }
      String owner = current.ownerOf(Keyspace.DEFAULT, key.toByteArray());
      if (!id.equals(owner)) {
        throw new WrongShardException(
            current.epoch(), id, owner, current.address(owner).orElse(""));
      }
    }

    @Override
    public void get(GetRequest request, StreamObserver<GetResponse> observer) {
      requests.get(id).incrementAndGet();
      try {
        checkOwned(request.getKey());
      } catch (WrongShardException e) {
        observer.onError(StatusErrors.toStatus(e));
        return;
      }
      ByteString value = data.get(id).get(request.getKey());
      observer.onNext(
          value == null
              ? GetResponse.getDefaultInstance()
              : GetResponse.newBuilder().setFound(true).setValue(value).build());
      observer.onCompleted();
    }

    @Override
    public void put(PutRequest request, StreamObserver<PutResponse> observer) {
      requests.get(id).incrementAndGet();
      try {
        checkOwned(request.getKey());
      } catch (WrongShardException e) {
        observer.onError(StatusErrors.toStatus(e));
        return;
      }
      data.get(id).put(request.getKey(), request.getValue());
      observer.onNext(PutResponse.getDefaultInstance());
      observer.onCompleted();
    }

    @Override
    public void multiGet(MultiGetRequest request, StreamObserver<MultiGetResponse> observer) {
      requests.get(id).incrementAndGet();
      MultiGetResponse.Builder response = MultiGetResponse.newBuilder();
      try {
        request.getKeysList().forEach(this::checkOwned);
      } catch (WrongShardException e) {
        observer.onError(StatusErrors.toStatus(e));
        return;
      }
      for (ByteString key : request.getKeysList()) {
        ByteString value = data.get(id).get(key);
        response.addResults(
            value == null
                ? GetResponse.getDefaultInstance()
                : GetResponse.newBuilder().setFound(true).setValue(value).build());
      }
      observer.onNext(response.build());
      observer.onCompleted();
    }

    @Override
    public void multiPut(MultiPutRequest request, StreamObserver<MultiPutResponse> observer) {
      requests.get(id).incrementAndGet();
      try {
        request.getEntriesList().forEach(e -> checkOwned(e.getKey()));
      } catch (WrongShardException e) {
        observer.onError(StatusErrors.toStatus(e));
        return;
      }
      request.getEntriesList().forEach(e -> data.get(id).put(e.getKey(), e.getValue()));
      observer.onNext(MultiPutResponse.getDefaultInstance());
      observer.onCompleted();
    }

    @Override
    public void scan(ScanRequest request, StreamObserver<ScanResponse> observer) {
      requests.get(id).incrementAndGet();
      NavigableMap<ByteString, ByteString> rows =
          request.getAfter().isEmpty()
              ? data.get(id)
              : data.get(id).tailMap(request.getAfter(), false);
      KeyRange bounds = new KeyRange(request.getStart(), request.getEnd());
      ScanResponse.Builder batch = ScanResponse.newBuilder();
      long sent = 0;
      for (var row : rows.entrySet()) {
        if (request.getLimit() > 0 && sent == request.getLimit()) {
          break;
        }
        if (!bounds.contains(row.getKey().toByteArray())) {
          continue;
        }
        batch.addEntriesBuilder().setKey(row.getKey()).setValue(row.getValue());
        sent++;
        if (batch.getEntriesCount() == 3) {
          observer.onNext(batch.build());
          batch = ScanResponse.newBuilder();
        }
      }
      if (batch.getEntriesCount() > 0) {
        observer.onNext(batch.build());
      }
      observer.onCompleted();
    }
  }
}
