package io.shardcluster.it;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shardcluster.client.ShardClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A whole cluster of real processes for a test: a coordinator and shard nodes started from the
 * built jars, each on a port picked by the OS at first start and kept across restarts.
 */
final class LocalCluster implements AutoCloseable {
  static final Path ROOT =
      Path.of(System.getProperty("shardcluster.root", "..")).toAbsolutePath().normalize();
  static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  private static final ObjectMapper JSON = new ObjectMapper();

  final Path dir;
  private final JvmProcess coordinator;
  private final Map<String, JvmProcess> nodes = new LinkedHashMap<>();
  private final List<ShardClient> clients = new ArrayList<>();
  private int coordinatorPort;

  private LocalCluster(Path dir) {
    this.dir = dir;
    this.coordinator =
        new JvmProcess(
            "coordinator",
            jar("coordinator"),
            dir,
            List.of(
                "--port",
                "0",
                "--data-dir",
                dir.resolve("coordinator").toString(),
                "--heartbeat-timeout-ms",
                "2000"));
  }

  static Path jar(String module) {
    Path jar = ROOT.resolve(module).resolve("target").resolve(module + ".jar");
    if (!Files.exists(jar)) {
      throw new IllegalStateException(jar + " is missing; build with ./mvnw package first");
    }
    return jar;
  }

  /** Starts a coordinator and {@code nodeCount} nodes, and waits until all nodes are UP. */
  static LocalCluster start(String testName, int nodeCount) throws Exception {
    Path dir =
        ROOT.resolve("integration-tests/target/it-work")
            .resolve(testName + "-" + System.nanoTime());
    Files.createDirectories(dir);
    LocalCluster cluster = new LocalCluster(dir);
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
  JvmProcess addNode(String name) throws Exception {
    JvmProcess node =
        new JvmProcess(
            name,
            jar("shard-node"),
            dir,
            List.of(
                "--id",
                name,
                "--port",
                "0",
                "--data-dir",
                dataDir(name).toString(),
                "--coordinator",
                coordinatorAddress(),
                "--heartbeat-interval-ms",
                "250",
                "--threads",
                "8"));
    nodes.put(name, node);
    node.start();
    int port = node.awaitListening(START_TIMEOUT);
    List<String> args = new ArrayList<>(node.arguments());
    args.set(3, String.valueOf(port));
    node.arguments(args);
    return node;
  }

  Path dataDir(String node) {
    return dir.resolve(node);
  }

  String coordinatorAddress() {
    return "127.0.0.1:" + coordinatorPort;
  }

  int coordinatorPort() {
    return coordinatorPort;
  }

  JvmProcess coordinator() {
    return coordinator;
  }

  JvmProcess node(String name) {
    return nodes.get(name);
  }

  /** SIGKILLs a process (node name or "coordinator"). */
  void kill(String name) throws InterruptedException {
    process(name).kill();
  }

  /** Restarts a killed or stopped process on its data dir and port. */
  void restart(String name) throws Exception {
    JvmProcess process = process(name);
    process.start();
    process.awaitListening(START_TIMEOUT);
  }

  private JvmProcess process(String name) {
    return name.equals("coordinator") ? coordinator : nodes.get(name);
  }

  /** A client of this cluster, closed with it. */
  ShardClient client() {
    ShardClient client =
        ShardClient.builder()
            .coordinator(coordinatorAddress())
            .requestTimeout(Duration.ofSeconds(5))
            .build();
    clients.add(client);
    return client;
  }

  /** Runs shardctl against this cluster. */
  Shardctl.Result shardctl(String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("--coordinator", coordinatorAddress()));
    all.addAll(List.of(args));
    return Shardctl.run(all);
  }

  /** Node id to state, from {@code shardctl nodes --json}. */
  Map<String, String> nodeStates() throws Exception {
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

  void awaitUp(int count) {
    await()
        .atMost(START_TIMEOUT)
        .pollInterval(Duration.ofMillis(250))
        .until(() -> nodeStates().values().stream().filter("UP"::equals).count() == count);
  }

  @Override
  public void close() throws Exception {
    clients.forEach(ShardClient::close);
    for (JvmProcess node : nodes.values()) {
      node.kill();
    }
    coordinator.kill();
  }

  static String read(Path file) throws IOException {
    return Files.readString(file, StandardCharsets.UTF_8);
  }

  static void sleepUntil(long nanoTime) throws InterruptedException {
    long wait = nanoTime - System.nanoTime();
    if (wait > 0) {
      TimeUnit.NANOSECONDS.sleep(wait);
    }
  }
}
