package io.shardcluster.testing;

import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.shardcluster.client.ClusterAdmin;
import io.shardcluster.client.NodeInfo;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.ShardClient;
import io.shardcluster.coordinator.CoordinatorConfig;
import io.shardcluster.coordinator.CoordinatorServer;
import io.shardcluster.node.ShardNodeConfig;
import io.shardcluster.node.ShardNodeServer;
import io.shardcluster.proto.v1.CountRequest;
import io.shardcluster.proto.v1.GetStatsRequest;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.proto.v1.ScanRequest;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.HostPort;
import io.shardcluster.server.Failpoints;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * A whole cluster in one JVM over in-process gRPC: the real coordinator and shard node servers,
 * each node with its own RocksDB under a temporary directory. Fast enough for many scenarios; the
 * multi-process tests cover what only separate JVMs can show (SIGKILL, restarts).
 */
public final class InProcessCluster implements TestCluster {
  public static final String COORDINATOR = "127.0.0.1:1";

  private final Path dir;
  private final CoordinatorServer coordinator;
  private final Map<String, ShardNodeServer> nodes = new LinkedHashMap<>();
  private final Map<String, Integer> ports = new LinkedHashMap<>();
  private final List<ShardClient> clients = new ArrayList<>();
  private int nextPort = 2;

  public InProcessCluster(Path dir, CoordinatorConfig config) {
    this.dir = dir;
    this.coordinator =
        new CoordinatorServer(
                config,
                InProcessServerBuilder.forName(COORDINATOR).directExecutor(),
                Clock.systemUTC(),
                InProcessCluster::channel)
            .start();
  }

  /** Coordinator settings for quick tests: short heartbeat timeout and balance window. */
  public static CoordinatorConfig config(Path dir, boolean balancer, Duration window) {
    return config(dir, balancer, window, CoordinatorConfig.DEFAULT_RANGE_SPLIT_KEYS);
  }

  /** The same, with ranges split once they hold more than {@code rangeSplitKeys} keys. */
  public static CoordinatorConfig config(
      Path dir, boolean balancer, Duration window, long rangeSplitKeys) {
    return config(dir, balancer, window, rangeSplitKeys, 0, "keys");
  }

  /**
   * The same, also splitting ranges that take more than {@code rangeSplitOps} requests per second,
   * and balancing by {@code balanceBy} ("keys" or "ops").
   */
  public static CoordinatorConfig config(
      Path dir,
      boolean balancer,
      Duration window,
      long rangeSplitKeys,
      double rangeSplitOps,
      String balanceBy) {
    return config(
        dir,
        balancer,
        window,
        rangeSplitKeys,
        rangeSplitOps,
        balanceBy,
        4,
        Failpoints.none(),
        CoordinatorConfig.DEFAULT_CUTOVER_TIMEOUT,
        CoordinatorConfig.DEFAULT_TARGET_DOWN_TIMEOUT);
  }

  /**
   * Quick-test settings without the balancer, at most {@code maxMigrations} copying at once, and
   * the failpoints on.
   */
  public static CoordinatorConfig config(Path dir, int maxMigrations, Failpoints failpoints) {
    return config(dir, maxMigrations, failpoints, CoordinatorConfig.DEFAULT_CUTOVER_TIMEOUT);
  }

  /** As {@link #config(Path, int, Failpoints)}, with cutovers rolled back when held up so long. */
  public static CoordinatorConfig config(
      Path dir, int maxMigrations, Failpoints failpoints, Duration cutoverTimeout) {
    return config(
        dir,
        maxMigrations,
        failpoints,
        cutoverTimeout,
        CoordinatorConfig.DEFAULT_TARGET_DOWN_TIMEOUT);
  }

