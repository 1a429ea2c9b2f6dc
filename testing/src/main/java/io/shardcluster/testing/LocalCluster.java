package io.shardcluster.testing;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.ShardClient;
import io.shardcluster.proto.v1.CountRequest;
import io.shardcluster.proto.v1.ScanRequest;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.server.FileTrees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A whole cluster of real processes for a test: a coordinator and shard nodes started from the
 * built jars, each on a port picked by the OS at first start and kept across restarts.
 */
public final class LocalCluster implements TestCluster {
  public static final Path ROOT =
      Path.of(System.getProperty("shardcluster.root", "..")).toAbsolutePath().normalize();
  public static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  public static final ObjectMapper JSON = new ObjectMapper();

  public final Path dir;
  private final JvmProcess coordinator;
  private final Map<String, JvmProcess> nodes = new LinkedHashMap<>();
  private final List<ShardClient> clients = new ArrayList<>();
  private int coordinatorPort;

  private LocalCluster(Path dir, List<String> coordinatorExtras) {
    this.dir = dir;
    List<String> args =
        new ArrayList<>(
            List.of("--port", "0", "--data-dir", dir.resolve("coordinator").toString()));
    if (!coordinatorExtras.contains("--heartbeat-timeout-ms")) {
      args.addAll(List.of("--heartbeat-timeout-ms", "2000"));
    }
    args.addAll(coordinatorExtras);
    this.coordinator =
        new JvmProcess("coordinator", jar("coordinator"), dir, args, environment(dir));
  }

  /** Paused failpoints end when this file appears (see {@link #releaseFailpoints()}). */
  private static Map<String, String> environment(Path dir) {
    return Map.of("SHARDCLUSTER_FAILPOINT_RELEASE", dir.resolve("release-failpoints").toString());
  }

  /** Lets every process paused at a failpoint go on. */
  public void releaseFailpoints() throws IOException {
    Files.writeString(dir.resolve("release-failpoints"), "go");
  }

  public static Path jar(String module) {
    Path jar = ROOT.resolve(module).resolve("target").resolve(module + ".jar");
    if (!Files.exists(jar)) {
      throw new IllegalStateException(jar + " is missing; build with ./mvnw package first");
    }
    return jar;
  }

  /** Starts a coordinator and {@code nodeCount} nodes, and waits until all nodes are UP. */
  public static LocalCluster start(String testName, int nodeCount) throws Exception {
    return start(testName, nodeCount, List.of());
  }

  /** As above, with more coordinator arguments. */
  public static LocalCluster start(String testName, int nodeCount, List<String> coordinatorExtras)
      throws Exception {
    Path dir =
        ROOT.resolve("integration-tests/target/it-work")
            .resolve(testName + "-" + System.nanoTime());
    Files.createDirectories(dir);
    LocalCluster cluster = new LocalCluster(dir, coordinatorExtras);
    try {
      cluster.startCoordinator();
      for (int i = 1; i <= nodeCount; i++) {
        cluster.addNode("node-" + i);
      }
      cluster.awaitUp(nodeCount);
      return cluster;
    } catch (Exception | Error e) {
      cluster.close();
      throw e;
    }
  }

  private void startCoordinator() throws Exception {
    coordinator.start();
    int port = coordinator.awaitListening(START_TIMEOUT);
    if (coordinatorPort == 0) {
      coordinatorPort = port;
      List<String> args = new ArrayList<>(coordinator.arguments());
      args.set(1, String.valueOf(port));
      coordinator.arguments(args);
    }
  }

  /** Starts a new node (it registers and joins). */
  public JvmProcess addNode(String name) throws Exception {
    return addNode(name, List.of());
  }

