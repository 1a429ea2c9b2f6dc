package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.proto.v1.GetRequest;
import io.shardcluster.proto.v1.GetRoutingTableRequest;
import io.shardcluster.proto.v1.GroupEntry;
import io.shardcluster.proto.v1.HeartbeatRequest;
import io.shardcluster.proto.v1.HeartbeatResponse;
import io.shardcluster.proto.v1.LookupGroupsRequest;
import io.shardcluster.proto.v1.LookupGroupsResponse;
import io.shardcluster.proto.v1.MembershipGrpc;
import io.shardcluster.proto.v1.PutRequest;
import io.shardcluster.proto.v1.PutResponse;
import io.shardcluster.proto.v1.RegisterRequest;
import io.shardcluster.proto.v1.RegisterResponse;
import io.shardcluster.proto.v1.RoutingGrpc;
import io.shardcluster.proto.v1.RoutingTableProto;
import io.shardcluster.proto.v1.ScanRequest;
import io.shardcluster.proto.v1.ScanResponse;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.proto.v1.WatchRoutingTableRequest;
import io.shardcluster.routing.Grouping;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.routing.ScanOrder;
import io.shardcluster.rpc.HostPort;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.rpc.StatusErrors;
import io.shardcluster.server.Failpoints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real shard node over in-process gRPC, registered with a stand-in coordinator. */
class ShardNodeServerTest {
  private static final String COORDINATOR = "coordinator:1";

  @TempDir Path dir;

  /**
   * n1 owns the lower half, n2 the upper half; "tenants" is a directory keyspace whose groups'
   * owners the stand-in coordinator gives out when the test answers its lookups.
   */
  private final RoutingTable table =
      new RoutingTable(
          3,
          Map.of("n1", "n1:1", "n2", "n2:1"),
          Map.of(
              Keyspace.DEFAULT,
              Keyspace.hash(Keyspace.DEFAULT)
                  .withRing(HashRing.of(List.of(0L, Long.MIN_VALUE), List.of("n1", "n2"))),
              "tenants",
              Keyspace.directory("tenants", new Grouping(Grouping.DEFAULT_SEPARATOR, 1))));

  private record PendingLookup(
      LookupGroupsRequest request, StreamObserver<LookupGroupsResponse> answer) {}

  private final BlockingQueue<PendingLookup> lookups = new LinkedBlockingQueue<>();

  private final AtomicReference<Status> registerRefusal = new AtomicReference<>();
  private final AtomicInteger heartbeats = new AtomicInteger();
  private Server coordinator;
  private ShardNodeServer node;
  private ManagedChannel channel;

  private static ManagedChannel inProcess(String target) {
    return InProcessChannelBuilder.forName(target).directExecutor().build();
  }

  @BeforeEach
  void start() throws Exception {
    startCoordinator();
    node = startNode();
    channel = inProcess("n1:1");
  }

  private void startCoordinator() throws Exception {
    coordinator =
        InProcessServerBuilder.forName(COORDINATOR)
            .directExecutor()
            .addService(
                new MembershipGrpc.MembershipImplBase() {
                  @Override
                  public void register(
                      RegisterRequest request, StreamObserver<RegisterResponse> observer) {
                    if (registerRefusal.get() != null) {
                      observer.onError(registerRefusal.get().asRuntimeException());
                      return;
                    }
                    observer.onNext(
                        RegisterResponse.newBuilder()
                            .setRouting(RoutingTables.toProto(table))
                            .build());
                    observer.onCompleted();
                  }

                  @Override
                  public void heartbeat(
                      HeartbeatRequest request, StreamObserver<HeartbeatResponse> observer) {
                    heartbeats.incrementAndGet();
                    observer.onNext(HeartbeatResponse.newBuilder().setEpoch(table.epoch()).build());
                    observer.onCompleted();
                  }
                })
            .addService(
                new RoutingGrpc.RoutingImplBase() {
                  @Override
                  public void getRoutingTable(
                      GetRoutingTableRequest request, StreamObserver<RoutingTableProto> observer) {
                    observer.onNext(RoutingTables.toProto(table));
                    observer.onCompleted();
                  }

                  @Override
                  public void watchRoutingTable(
                      WatchRoutingTableRequest request,
                      StreamObserver<RoutingTableProto> observer) {}

                  @Override
                  public void lookupGroups(
                      LookupGroupsRequest request, StreamObserver<LookupGroupsResponse> observer) {
                    lookups.add(new PendingLookup(request, observer));
                  }
                })
            .build()
            .start();
  }

  private ShardNodeServer startNode() {
    ShardNodeConfig config =
        new ShardNodeConfig(
            "n1",
            "127.0.0.1",
            0,
            dir,
            HostPort.parse(COORDINATOR),
            false,
            Duration.ofMillis(50),
            4,
            Duration.ofSeconds(1),
            ShardNodeConfig.DEFAULT_COPY_P99_FACTOR,
            Failpoints.none(),
            ShardNodeConfig.Replication.NONE);
    return new ShardNodeServer(
            config, InProcessServerBuilder.forName("n1:1"), ShardNodeServerTest::inProcess)
        .start();
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    node.stop();
    coordinator.shutdownNow();
  }