  /**
   * As {@link #config(Path, int, Failpoints, Duration)}, with migrations whose target is DOWN for
   * {@code targetDownTimeout} before their cutover rolled back.
   */
  public static CoordinatorConfig config(
      Path dir,
      int maxMigrations,
      Failpoints failpoints,
      Duration cutoverTimeout,
      Duration targetDownTimeout) {
    return config(
        dir,
        false,
        Duration.ofMillis(500),
        CoordinatorConfig.DEFAULT_RANGE_SPLIT_KEYS,
        0,
        "keys",
        maxMigrations,
        failpoints,
        cutoverTimeout,
        targetDownTimeout);
  }

  private static CoordinatorConfig config(
      Path dir,
      boolean balancer,
      Duration window,
      long rangeSplitKeys,
      double rangeSplitOps,
      String balanceBy,
      int maxMigrations,
      Failpoints failpoints,
      Duration cutoverTimeout,
      Duration targetDownTimeout) {
    return new CoordinatorConfig(
        "127.0.0.1",
        1,
        dir.resolve("coordinator"),
        CoordinatorConfig.DEFAULT_VNODES,
        Duration.ofSeconds(2),
        maxMigrations,
        // One migration per donor, so that tests can count a join's migrations; a test of the
        // steps asks for them (CoordinatorConfig.withHandoverSteps).
        1,
        0,
        cutoverTimeout,
        targetDownTimeout,
        balancer,
        balanceBy,
        0.2,
        0.05,
        window,
        rangeSplitKeys,
        rangeSplitOps,
        false,
        CoordinatorConfig.DEFAULT_REPLACE_AFTER,
        failpoints);
  }

  public static ManagedChannel channel(String address) {
    return InProcessChannelBuilder.forName(address).directExecutor().build();
  }

  /** Stops a node (its data stays). */
  public void stopNode(String id) {
    nodes.remove(id).stop();
  }

  /** Starts a stopped node again on its data and port. */
  public ShardNodeServer restartNode(String id) {
    return startNode(id, ports.get(id), Failpoints.none());
  }

  /** Starts a node and waits until the coordinator lists it as UP. */
  public ShardNodeServer addNode(String id) {
    return addNode(id, Failpoints.none());
  }

  /** As {@link #addNode(String)}, with failpoints enabled on the node. */
  public ShardNodeServer addNode(String id, Failpoints failpoints) {
    return startNode(id, nextPort++, failpoints);
  }

  /** Starts a new node and returns once it has registered, while it is still joining. */
  public ShardNodeServer startJoining(String id) {
    ShardNodeServer node = launch(id, nextPort++, Failpoints.none());
    awaitState(id, NodeState.JOINING);
    return node;
  }

  private ShardNodeServer startNode(String id, int port, Failpoints failpoints) {
    ShardNodeServer node = launch(id, port, failpoints);
    awaitState(id, NodeState.UP);
    return node;
  }

  private ShardNodeServer launch(String id, int port, Failpoints failpoints) {
    ports.put(id, port);
    ShardNodeConfig config =
        new ShardNodeConfig(
            id,
            "127.0.0.1",
            port,
            dir.resolve(id),
            HostPort.parse(COORDINATOR),
            false,
            Duration.ofMillis(100),
            4,
            Duration.ofMillis(200),
            ShardNodeConfig.DEFAULT_COPY_P99_FACTOR,
            failpoints,
            ShardNodeConfig.Replication.NONE);
    ShardNodeServer node =
        new ShardNodeServer(
                config,
                InProcessServerBuilder.forName("127.0.0.1:" + port),
                InProcessCluster::channel)
            .start();
    nodes.put(id, node);
    return node;
  }

  public void awaitState(String node, NodeState state) {
    awaitAdmin(
        admin ->
            admin.nodes().nodes().stream()
                .anyMatch(n -> n.id().equals(node) && n.state() == state));
  }

