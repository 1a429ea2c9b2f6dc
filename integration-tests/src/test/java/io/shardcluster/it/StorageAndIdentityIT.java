package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.shardcluster.client.ClusterHealth;
import io.shardcluster.client.KeyValueIterator;
import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.ScanOptions;
import io.shardcluster.client.ShardClient;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.testing.JvmProcess;
import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An operator's bad day with the store's own files and identity: a damaged table file, a copy of a
 * live node's data directory, a process started on the other kind's directory. Each fails loudly,
 * and every acknowledged write is either read back right or refused as DATA_LOSS, never served as
 * absent.
 */
class StorageAndIdentityIT {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private LocalCluster cluster;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** Writes keys of 100-byte values in batches and returns what was acknowledged. */
  private static Map<String, String> writeKeys(ShardClient client, int count) {
    Map<String, String> acknowledged = new LinkedHashMap<>();
    for (int start = 0; start < count; start += 500) {
      Map<String, String> batch = new LinkedHashMap<>();
      for (int i = start; i < Math.min(count, start + 500); i++) {
        batch.put("k" + i, ("value-" + i + "-").repeat(20).substring(0, 100));
      }
      client.multiPut(batch);
      acknowledged.putAll(batch);
    }
    return acknowledged;
  }

  private static ErrorCode codeOf(Runnable action) {
    try {
      action.run();
    } catch (ShardClusterException e) {
      return e.code();
    }
    throw new AssertionError("expected a failure");
  }

  /** Overwrites a few stretches in the data part of the file (table files end with their index). */
  private static void damage(Path tableFile) throws IOException {
    try (RandomAccessFile file = new RandomAccessFile(tableFile.toFile(), "rw")) {
      long length = file.length();
      for (double at : new double[] {0.1, 0.3, 0.5}) {
        file.seek((long) (length * at));
        file.write(new byte[64]);
      }
    }
  }

  private static Path largestTableFile(Path db) throws IOException {
    try (Stream<Path> files = Files.list(db)) {
      return files
          .filter(f -> f.getFileName().toString().endsWith(".sst"))
          .max(Comparator.comparingLong(f -> f.toFile().length()))
          .orElseThrow(() -> new AssertionError("no table file in " + db));
    }
  }