  private String keyOwnedBy(String owner, int skip) {
    int seen = 0;
    for (int i = 0; ; i++) {
      if (table.ownerOf(Keyspace.DEFAULT, ("k" + i).getBytes(StandardCharsets.UTF_8)).equals(owner)
          && seen++ == skip) {
        return "k" + i;
      }
    }
  }

  @Test
  void putThenGet_ownedKey_overGrpc() {
    var stub = ShardNodeGrpc.newBlockingStub(channel);
    ByteString key = ByteString.copyFromUtf8(keyOwnedBy("n1", 0));
    stub.put(
        PutRequest.newBuilder()
            .setKey(key)
            .setValue(ByteString.copyFromUtf8("v"))
            .setEpoch(3)
            .build());
    var response = stub.get(GetRequest.newBuilder().setKey(key).setEpoch(3).build());
    assertThat(response.getFound()).isTrue();
    assertThat(response.getValue().toStringUtf8()).isEqualTo("v");
  }

  private static <T> StreamObserver<T> completing(CompletableFuture<T> future) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        future.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        future.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    };
  }

  private static PutRequest tenantPut(String key) {
    return PutRequest.newBuilder()
        .setKeyspace("tenants")
        .setKey(ByteString.copyFromUtf8(key))
        .setValue(ByteString.copyFromUtf8("v"))
        .setEpoch(3)
        .build();
  }

  @Test
  void groupLookup_doesNotHoldTheServingThread_andTheRequestGoesOnWithItsAnswer() throws Exception {
    // In-process calls with direct executors run the node's handler on this very thread.
    CompletableFuture<PutResponse> put = new CompletableFuture<>();
    ShardNodeGrpc.newStub(channel).put(tenantPut("acme:1"), completing(put));

    PendingLookup lookup = lookups.poll(10, TimeUnit.SECONDS);
    assertThat(lookup.request().getGroupsList()).containsExactly(ByteString.copyFromUtf8("acme"));
    assertThat(put).as("waiting for the coordinator, without holding the thread").isNotDone();
    var stub = ShardNodeGrpc.newBlockingStub(channel);
    stub.put(
        PutRequest.newBuilder()
            .setKey(ByteString.copyFromUtf8(keyOwnedBy("n1", 0)))
            .setValue(ByteString.copyFromUtf8("meanwhile"))
            .setEpoch(3)
            .build());

    lookup
        .answer()
        .onNext(
            LookupGroupsResponse.newBuilder()
                .setEpoch(3)
                .setDirectoryVersion(1)
                .addEntries(
                    GroupEntry.newBuilder()
                        .setGroup(ByteString.copyFromUtf8("acme"))
                        .setOwner("n1"))
                .build());
    lookup.answer().onCompleted();
    assertThat(put.get(10, TimeUnit.SECONDS)).isEqualTo(PutResponse.getDefaultInstance());

    // The answer is cached: the next request of the group is served without asking again.
    var read =
        stub.get(
            GetRequest.newBuilder()
                .setKeyspace("tenants")
                .setKey(ByteString.copyFromUtf8("acme:1"))
                .setEpoch(3)
                .build());
    assertThat(read.getValue().toStringUtf8()).isEqualTo("v");
    assertThat(lookups).isEmpty();
  }

  private static void answer(PendingLookup lookup, String owner) {
    LookupGroupsResponse.Builder response =
        LookupGroupsResponse.newBuilder().setEpoch(3).setDirectoryVersion(1);
    lookup
        .request()
        .getGroupsList()
        .forEach(group -> response.addEntriesBuilder().setGroup(group).setOwner(owner));
    lookup.answer().onNext(response.build());
    lookup.answer().onCompleted();
  }

  private PendingLookup nextLookup() throws InterruptedException {
    PendingLookup lookup = lookups.poll(10, TimeUnit.SECONDS);
    assertThat(lookup).as("a group lookup at the coordinator").isNotNull();
    return lookup;
  }

  @Test
  void scan_ofUncachedGroups_looksThemUpAside_andReturnsEveryOwnedRowOnce() throws Exception {
    for (String key : List.of("acme:1", "acme:2", "bolt:1", "globex:1")) {
      CompletableFuture<PutResponse> put = new CompletableFuture<>();
      ShardNodeGrpc.newStub(channel).put(tenantPut(key), completing(put));
      if (!put.isDone()) {
        answer(nextLookup(), "n1");
      }
      put.get(10, TimeUnit.SECONDS);
    }
    // A restarted node has no group cached; globex has no entry any more (stale rows stay here).
    node.stop();
    node = startNode();

    List<String> rows = new ArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    ShardNodeGrpc.newStub(channel)
        .scan(
            ScanRequest.newBuilder().setKeyspace("tenants").setEpoch(3).build(),
            new StreamObserver<>() {
              @Override
              public void onNext(ScanResponse batch) {
                batch.getEntriesList().forEach(e -> rows.add(e.getKey().toStringUtf8()));
              }

              @Override
              public void onError(Throwable t) {
                done.completeExceptionally(t);
              }

              @Override
              public void onCompleted() {
                done.complete(null);
              }
            });
    // No group is cached yet, so the scan cannot be over: it waits, without holding this thread.
    assertThat(done).isNotDone();
    // Answer every lookup until the scan ends (the node's key counter asks for the groups too).
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!done.isDone() && System.nanoTime() < until) {
      PendingLookup lookup = lookups.poll(100, TimeUnit.MILLISECONDS);
      if (lookup != null) {
        boolean gone = lookup.request().getGroups(0).toStringUtf8().equals("globex");
        answer(lookup, gone ? "" : "n1");
      }
    }
    done.get(10, TimeUnit.SECONDS);
    assertThat(rows).containsExactly("acme:1", "acme:2", "bolt:1");
  }

  @Test
  void groupLookup_failing_isTheAnswer() throws Exception {
    CompletableFuture<PutResponse> put = new CompletableFuture<>();
    ShardNodeGrpc.newStub(channel).put(tenantPut("globex:1"), completing(put));

    lookups
        .poll(10, TimeUnit.SECONDS)
        .answer()
        .onError(Status.NOT_FOUND.withDescription("no keyspace tenants").asRuntimeException());
    assertThatThrownBy(() -> put.get(10, TimeUnit.SECONDS))
        .satisfies(
            e -> {
              ShardClusterException error = StatusErrors.fromStatus(e.getCause());
              assertThat(error.code()).isEqualTo(ErrorCode.NOT_FOUND);
              assertThat(error.getMessage()).contains("no keyspace tenants");
            });
  }

  @Test
  void put_foreignKey_isFailedPreconditionWithWrongShardDetail() {
    var stub = ShardNodeGrpc.newBlockingStub(channel);
    ByteString key = ByteString.copyFromUtf8(keyOwnedBy("n2", 0));
    assertThatThrownBy(
            () ->
                stub.put(
                    PutRequest.newBuilder()
                        .setKey(key)
                        .setValue(ByteString.copyFromUtf8("v"))
                        .build()))
        .satisfies(
            e -> {
              ShardClusterException error = StatusErrors.fromStatus(e);
              assertThat(error).isInstanceOf(WrongShardException.class);
              assertThat(((WrongShardException) error).epoch()).isEqualTo(3);
              assertThat(((WrongShardException) error).owner()).contains("n2");
            });
  }

  @Test
  void scan_manyBatches_streamsEveryOwnedRowInOrder() {
    var stub = ShardNodeGrpc.newBlockingStub(channel);
    for (int i = 0; i < 1000; i++) {
      stub.put(
          PutRequest.newBuilder()
              .setKey(ByteString.copyFromUtf8(keyOwnedBy("n1", i)))
              .setValue(ByteString.copyFromUtf8("v" + i))
              .setEpoch(3)
              .build());
    }
    Iterator<ScanResponse> batches = stub.scan(ScanRequest.newBuilder().setEpoch(3).build());
    int rows = 0;
    int messages = 0;
    Comparator<ByteString> positionOrder = ScanOrder.comparator(Keyspace.hash(Keyspace.DEFAULT));
    ByteString previous = null;
    while (batches.hasNext()) {
      messages++;
      for (var row : batches.next().getEntriesList()) {
        if (previous != null) {
          assertThat(positionOrder.compare(previous, row.getKey())).isNegative();
        }
        previous = row.getKey();
        rows++;
      }
    }
    assertThat(rows).isEqualTo(1000);
    assertThat(messages).isGreaterThan(1);
  }

  @Test
  void heartbeats_reachTheCoordinator() {
    await().atMost(Duration.ofSeconds(5)).until(() -> heartbeats.get() >= 3);
  }

  @Test
  void restart_withCoordinatorDown_servesWithSavedTable() {
    var stub = ShardNodeGrpc.newBlockingStub(channel);
    ByteString key = ByteString.copyFromUtf8(keyOwnedBy("n1", 0));
    stub.put(
        PutRequest.newBuilder()
            .setKey(key)
            .setValue(ByteString.copyFromUtf8("kept"))
            .setEpoch(3)
            .build());
    node.stop();
    coordinator.shutdownNow();

    node = startNode();

    var response =
        ShardNodeGrpc.newBlockingStub(channel)
            .get(GetRequest.newBuilder().setKey(key).setEpoch(3).build());
    assertThat(response.getValue().toStringUtf8()).isEqualTo("kept");
  }

  @Test
  void start_refusedByCoordinator_failsWithItsMessage() throws Exception {
    node.stop();
    registerRefusal.set(
        Status.ALREADY_EXISTS.withDescription(
            "node id n1 is already in use by a live node at x:1"));
    assertThatThrownBy(this::startNode)
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining("already in use");
    node = startNodeAfterRefusalCleared();
  }

  private ShardNodeServer startNodeAfterRefusalCleared() {
    registerRefusal.set(null);
    return startNode();
  }
}