  /** Polls the cluster's admin view with one client until the test passes (a minute at most). */
  private void awaitAdmin(Predicate<ClusterAdmin> test) {
    ClusterAdmin admin = client().admin();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> test.test(admin));
  }

  public Map<String, NodeInfo> nodes() {
    Map<String, NodeInfo> byId = new LinkedHashMap<>();
    client().admin().nodes().nodes().forEach(n -> byId.put(n.id(), n));
    return byId;
  }

  /** Waits until no migration is in progress. */
  public void awaitMigrations() {
    awaitAdmin(admin -> admin.migrations(false).isEmpty());
  }

  /** Keys each node owns in the keyspace, straight from each node. */
  public static Map<String, List<String>> ownedKeys(ShardClient client, String keyspace) {
    RoutingTable table = client.refreshRoutingTable();
    Map<String, List<String>> owned = new HashMap<>();
    table
        .nodeAddresses()
        .forEach(
            (node, address) -> {
              List<String> keys = new ArrayList<>();
              var channel = InProcessCluster.channel(address);
              ShardNodeGrpc.newBlockingStub(channel)
                  .scan(ScanRequest.newBuilder().setKeyspace(keyspace).build())
                  .forEachRemaining(
                      b -> b.getEntriesList().forEach(e -> keys.add(e.getKey().toStringUtf8())));
              channel.shutdownNow();
              owned.put(node, keys);
            });
    return owned;
  }

  /** Keys a node stores in the keyspace in [start, end) ("" for no bound), owned or not. */
  public static long storedKeys(String address, String keyspace, String start, String end) {
    var channel = InProcessCluster.channel(address);
    try {
      return ShardNodeGrpc.newBlockingStub(channel)
          .count(
              CountRequest.newBuilder()
                  .setKeyspace(keyspace)
                  .setStart(ByteString.copyFromUtf8(start))
                  .setEnd(ByteString.copyFromUtf8(end))
                  .build())
          .getCount();
    } finally {
      channel.shutdownNow();
    }
  }

  /** Scan streams a node has opened since it started. */
  public static long scansServed(String address) {
    return stats(address).getScans();
  }

  /** Query parts the node at the address has answered in full since it started. */
  public static long queriesAnswered(String address) {
    return stats(address).getQueries();
  }

  private static NodeStats stats(String address) {
    var channel = channel(address);
    try {
      return ShardNodeGrpc.newBlockingStub(channel).getStats(GetStatsRequest.getDefaultInstance());
    } finally {
      channel.shutdownNow();
    }
  }

  @Override
  public ShardClient client() {
    return client(Duration.ofSeconds(10));
  }

  /** A client whose operations, retries included, end after {@code requestTimeout}. */
  public ShardClient client(Duration requestTimeout) {
    ShardClient client =
        ShardClient.builder()
            .coordinator(COORDINATOR)
            .channelFactory(InProcessCluster::channel)
            .requestTimeout(requestTimeout)
            .build();
    clients.add(client);
    return client;
  }

  @Override
  public void startNode(String id) {
    launch(id, nextPort++, Failpoints.none());
  }

  @Override
  public void crashNode(String id) {
    stopNode(id);
  }

  @Override
  public void recoverNode(String id) {
    launch(id, ports.get(id), Failpoints.none());
  }

  @Override
  public void awaitNodeState(String id, NodeState state) {
    awaitState(id, state);
  }

  @Override
  public void awaitSettled() {
    awaitAdmin(
        admin ->
            admin.migrations(false).isEmpty()
                && admin.nodes().nodes().stream()
                    .noneMatch(
                        n -> n.state() == NodeState.JOINING || n.state() == NodeState.DRAINING));
  }

  @Override
  public Map<String, Set<String>> keysByNode(String keyspace) {
    Map<String, Set<String>> byNode = new LinkedHashMap<>();
    ownedKeys(client(), keyspace).forEach((node, keys) -> byNode.put(node, new HashSet<>(keys)));
    return byNode;
  }

  @Override
  public void close() {
    clients.forEach(ShardClient::close);
    nodes.values().forEach(ShardNodeServer::stop);
    coordinator.stop();
  }
}