  @Test
  void aDamagedTableFile_failsEveryReadOfItWithDataLoss_showsInHealth_andAMoveFromItRollsBack()
      throws Exception {
    cluster = LocalCluster.start("damaged-table-file", 2);
    ShardClient client = cluster.client();
    Map<String, String> acknowledged = writeKeys(client, 5_000);
    // A restart replays the write-ahead log into table files; stopped again, one is damaged.
    cluster.kill("node-1");
    cluster.restart("node-1");
    cluster.awaitUp(2);
    cluster.node("node-1").stop();
    damage(largestTableFile(cluster.dataDir("node-1").resolve("db")));
    cluster.restart("node-1");
    cluster.awaitUp(2);
    client.refreshRoutingTable();

    // Each key is either read back right or refused as DATA_LOSS; none reads as absent.
    List<String> damaged = new ArrayList<>();
    List<byte[]> onNode1 = new ArrayList<>();
    for (Map.Entry<String, String> entry : acknowledged.entrySet()) {
      if (client.route(entry.getKey().getBytes(StandardCharsets.UTF_8)).owner().equals("node-1")) {
        onNode1.add(entry.getKey().getBytes(StandardCharsets.UTF_8));
      }
      try {
        Optional<String> read = client.get(entry.getKey());
        assertThat(read).as(entry.getKey()).contains(entry.getValue());
      } catch (ShardClusterException e) {
        assertThat(e.code())
            .as(entry.getKey() + ": " + e.getMessage())
            .isEqualTo(ErrorCode.DATA_LOSS);
        damaged.add(entry.getKey());
      }
    }
    assertThat(damaged).as("keys refused as damaged").isNotEmpty();
    Shardctl.Result get = cluster.shardctl("get", damaged.get(0));
    assertThat(get.exitCode()).isNotZero();
    assertThat(get.errLines()).hasSize(1);
    assertThat(get.err()).contains("damaged");

    // Every other read path refuses too, instead of leaving the damaged keys out.
    assertThat(codeOf(() -> client.multiGet(onNode1))).isEqualTo(ErrorCode.DATA_LOSS);
    assertThat(
            codeOf(
                () -> {
                  try (KeyValueIterator rows = client.scan(ScanOptions.all())) {
                    rows.forEachRemaining(row -> {});
                  }
                }))
        .isEqualTo(ErrorCode.DATA_LOSS);
    assertThat(codeOf(() -> client.query("SELECT COUNT(*) FROM default")))
        .isEqualTo(ErrorCode.DATA_LOSS);

    // The node reports it; health fails on it.
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              ClusterHealth health = client.admin().health();
              assertThat(health.failed())
                  .anySatisfy(
                      check -> {
                        assertThat(check.name()).isEqualTo("storage");
                        assertThat(check.detail()).startsWith("node-1: ").contains("damaged");
                      });
            });
    Shardctl.Result health = cluster.shardctl("health");
    assertThat(health.exitCode()).isNotZero();
    assertThat(health.out()).contains("storage").contains("node-1");

    // A move out of the damaged node copies no holes: it fails and rolls back, and the target
    // keeps nothing of it.
    long storedOnNode2 = cluster.storedKeys("node-2");
    client.admin().drain("node-1");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(client.admin().migrations(true))
                    .anySatisfy(
                        m -> {
                          assertThat(m.reason()).isEqualTo("drain node-1");
                          assertThat(m.phase()).isEqualTo("CANCELLED");
                          assertThat(m.lastError()).contains("damaged");
                        }));
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(client.admin().migrations(false))
                    .noneMatch(m -> m.reason().equals("drain node-1")));
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("drain node-1"))
        .extracting(MigrationInfo::phase)
        .doesNotContain("COMMITTED", "DONE");
    await().atMost(WAIT).until(() -> cluster.storedKeys("node-2") == storedOnNode2);
    for (byte[] key : onNode1) {
      assertThat(client.route(key).owner()).isEqualTo("node-1");
    }
  }

  @Test
  void aCopyOfALiveNodesDataDirectory_isRefused_andTheNodeKeepsServingAtItsAddress()
      throws Exception {
    cluster = LocalCluster.start("copied-data-dir", 2);
    ShardClient client = cluster.client();
    Map<String, String> acknowledged = writeKeys(client, 1_000);
    String address = client.admin().nodes().nodes().get(0).address();
    cluster.node("node-1").stop();
    Path copy = cluster.dir.resolve("node-1-copy");
    copyTree(cluster.dataDir("node-1"), copy);
    cluster.restart("node-1");
    cluster.awaitUp(2);
    String liveAddress = addressOf(client, "node-1");

    JvmProcess impostor =
        new JvmProcess(
            "node-1-copy",
            LocalCluster.jar("shard-node"),
            cluster.dir,
            List.of(
                "--id", "node-1",
                "--port", "0",
                "--data-dir", copy.toString(),
                "--coordinator", cluster.coordinatorAddress(),
                "--heartbeat-interval-ms", "250"));
    impostor.start();
    assertThat(impostor.awaitExit(WAIT)).isNotZero();
    assertThat(impostor.lastLog()).contains("node node-1 is running at " + liveAddress);

    // Routing never moved: the real node serves every acknowledged key and takes new writes.
    assertThat(addressOf(client, "node-1")).isEqualTo(liveAddress);
    assertThat(address).isNotEmpty();
    client.put("after", "the copy was refused");
    acknowledged.put("after", "the copy was refused");
    for (Map.Entry<String, String> entry : acknowledged.entrySet()) {
      assertThat(client.get(entry.getKey())).as(entry.getKey()).contains(entry.getValue());
    }
    assertThat(cluster.node("node-1").isAlive()).isTrue();
  }

  @Test
  void eachProcess_refusesTheOtherKindsDataDirectory_andWritesNothingIntoIt() throws Exception {
    cluster = LocalCluster.start("wrong-data-dirs", 1);
    Path nodeDir = cluster.dataDir("node-1");
    Path coordinatorDir = cluster.dir.resolve("coordinator");

    JvmProcess coordinatorOnNodeDir =
        new JvmProcess(
            "coordinator-on-node-dir",
            LocalCluster.jar("coordinator"),
            cluster.dir,
            List.of("--port", "0", "--data-dir", nodeDir.toString()));
    coordinatorOnNodeDir.start();
    assertThat(coordinatorOnNodeDir.awaitExit(WAIT)).isNotZero();
    assertThat(coordinatorOnNodeDir.lastLog())
        .contains("data dir " + nodeDir + " belongs to a shard node (it holds IDENTITY)");
    assertThat(nodeDir.resolve("metadata")).doesNotExist();

    JvmProcess nodeOnCoordinatorDir =
        new JvmProcess(
            "node-on-coordinator-dir",
            LocalCluster.jar("shard-node"),
            cluster.dir,
            List.of(
                "--id",
                "node-9",
                "--port",
                "0",
                "--data-dir",
                coordinatorDir.toString(),
                "--coordinator",
                cluster.coordinatorAddress()));
    nodeOnCoordinatorDir.start();
    assertThat(nodeOnCoordinatorDir.awaitExit(WAIT)).isNotZero();
    assertThat(nodeOnCoordinatorDir.lastLog())
        .contains("data dir " + coordinatorDir + " belongs to the coordinator (it holds metadata)");
    assertThat(coordinatorDir.resolve("IDENTITY")).doesNotExist();
    assertThat(coordinatorDir.resolve("db")).doesNotExist();

    // The cluster itself never noticed.
    assertThat(cluster.nodeStates()).containsExactly(Map.entry("node-1", "UP"));
  }

  @Test
  void aCoordinatorOnLostMetadata_isRefusedLoudly_andOneRecoveredFromTheNodes_servesEveryKey()
      throws Exception {
    cluster = LocalCluster.start("lost-coordinator-metadata", 3);
    ShardClient client = cluster.client();
    Map<String, String> acknowledged = writeKeys(client, 2_000);
    String clusterId = client.admin().nodes().clusterId();
    long epoch = client.refreshRoutingTable().epoch();
    Path metadata = cluster.dir.resolve("coordinator");

    // The metadata is lost and a coordinator is started afresh: it is another cluster to the
    // nodes, which say so and keep running; health names them.
    cluster.kill("coordinator");
    deleteTree(metadata);
    cluster.restart("coordinator");
    ShardClient fresh = cluster.client();
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(fresh.admin().health().failed())
                    .anySatisfy(
                        check -> {
                          assertThat(check.name()).isEqualTo("nodes");
                          assertThat(check.detail())
                              .startsWith("refused nodes of another cluster: ")
                              .contains("belongs to cluster " + clusterId);
                        }));
    for (String node : List.of("node-1", "node-2", "node-3")) {
      assertThat(cluster.node(node).isAlive()).as(node).isTrue();
    }

    // Recovered from the nodes instead: the same cluster, a newer epoch, every key.
    cluster.kill("coordinator");
    deleteTree(metadata);
    cluster.restartWith("coordinator", List.of("--recover-from-nodes"));
    cluster.awaitUp(3);
    ShardClient recovered = cluster.client();
    assertThat(recovered.admin().nodes().clusterId()).isEqualTo(clusterId);
    assertThat(recovered.refreshRoutingTable().epoch()).isGreaterThan(epoch);
    recovered.put("after-recovery", "written");
    acknowledged.put("after-recovery", "written");
    for (Map.Entry<String, String> entry : acknowledged.entrySet()) {
      assertThat(recovered.get(entry.getKey())).as(entry.getKey()).contains(entry.getValue());
    }
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }

  @Test
  void aNodeWhoseFilesBecameUnwritable_saysInHealthThatItNeedsARestart_andServesAfterIt()
      throws Exception {
    cluster = LocalCluster.start("unwritable-files", 1);
    ShardClient client = cluster.client();
    client.put("before", "1");
    Path db = cluster.dataDir("node-1").resolve("db");
    List<String> locked = new ArrayList<>();
    try (Stream<Path> files = Files.list(db)) {
      files.filter(f -> f.toString().endsWith(".log")).forEach(f -> locked.add(f.toString()));
    }
    locked.add(db.toString());
    // Tests run as root, whom permissions do not stop; the immutable attribute does.
    assumeTrue(chattr("+i", locked), "chattr +i is not available on this file system");
    try {
      assertThat(codeOf(() -> client.put("during", "refused"))).isEqualTo(ErrorCode.UNAVAILABLE);
    } finally {
      assertThat(chattr("-i", locked)).isTrue();
    }
    // RocksDB stays read-only after the error; the node says so, and reads go on.
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(client.admin().health().failed())
                    .anySatisfy(
                        check -> {
                          assertThat(check.name()).isEqualTo("storage");
                          assertThat(check.detail())
                              .startsWith("node-1: storage refuses writes")
                              .endsWith("(restart it once the cause is fixed)");
                        }));
    assertThat(client.get("before")).contains("1");

    cluster.node("node-1").stop();
    cluster.restart("node-1");
    cluster.awaitUp(1);
    client.put("after", "2");
    assertThat(client.get("before")).contains("1");
    assertThat(client.get("after")).contains("2");
    assertThat(client.admin().health().healthy()).isTrue();
  }

  private static boolean chattr(String change, List<String> paths) throws Exception {
    List<String> command = new ArrayList<>(List.of("chattr", change));
    command.addAll(paths);
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      process.getInputStream().readAllBytes();
      return process.waitFor() == 0;
    } catch (IOException noChattr) {
      return false;
    }
  }

  private static String addressOf(ShardClient client, String node) {
    return client.admin().nodes().nodes().stream()
        .filter(n -> n.id().equals(node))
        .findFirst()
        .orElseThrow()
        .address();
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      for (Path path : (Iterable<Path>) paths::iterator) {
        Path target = to.resolve(from.relativize(path).toString());
        if (Files.isDirectory(path)) {
          Files.createDirectories(target);
        } else {
          Files.copy(path, target);
        }
      }
    }
  }
}
