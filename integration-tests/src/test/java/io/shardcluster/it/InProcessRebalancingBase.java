package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.ClusterHealth;
import io.shardcluster.client.DirectoryChange;
import io.shardcluster.client.KeyValue;
import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.ShardClient;
import io.shardcluster.coordinator.CoordinatorConfig;
import io.shardcluster.server.Failpoints;
import io.shardcluster.testing.InProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the in-process rebalancing tests share: a cluster in a temp directory, started with keys or
 * with failpoints that stop migrations at a phase, and the checks they make.
 */
abstract class InProcessRebalancingBase {
  @TempDir Path dir;
  InProcessCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /**
   * Three nodes, at most {@code maxMigrations} copying at once, and a coordinator that stops every
   * migration just before its commit while {@code release} is missing.
   */
  ShardClient startStoppingBeforeCommits(Path release, int maxMigrations) {
    return startStoppingAt(
        Failpoints.BEFORE_COMMIT,
        release,
        maxMigrations,
        CoordinatorConfig.DEFAULT_CUTOVER_TIMEOUT);
  }

  /**
   * Three nodes and a coordinator that stops every migration at the failpoint while {@code release}
   * is missing, and rolls back cutovers held up for longer than {@code cutoverTimeout}.
   */
  ShardClient startStoppingAt(
      String failpoint, Path release, int maxMigrations, Duration cutoverTimeout) {
    cluster =
        new InProcessCluster(
            dir,
            InProcessCluster.config(
                dir,
                maxMigrations,
                Failpoints.parse(List.of(failpoint + "=pause"), null, release),
                cutoverTimeout));
    for (int i = 1; i <= 3; i++) {
      cluster.addNode("node-" + i);
    }
    return cluster.client();
  }

  /**
   * Three nodes and a coordinator that stops every migration just before its fence while {@code
   * release} is missing, and rolls back cutovers held up for more than half a second.
   */
  ShardClient startStoppingBeforeFences(Path release) {
    return startStoppingAt(Failpoints.BEFORE_FENCE, release, 4, Duration.ofMillis(500));
  }

  /** Waits until the {@code count} migrations made for {@code reason} all are in CUTOVER. */
  static void awaitStoppedBeforeCommit(ShardClient client, String reason, int count) {
    MigrationWaits.awaitPhase(client, reason, count, "CUTOVER");
  }