  /** Starts a new node with more arguments (failpoints, say). */
  public JvmProcess addNode(String name, List<String> extras) throws Exception {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--id", name,
                "--port", "0",
                "--data-dir", dataDir(name).toString(),
                "--coordinator", coordinatorAddress(),
                "--heartbeat-interval-ms", "250",
                "--count-interval-ms", "1000",
                "--threads", "8"));
    args.addAll(extras);
    JvmProcess node = new JvmProcess(name, jar("shard-node"), dir, args, environment(dir));
    nodes.put(name, node);
    node.start();
    int port = node.awaitListening(START_TIMEOUT);
    List<String> started = new ArrayList<>(node.arguments());
    started.set(3, String.valueOf(port));
    node.arguments(started);
    return node;
  }

  /**
   * Starts a shard as a replica group of {@code replicas} processes, named {@code node-a}, {@code
   * node-b}, ... (each with its own data dir), on free ports; returns their names once each
   * listens. Kill, freeze or restart them by those names.
   */
  public List<String> addGroup(String node, int replicas) throws Exception {
    return addGroup(node, replicas, List.of());
  }

  /** As above, each process started with these JVM options too (-Draft.* settings, say). */
  public List<String> addGroup(String node, int replicas, List<String> jvmOptions)
      throws Exception {
    return addGroup(node, replicas, jvmOptions, List.of());
  }

  /** As above, replica a in the first of {@code zones}, b in the second, ... (round robin). */
  public List<String> addGroup(
      String node, int replicas, List<String> jvmOptions, List<String> zones) throws Exception {
    List<String> names = new ArrayList<>();
    List<String> peers = new ArrayList<>();
    List<Integer> ports = new ArrayList<>();
    List<Integer> free = freePorts(2 * replicas);
    for (int r = 0; r < replicas; r++) {
      String replica = String.valueOf((char) ('a' + r));
      int port = free.get(2 * r);
      int raftPort = free.get(2 * r + 1);
      names.add(node + "-" + replica);
      ports.add(port);
      peers.add("--peer");
      peers.add(replica + "@127.0.0.1:" + port + "/" + raftPort);
    }
    for (int r = 0; r < replicas; r++) {
      List<String> args = new ArrayList<>(peers);
      if (!zones.isEmpty()) {
        args.addAll(List.of("--zone", zones.get(r % zones.size())));
      }
      startReplica(node, String.valueOf((char) ('a' + r)), ports.get(r), args, jvmOptions);
    }
    for (String name : names) {
      nodes.get(name).awaitListening(START_TIMEOUT);
    }
    return names;
  }

  private void startReplica(
      String node, String replica, int port, List<String> peers, List<String> jvmOptions)
      throws IOException {
    String name = node + "-" + replica;
    List<String> args = new ArrayList<>(List.of("--id", node));
    args.addAll(groupProcessArguments(name, port));
    args.addAll(List.of("--replica", replica));
    args.addAll(peers);
    JvmProcess process =
        new JvmProcess(name, jar("shard-node"), dir, args, environment(dir), jvmOptions);
    nodes.put(name, process);
    process.start();
  }

  /** What every process of a replica group (or spare) named {@code name} is started with. */
  private List<String> groupProcessArguments(String name, int port) {
    return List.of(
        "--port",
        String.valueOf(port),
        "--data-dir",
        dataDir(name).toString(),
        "--coordinator",
        coordinatorAddress(),
        "--heartbeat-interval-ms",
        "250",
        "--count-interval-ms",
        "1000",
        "--threads",
        "16");
  }

  /**
   * Starts the process that is to replace replica {@code oldReplica} of {@code node}'s group: named
   * {@code node-newReplica}, on free ports, with the group's peer list less the old replica plus
   * itself. Returns its peer spec ({@code ID@HOST:PORT/RAFTPORT}) once it listens; the group's
   * leader adds it when told ({@code ClusterAdmin.replaceReplica}).
   */
  public String startReplacement(
      String node, String oldReplica, String newReplica, List<String> jvmOptions) throws Exception {
    JvmProcess member =
        nodes.entrySet().stream()
            .filter(
                e ->
                    e.getKey().startsWith(node + "-")
                        && e.getValue().arguments().contains("--peer"))
            .map(Map.Entry::getValue)
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException(node + " has no replica group"));
    List<String> args = member.arguments();
    List<String> peers = new ArrayList<>();
    for (int i = 0; i < args.size() - 1; i++) {
      if (args.get(i).equals("--peer") && !args.get(i + 1).startsWith(oldReplica + "@")) {
        peers.add("--peer");
        peers.add(args.get(i + 1));
      }
    }
    List<Integer> free = freePorts(2);
    String spec = newReplica + "@127.0.0.1:" + free.get(0) + "/" + free.get(1);
    peers.add("--peer");
    peers.add(spec);
    startReplica(node, newReplica, free.get(0), peers, jvmOptions);
    nodes.get(node + "-" + newReplica).awaitListening(START_TIMEOUT);
    return spec;
  }

  /**
   * Starts a spare process (shard-node --spare) named {@code name}, on free ports, with more
   * arguments ({@code --zone}, say); returns once it listens. Once the coordinator adopts it, it
   * runs as a replica under the same name.
   */
  public JvmProcess startSpare(String name, List<String> extras) throws Exception {
    List<Integer> free = freePorts(2);
    List<String> args = new ArrayList<>(List.of("--spare", "--raft-port", "" + free.get(1)));
    args.addAll(groupProcessArguments(name, free.get(0)));
    args.addAll(extras);
    JvmProcess spare = new JvmProcess(name, jar("shard-node"), dir, args, environment(dir));
    nodes.put(name, spare);
    spare.start();
    spare.awaitListening(START_TIMEOUT);
    return spare;
  }

  /**
   * A cluster of {@code groups} shards ({@code node-1} ...), each a replica group of {@code
   * replicas} processes (see {@link #addGroup}), every shard UP.
   */
  public static LocalCluster startGroups(String testName, int groups, int replicas)
      throws Exception {
    return startGroups(testName, groups, replicas, List.of());
  }

  /** As above, with more coordinator arguments. */
  public static LocalCluster startGroups(
      String testName, int groups, int replicas, List<String> coordinatorExtras) throws Exception {
    return startGroups(testName, groups, replicas, coordinatorExtras, List.of());
  }

  /** As above, every shard-node process started with these JVM options too. */
  public static LocalCluster startGroups(
      String testName,
      int groups,
      int replicas,
      List<String> coordinatorExtras,
      List<String> nodeJvmOptions)
      throws Exception {
    LocalCluster cluster = start(testName, 0, coordinatorExtras);
    try {
      for (int i = 1; i <= groups; i++) {
        cluster.addGroup("node-" + i, replicas, nodeJvmOptions);
      }
      cluster.awaitUp(groups);
      return cluster;
    } catch (Exception | Error e) {
      cluster.close();
      throw e;
    }
  }

  /** Distinct free ports: every socket stays open until all are picked, so none repeats. */
  private static List<Integer> freePorts(int count) throws IOException {
    List<java.net.ServerSocket> sockets = new ArrayList<>();
    try {
      for (int i = 0; i < count; i++) {
        sockets.add(new java.net.ServerSocket(0));
      }
      return sockets.stream().map(java.net.ServerSocket::getLocalPort).toList();
    } finally {
      for (java.net.ServerSocket socket : sockets) {
        socket.close();
      }
    }
  }

  public Path dataDir(String node) {
    return dir.resolve(node);
  }

  public String coordinatorAddress() {
    return "127.0.0.1:" + coordinatorPort;
  }

  public int coordinatorPort() {
    return coordinatorPort;
  }

  public JvmProcess coordinator() {
    return coordinator;
  }

  public JvmProcess node(String name) {
    return nodes.get(name);
  }

  /** SIGKILLs a process (node name or "coordinator"). */
  public void kill(String name) throws InterruptedException {
    process(name).kill();
  }

  /** Restarts a killed or stopped process on its data dir and port, without failpoints. */
  public void restart(String name) throws Exception {
    restart(name, List.of());
  }

  /** Stops a running process (SIGTERM) and starts it again with more arguments. */
  public void restartWith(String name, List<String> extras) throws Exception {
    process(name).stop();
    restart(name, extras);
  }

  private void restart(String name, List<String> extras) throws Exception {
    JvmProcess process = process(name);
    List<String> args = new ArrayList<>();
    List<String> old = process.arguments();
    for (int i = 0; i < old.size(); i++) {
      if (old.get(i).equals("--failpoint")) {
        i++;
      } else {
        args.add(old.get(i));
      }
    }
    args.addAll(extras);
    process.arguments(args);
    process.start();
    process.awaitListening(START_TIMEOUT);
  }

  public JvmProcess process(String name) {
    return name.equals("coordinator") ? coordinator : nodes.get(name);
  }

  /** A client of this cluster, closed with it. */
  @Override
  public ShardClient client() {
    ShardClient client =
        ShardClient.builder()
            .coordinator(coordinatorAddress())
            .requestTimeout(Duration.ofSeconds(5))
            .build();
    clients.add(client);
    return client;
  }

  /** Runs shardctl against this cluster. */
  public Shardctl.Result shardctl(String... args) throws Exception {
    return Shardctl.run(withCoordinator(args));
  }

  /** Starts shardctl against this cluster without waiting for it to end. */
  public Shardctl.Running startShardctl(String... args) throws Exception {
    return Shardctl.start(withCoordinator(args));
  }

  private List<String> withCoordinator(String... args) {
    List<String> all = new ArrayList<>(List.of("--coordinator", coordinatorAddress()));
    all.addAll(List.of(args));
    return all;
  }

  /** Node id to state, from {@code shardctl nodes --json}. */
  public Map<String, String> nodeStates() throws Exception {
    Shardctl.Result result = shardctl("nodes", "--json");
    if (result.exitCode() != 0) {
      throw new IllegalStateException("shardctl nodes failed: " + result.err());
    }
    Map<String, String> states = new LinkedHashMap<>();
    for (JsonNode node : JSON.readTree(result.out()).get("nodes")) {
      states.put(node.get("id").asText(), node.get("state").asText());
    }
    return states;
  }

  public void awaitUp(int count) {
    await()
        .atMost(START_TIMEOUT)
        .pollInterval(Duration.ofMillis(250))
        .until(() -> nodeStates().values().stream().filter("UP"::equals).count() == count);
  }

  /** The keys each node owns (its scan answers), read straight from each node. */
  public Map<String, Set<String>> ownedKeys() {
    return ownedKeys(io.shardcluster.routing.Keyspace.DEFAULT);
  }

  /** Keys each node owns in the keyspace, straight from each node. */
  public Map<String, Set<String>> ownedKeys(String keyspace) {
    Map<String, Set<String>> owned = new LinkedHashMap<>();
    try (ShardClient client = client();
        NodeChannels channels = new NodeChannels(NodeChannels::plaintext)) {
      RoutingTable table = client.refreshRoutingTable();
      table
          .nodeAddresses()
          .forEach(
              (node, address) -> {
                Set<String> keys = new HashSet<>();
                ShardNodeGrpc.newBlockingStub(channels.channel(address))
                    .scan(ScanRequest.newBuilder().setKeyspace(keyspace).build())
                    .forEachRemaining(
                        batch ->
                            batch
                                .getEntriesList()
                                .forEach(e -> keys.add(e.getKey().toStringUtf8())));
                owned.put(node, keys);
              });
    }
    return owned;
  }

  /** How many keys a node stores, owned or not. */
  public long storedKeys(String node) {
    try (ShardClient client = client();
        NodeChannels channels = new NodeChannels(NodeChannels::plaintext)) {
      // From the member list: a removed node is no longer in the routing table.
      String address =
          client.admin().nodes().nodes().stream()
              .filter(n -> n.id().equals(node))
              .findFirst()
              .orElseThrow()
              .address();
      return ShardNodeGrpc.newBlockingStub(channels.channel(address))
          .count(CountRequest.getDefaultInstance())
          .getCount();
    }
  }

  /** Waits until no migration is in progress and no node is JOINING or DRAINING. */
  public void awaitSettled(Duration timeout) {
    await()
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(
            () -> {
              try (ShardClient client = client()) {
                return client.admin().migrations(false).isEmpty()
                    // A directory change a failure rolled back is tried again after a pause.
                    && MigrationInfo.rolledBackDirectoryChanges(client.admin().migrations(true))
                        .stream()
                        .noneMatch(MigrationInfo::triedAgain)
                    && client.admin().nodes().nodes().stream()
                        .noneMatch(
                            n ->
                                n.state() == io.shardcluster.client.NodeState.JOINING
                                    || n.state() == io.shardcluster.client.NodeState.DRAINING);
              }
            });
  }

  @Override
  public void startNode(String id) throws Exception {
    addNode(id);
  }

  @Override
  public void crashNode(String id) throws InterruptedException {
    kill(id);
  }

  @Override
  public void recoverNode(String id) throws Exception {
    restart(id);
  }

  @Override
  public void awaitNodeState(String id, io.shardcluster.client.NodeState state) {
    await()
        .atMost(START_TIMEOUT)
        .pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(
            () -> {
              try (ShardClient client = client()) {
                return client.admin().nodes().nodes().stream()
                    .anyMatch(n -> n.id().equals(id) && n.state() == state);
              }
            });
  }

  @Override
  public void awaitSettled() {
    awaitSettled(Duration.ofMinutes(2));
  }

  @Override
  public Map<String, Set<String>> keysByNode(String keyspace) {
    return ownedKeys(keyspace);
  }

  @Override
  public void close() throws Exception {
    clients.forEach(ShardClient::close);
    for (JvmProcess node : nodes.values()) {
      node.kill();
    }
    coordinator.kill();
    // Keep the logs, drop the data: each process's RocksDB directory takes ~75 MB, and a full
    // run starts dozens of clusters.
    try (var entries = Files.list(dir)) {
      for (Path entry : entries.filter(Files::isDirectory).toList()) {
        FileTrees.delete(entry);
      }
    }
  }

  public static String read(Path file) throws IOException {
    return Files.readString(file, StandardCharsets.UTF_8);
  }

  public static void sleepUntil(long nanoTime) throws InterruptedException {
    long wait = nanoTime - System.nanoTime();
    if (wait > 0) {
      TimeUnit.NANOSECONDS.sleep(wait);
    }
  }
}