  ShardClient startWithKeys(int nodes, int keys, boolean balancer) {
    cluster =
        new InProcessCluster(dir, InProcessCluster.config(dir, balancer, Duration.ofMillis(500)));
    for (int i = 1; i <= nodes; i++) {
      cluster.addNode("node-" + i);
    }
    ShardClient client = cluster.client();
    List<KeyValue> batch = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      batch.add(KeyValue.of("k" + i, "v" + i));
      if (batch.size() == 500) {
        client.multiPut(batch);
        batch.clear();
      }
    }
    client.multiPut(batch);
    return client;
  }

  static void assertAllReadable(ShardClient client, int keys) {
    List<byte[]> wanted = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      wanted.add(("k" + i).getBytes(StandardCharsets.UTF_8));
    }
    List<Optional<byte[]>> values = client.multiGet(wanted);
    for (int i = 0; i < keys; i++) {
      assertThat(values.get(i).map(v -> new String(v, StandardCharsets.UTF_8)))
          .as("k%d", i)
          .contains("v" + i);
    }
  }

  /** Health's check of that name, as it is now. */
  static ClusterHealth.Check healthCheck(ShardClient client, String name) {
    return client.admin().health().checks().stream()
        .filter(c -> c.name().equals(name))
        .findFirst()
        .orElseThrow();
  }

  /**
   * New keys written one after another while COUNT(*) runs all along: each count must lie between
   * the keys acknowledged before it and those acknowledged after it (one writer: at most one more
   * in flight), so that each key counts once though it moves.
   */
  static final class WritesAndCounts implements AutoCloseable {
    final List<String> acked = new CopyOnWriteArrayList<>();
    final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    final List<String> countProblems = new CopyOnWriteArrayList<>();
    final AtomicInteger counts = new AtomicInteger();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();

    WritesAndCounts(ShardClient client, long storedBefore, IntFunction<String> keys) {
      threads.add(
          new Thread(
              () -> {
                for (int n = 0; !stop.get(); n++) {
                  try {
                    client.put(keys.apply(n), "1");
                    acked.add(keys.apply(n));
                  } catch (RuntimeException e) {
                    errors.add(e);
                  }
                }
              }));
      threads.add(
          new Thread(
              () -> {
                while (!stop.get()) {
                  try {
                    long before = storedBefore + acked.size();
                    long count =
                        client
                            .query("SELECT COUNT(*) FROM default")
                            .rows()
                            .get(0)
                            .get(0)
                            .longValue();
                    long after = storedBefore + acked.size();
                    if (count < before || count > after + 1) {
                      countProblems.add(count + " not in [" + before + ", " + (after + 1) + "]");
                    }
                    counts.incrementAndGet();
                  } catch (RuntimeException e) {
                    errors.add(e);
                  }
                }
              }));
      threads.forEach(Thread::start);
    }

    /** Waits for some more writes and counts. */
    void awaitMore() {
      long ackedBefore = acked.size();
      int countsBefore = counts.get();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> acked.size() > ackedBefore + 100 && counts.get() > countsBefore);
    }

    @Override
    public void close() throws InterruptedException {
      stop.set(true);
      for (Thread thread : threads) {
        thread.join();
      }
      assertThat(errors).isEmpty();
      assertThat(countProblems).isEmpty();
    }
  }

  /** A directory change whose move a failure rolled back, with its source and target. */
  record RolledBackPinning(
      ShardClient client, String source, String target, MigrationInfo rolledBack, long epoch) {}

  /**
   * Pins key "pinned" (value v0) on the node that does not own it, and stops that node (the target)
   * once the source has fenced: the cutover is held up, and rolled back.
   */
  RolledBackPinning pinThenStopTheTargetAtTheFence() throws Exception {
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeFences(release);
    client.put("pinned", "v0");
    cluster.awaitMigrations();
    long epoch = client.refreshRoutingTable().epoch();
    String source = client.route(bytes("pinned")).owner();
    String target = source.equals("node-1") ? "node-2" : "node-1";

    Files.delete(release);
    DirectoryChange pinning = client.admin().setDirectoryEntry(bytes("pinned"), false, target);
    assertThat(pinning.migrations()).hasSize(1);
    awaitStoppedBeforeCommit(client, "directory set", 1);
    // The source fences; the target, gone, cannot drain: without a timeout the key would stay
    // fenced, unreadable and unwritable, until the target came back.
    cluster.stopNode(target);
    Files.createFile(release);

    MigrationInfo rolledBack = awaitFinished(client, pinning.migrations().get(0).id());
    assertThat(rolledBack.phase()).isEqualTo("CANCELLED");
    assertThat(rolledBack.rolledBackByFailure()).isTrue();
    assertThat(rolledBack.lastError()).contains("cutover was held up").contains(target);
    return new RolledBackPinning(client, source, target, rolledBack, epoch);
  }

  /**
   * Over 3 s, past the time a second try of the rolled back "directory set" would start (2 s after
   * the first ended, once its nodes answer), none starts.
   */
  static void assertNoSecondTry(ShardClient client) {
    await()
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                client.admin().migrations(true).stream()
                    .filter(m -> m.reason().equals("directory set"))
                    .allMatch(m -> m.attempt() == 1));
  }

  /** Writes k0=v0 ... k{n-1}, spread by the ring over the nodes. */
  void writeKeys(ShardClient client, int keys) {
    List<KeyValue> batch = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      batch.add(KeyValue.of("k" + i, "v" + i));
    }
    client.multiPut(batch);
    cluster.awaitMigrations();
  }

  /**
   * Three nodes holding k0..k899; node-4 joins, and is stopped once its three moves have fenced:
   * all three are rolled back. Returns those moves, with node-4 stopped and JOINING.
   */
  List<MigrationInfo> joinNode4ThenRollItBackWhileItIsAway() throws Exception {
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeFences(release);
    writeKeys(client, 900);

    Files.delete(release);
    cluster.startJoining("node-4");
    awaitStoppedBeforeCommit(client, "join node-4", 3);
    List<MigrationInfo> planned =
        client.admin().migrations(false).stream()
            .filter(m -> m.reason().equals("join node-4"))
            .toList();
    cluster.stopNode("node-4");
    Files.createFile(release);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(
            () ->
                assertThat(client.admin().migrations(true))
                    .filteredOn(m -> m.reason().equals("join node-4"))
                    .hasSize(3)
                    .allSatisfy(m -> assertThat(m.phase()).isEqualTo("CANCELLED")));
    return planned;
  }

  /** Writes t:0 ... t:299, spread by the ring over the three nodes. */
  void writeTenantKeys(ShardClient client) {
    for (int i = 0; i < 300; i++) {
      client.put("t:" + i, "v" + i);
    }
    cluster.awaitMigrations();
  }

  /**
   * Lets the stopped coordinator go, places prefix t: on node-1 (one migration from node-2, one
   * from node-3, a commit group) and waits until both are stopped at the failpoint again.
   */
  static DirectoryChange placeTenantStopped(ShardClient client, Path release) throws Exception {
    Files.delete(release);
    DirectoryChange placing = client.admin().setDirectoryEntry(bytes("t:"), true, "node-1");
    assertThat(placing.migrations()).hasSize(2);
    awaitStoppedBeforeCommit(client, "directory set", 2);
    return placing;
  }

  /** Waits until the migration is DONE or CANCELLED and returns it. */
  static MigrationInfo awaitFinished(ShardClient client, String id) {
    return await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () ->
                client.admin().migrations(true).stream()
                    .filter(m -> m.id().equals(id))
                    .findFirst()
                    .orElseThrow(),
            m -> m.phase().equals("DONE") || m.phase().equals("CANCELLED"));
  }

  static byte[] bytes(String key) {
    return key.getBytes(StandardCharsets.UTF_8);
  }
}
