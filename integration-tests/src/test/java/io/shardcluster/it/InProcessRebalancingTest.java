package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.shardcluster.client.ClusterHealth;
import io.shardcluster.client.DirectoryChange;
import io.shardcluster.client.KeyValue;
import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.NodeInfo;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.RebalancePlan;
import io.shardcluster.client.ShardClient;
import io.shardcluster.coordinator.CoordinatorConfig;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.server.Failpoints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.IntFunction;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Joins, drains, load balancing and forced removal, on a real cluster in one JVM. */
class InProcessRebalancingTest {
  @TempDir Path dir;
  private InProcessCluster cluster;

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
  private ShardClient startStoppingBeforeCommits(Path release, int maxMigrations) {
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
  private ShardClient startStoppingAt(
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
  private ShardClient startStoppingBeforeFences(Path release) {
    return startStoppingAt(Failpoints.BEFORE_FENCE, release, 4, Duration.ofMillis(500));
  }

  /** Waits until the {@code count} migrations made for {@code reason} all are in CUTOVER. */
  private static void awaitStoppedBeforeCommit(ShardClient client, String reason, int count) {
    MigrationWaits.awaitPhase(client, reason, count, "CUTOVER");
  }

  private ShardClient startWithKeys(int nodes, int keys, boolean balancer) {
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

  private static void assertAllReadable(ShardClient client, int keys) {
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

  @Test
  void join_movesAQuarterOfTheKeys_onlyToTheNewNode() {
    ShardClient client = startWithKeys(3, 6000, false);
    Map<String, List<String>> before = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    Map<String, String> ownerBefore = new HashMap<>();
    before.forEach((node, keys) -> keys.forEach(k -> ownerBefore.put(k, node)));

    cluster.addNode("node-4");
    cluster.awaitMigrations();

    Map<String, List<String>> after = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat((double) after.get("node-4").size() / 6000).isBetween(0.20, 0.30);
    after.forEach(
        (node, keys) ->
            keys.forEach(k -> assertThat(node).as(k).isIn(ownerBefore.get(k), "node-4")));
    for (String node : List.of("node-1", "node-2", "node-3")) {
      // Owned or not: a moved key must not linger on its old node.
      String address = client.refreshRoutingTable().address(node).orElseThrow();
      assertThat(InProcessCluster.storedKeys(address, Keyspace.DEFAULT, "", ""))
          .isEqualTo(after.get(node).size());
    }
    assertAllReadable(client, 6000);
    List<MigrationInfo> done = client.admin().migrations(true);
    assertThat(done)
        .filteredOn(m -> m.reason().equals("join node-4"))
        .hasSize(3)
        .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
  }

  @Test
  void migrationsPastTheirCopy_leaveTheirCopySlotToTheNext() throws Exception {
    // One copy slot, and every migration stops just before its commit while `release` is missing:
    // node-4's join makes six migrations (two keyspaces, three sources), and they all get there
    // only if each gives its slot back once its copy is over.
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeCommits(release, 1);
    client.admin().createKeyspace("empty", "hash");
    List<KeyValue> batch = new ArrayList<>();
    for (int i = 0; i < 3000; i++) {
      batch.add(KeyValue.of("k" + i, "v" + i));
    }
    client.multiPut(batch);
    cluster.awaitMigrations();

    Files.delete(release);
    cluster.startJoining("node-4");
    awaitStoppedBeforeCommit(client, "join node-4", 6);

    Files.createFile(release);
    cluster.awaitMigrations();
    assertAllReadable(client, 3000);
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("join node-4"))
        .hasSize(6)
        .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
  }

  @Test
  void drain_movesEveryKeyAway_andRemovesTheNode() {
    ShardClient client = startWithKeys(3, 3000, false);

    List<MigrationInfo> started = client.admin().drain("node-2");
    assertThat(started).isNotEmpty().allSatisfy(m -> assertThat(m.source()).isEqualTo("node-2"));
    cluster.awaitState("node-2", NodeState.REMOVED);

    assertAllReadable(client, 3000);
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned).doesNotContainKey("node-2");
    assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(3000);
    assertThat(cluster.nodes().get("node-2").share()).isZero();
    NodeInfo removed = cluster.nodes().get("node-2");
    assertThat(removed.keys()).as("a REMOVED node owns no keys").isZero();
    // ... and its last load is history, not a figure to act on.
    assertThat(removed.keysStale()).isFalse();
    assertThat(removed.readsPerSec()).isZero();
    assertThat(removed.writesPerSec()).isZero();
    // Once the nodes have counted again since the move, their counts are exact and not stale.
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              List<NodeInfo> up =
                  cluster.nodes().values().stream().filter(n -> n.state() == NodeState.UP).toList();
              assertThat(up).noneMatch(NodeInfo::keysStale);
              assertThat(up.stream().mapToLong(NodeInfo::keys).sum()).isEqualTo(3000);
            });
  }

  @Test
  void drain_movesKeysOnlyToNodesThatAnswer_andADownNodeCannotBeDrained() {
    ShardClient client = startWithKeys(4, 2000, false);
    cluster.stopNode("node-4");
    cluster.awaitState("node-4", NodeState.DOWN);
    long epoch = client.refreshRoutingTable().epoch();

    // Its keys could only be copied from it.
    assertThatThrownBy(() -> client.admin().drain("node-4"))
        .isInstanceOfSatisfying(
            ShardClusterException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION);
              assertThat(e.getMessage()).contains("it is DOWN").contains("--force");
            });
    assertThat(client.refreshRoutingTable().epoch()).isEqualTo(epoch);
    assertThat(cluster.nodes().get("node-4").state()).isEqualTo(NodeState.DOWN);

    // Moves to the DOWN node would wait for it: node-3's keys go to node-1 and node-2 only.
    double node4Share =
        client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).ring().shares().get("node-4");
    List<MigrationInfo> started = client.admin().drain("node-3");
    assertThat(started)
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.target()).isIn("node-1", "node-2"));
    cluster.awaitState("node-3", NodeState.REMOVED);
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).ring().shares())
        .doesNotContainKey("node-3")
        .containsEntry("node-4", node4Share);
  }

  @Test
  void drainAndMigrationCommands_badInput_isRefusedAndChangesNothing() {
    ShardClient client = startWithKeys(1, 10, false);
    long epoch = client.refreshRoutingTable().epoch();

    assertThatThrownBy(() -> client.admin().drain("node-9"))
        .isInstanceOfSatisfying(
            ShardClusterException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    assertThatThrownBy(() -> client.admin().drain("node-1")).hasMessageContaining("last node");
    assertThatThrownBy(() -> client.admin().cancelMigration("m424242"))
        .isInstanceOfSatisfying(
            ShardClusterException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    assertThatThrownBy(() -> client.admin().removeNode("node-1", false))
        .hasMessageContaining("--force");
    assertThat(client.refreshRoutingTable().epoch()).isEqualTo(epoch);
    assertThat(cluster.nodes().get("node-1").state()).isEqualTo(NodeState.UP);
  }

  @Test
  void rebalance_tenantsPinnedToOneNode_movesWholeTenantsUntilEven() {
    cluster =
        new InProcessCluster(dir, InProcessCluster.config(dir, false, Duration.ofMillis(500)));
    for (int i = 1; i <= 3; i++) {
      cluster.addNode("node-" + i);
    }
    ShardClient client = cluster.client();
    for (String tenant : List.of("acme", "globex", "initech", "umbrella")) {
      client
          .admin()
          .setDirectoryEntry((tenant + ":").getBytes(StandardCharsets.UTF_8), true, "node-1");
    }
    client.refreshRoutingTable();
    List<KeyValue> batch = new ArrayList<>();
    for (String tenant : List.of("acme", "globex", "initech", "umbrella")) {
      for (int i = 0; i < 1000; i++) {
        batch.add(KeyValue.of(tenant + ":" + i, "x"));
      }
    }
    for (int i = 0; i < 900; i++) {
      batch.add(KeyValue.of("k" + i, "v" + i));
    }
    client.multiPut(batch);
    // Wait until every node has counted its keys: the plan is made from those counts.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                cluster.nodes().get("node-1").keys() >= 4000
                    && cluster.nodes().values().stream().mapToLong(n -> n.keys()).sum() == 4900);

    RebalancePlan plan = client.admin().rebalance(true);
    assertThat(plan.maxOverMeanBefore()).isGreaterThan(2);
    assertThat(plan.maxOverMeanAfter()).isLessThan(1.35);
    assertThat(plan.started()).isEmpty();
    assertThat(client.admin().migrations(false)).isEmpty();
    // The balancer is off here: health says what waits for an operator.
    ClusterHealth.Check balance = healthCheck(client, "balance");
    assertThat(balance.status()).isEqualTo(ClusterHealth.Status.WARN);
    assertThat(balance.detail())
        .startsWith("node-1 holds the most")
        .contains("the automatic balancer is off: `shardctl rebalance` would make it");

    RebalancePlan started = client.admin().rebalance(false);
    assertThat(started.started()).isNotEmpty();
    cluster.awaitMigrations();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              var nodes = cluster.nodes().values();
              long max = nodes.stream().mapToLong(n -> n.keys()).max().orElse(0);
              long sum = nodes.stream().mapToLong(n -> n.keys()).sum();
              return sum == 4900 && max <= 1.35 * sum / 3;
            });
    assertThat(client.get("globex:7")).contains("x");
    assertThat(client.get("k5")).contains("v5");
    // Whole tenants of 1,000 keys leave it near, not at, the mean: no longer worth a move.
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(healthCheck(client, "balance"))
                    .satisfies(c -> assertThat(c.status()).isEqualTo(ClusterHealth.Status.OK))
                    .satisfies(c -> assertThat(c.detail()).doesNotContain("predate")));
  }

  /** Health's check of that name, as it is now. */
  private static ClusterHealth.Check healthCheck(ShardClient client, String name) {
    return client.admin().health().checks().stream()
        .filter(c -> c.name().equals(name))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void removeForce_givesTheNodesPositionsAway_withoutItsData() {
    ShardClient client = startWithKeys(3, 600, false);
    List<String> lost = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT).get("node-3");

    var removed = client.admin().removeNode("node-3", true);

    assertThat(removed.shareLost()).isBetween(0.3, 0.34);
    assertThat(cluster.nodes().get("node-3").state()).isEqualTo(NodeState.REMOVED);
    RoutingTable table = client.refreshRoutingTable();
    assertThat(table.nodeAddresses()).doesNotContainKey("node-3");
    assertThat(client.get(lost.get(0))).isEmpty();
    assertThat(
            client.get(
                ByteString.copyFromUtf8(
                        InProcessCluster.ownedKeys(client, Keyspace.DEFAULT).get("node-1").get(0))
                    .toStringUtf8()))
        .isPresent();
  }

  @Test
  void directoryMove_movesAnEntrysKeysUnderWrites_andSwitchesTheEntryAtTheCommit()
      throws Exception {
    ShardClient client = startWithKeys(3, 0, false);
    byte[] prefix = "acme:".getBytes(StandardCharsets.UTF_8);
    client.admin().setDirectoryEntry(prefix, true, "node-1");
    int keys = 500;
    AtomicLongArray acked = new AtomicLongArray(keys);
    for (int i = 0; i < keys; i++) {
      client.put("acme:" + i, "0");
      client.put("other:" + i, "x");
    }
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    Thread writer =
        new Thread(
            () -> {
              for (long round = 1; !stop.get(); round++) {
                for (int i = 0; i < keys && !stop.get(); i++) {
                  try {
                    client.put("acme:" + i, Long.toString(round));
                    acked.set(i, round);
                  } catch (RuntimeException e) {
                    errors.add(e);
                  }
                }
              }
            });
    writer.start();

    MigrationInfo move = client.admin().moveDirectoryEntry("default", prefix, true, "node-2");
    assertThat(move.source()).isEqualTo("node-1");
    assertThat(move.target()).isEqualTo("node-2");
    assertThat(move.what()).isEqualTo("prefix acme:");
    cluster.awaitMigrations();
    stop.set(true);
    writer.join();

    assertThat(errors).isEmpty();
    RoutingTable table = client.refreshRoutingTable();
    assertThat(table.keyspace(Keyspace.DEFAULT).directory().entries())
        .extracting(io.shardcluster.routing.DirectoryEntry::owner)
        .containsExactly("node-2");
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned.get("node-2").stream().filter(k -> k.startsWith("acme:"))).hasSize(keys);
    assertThat(
            InProcessCluster.storedKeys(
                table.address("node-1").orElseThrow(), Keyspace.DEFAULT, "acme:", "acme;"))
        .isZero();
    for (int i = 0; i < keys; i++) {
      assertThat(Long.parseLong(client.get("acme:" + i).orElseThrow()))
          .as("acme:%d", i)
          .isGreaterThanOrEqualTo(acked.get(i));
      assertThat(client.get("other:" + i)).contains("x");
    }

    assertThatThrownBy(() -> client.admin().moveDirectoryEntry("default", prefix, true, "node-2"))
        .hasMessageContaining("already on node-2");
    assertThatThrownBy(() -> client.admin().moveDirectoryEntry("default", prefix, true, "node-9"))
        .hasMessageContaining("no node named node-9");
    assertThatThrownBy(
            () ->
                client
                    .admin()
                    .moveDirectoryEntry(
                        "default", "nope".getBytes(StandardCharsets.UTF_8), false, "node-3"))
        .hasMessageContaining("no directory entry for key 'nope'");
  }

  @Test
  void directorySet_onStoredKeys_movesThemToTheEntrysNode_underWritesAndCounts() throws Exception {
    ShardClient client = startWithKeys(3, 0, false);
    client.admin().setDirectoryEntry(bytes("acme:"), true, "node-1");
    List<String> written = new ArrayList<>();
    for (int i = 0; i < 250; i++) {
      written.add("acme:" + i);
      written.add("other:" + i);
    }
    for (int i = 0; i < 50; i++) {
      written.add("acme:vip:" + i);
    }
    written.add("hot");
    for (String key : written) {
      client.put(key, "0");
    }
    // Written on: the pinned key and the nested prefix's keys, each with increasing values.
    List<String> moving =
        written.stream().filter(k -> k.equals("hot") || k.startsWith("acme:vip:")).toList();
    AtomicLongArray acked = new AtomicLongArray(moving.size());
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    List<Long> counts = new CopyOnWriteArrayList<>();
    Thread writer =
        new Thread(
            () -> {
              for (long round = 1; !stop.get(); round++) {
                for (int i = 0; i < moving.size() && !stop.get(); i++) {
                  try {
                    client.put(moving.get(i), Long.toString(round));
                    acked.set(i, round);
                  } catch (RuntimeException e) {
                    errors.add(e);
                  }
                }
              }
            });
    Thread counter =
        new Thread(
            () -> {
              while (!stop.get()) {
                try {
                  counts.add(
                      client
                          .query("SELECT COUNT(*) FROM default")
                          .rows()
                          .get(0)
                          .get(0)
                          .longValue());
                } catch (RuntimeException e) {
                  errors.add(e);
                }
              }
            });
    writer.start();
    counter.start();

    // An exact key: it moves from its ring owner.
    String ringOwner = client.route(bytes("hot")).owner();
    String pinTo = ringOwner.equals("node-3") ? "node-2" : "node-3";
    DirectoryChange pinned = client.admin().setDirectoryEntry(bytes("hot"), false, pinTo);
    assertThat(pinned.migrations())
        .singleElement()
        .extracting(m -> m.source() + " -> " + m.target())
        .isEqualTo(ringOwner + " -> " + pinTo);
    cluster.awaitMigrations();
    // A prefix inside another prefix entry: its keys move from that entry's node.
    DirectoryChange nested = client.admin().setDirectoryEntry(bytes("acme:vip:"), true, "node-3");
    assertThat(nested.migrations()).singleElement().extracting(m -> m.source()).isEqualTo("node-1");
    cluster.awaitMigrations();
    long settledCounts = counts.size();
    await().atMost(Duration.ofSeconds(30)).until(() -> counts.size() > settledCounts);
    stop.set(true);
    writer.join();
    counter.join();

    assertThat(errors).isEmpty();
    assertThat(counts)
        .isNotEmpty()
        .allSatisfy(count -> assertThat(count).isEqualTo(written.size()));
    RoutingTable table = client.refreshRoutingTable();
    assertThat(table.keyspace(Keyspace.DEFAULT).directory().entries())
        .extracting(Object::toString)
        .containsExactlyInAnyOrder(
            "prefix acme: -> node-1", "prefix acme:vip: -> node-3", "key hot -> " + pinTo);
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned.get(pinTo)).contains("hot");
    assertThat(owned.get("node-3").stream().filter(k -> k.startsWith("acme:vip:"))).hasSize(50);
    assertThat(owned.get("node-1").stream().filter(k -> k.startsWith("acme:"))).hasSize(250);
    String ringAddress = table.address(ringOwner).orElseThrow();
    assertThat(InProcessCluster.storedKeys(ringAddress, Keyspace.DEFAULT, "hot", "hot\0")).isZero();
    assertThat(
            InProcessCluster.storedKeys(
                table.address("node-1").orElseThrow(), Keyspace.DEFAULT, "acme:vip:", "acme:vip;"))
        .isZero();
    for (int i = 0; i < moving.size(); i++) {
      assertThat(Long.parseLong(client.get(moving.get(i)).orElseThrow()))
          .as(moving.get(i))
          .isGreaterThanOrEqualTo(acked.get(i));
    }

    // Pinning a key where it is moves nothing.
    String otherOwner = client.route(bytes("other:7")).owner();
    DirectoryChange inPlace = client.admin().setDirectoryEntry(bytes("other:7"), false, otherOwner);
    assertThat(inPlace.migrations()).isEmpty();
    assertThat(inPlace.epoch()).isGreaterThan(table.epoch());

    // Unpinning moves the key back to its ring owner; that migration's commit removes the entry.
    DirectoryChange unpinned = client.admin().removeDirectoryEntry(bytes("hot"), false);
    assertThat(unpinned.migrations())
        .singleElement()
        .extracting(m -> m.source() + " -> " + m.target())
        .isEqualTo(pinTo + " -> " + ringOwner);
    cluster.awaitMigrations();
    assertThat(InProcessCluster.ownedKeys(client, Keyspace.DEFAULT).get(ringOwner)).contains("hot");
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries())
        .extracting(Object::toString)
        .doesNotContain("key hot -> " + ringOwner);
    assertThat(client.route(bytes("hot")).directoryEntry()).isEmpty();
    for (String key : written) {
      assertThat(client.get(key)).as(key).isPresent();
    }
  }

  /**
   * New keys written one after another while COUNT(*) runs all along: each count must lie between
   * the keys acknowledged before it and those acknowledged after it (one writer: at most one more
   * in flight), so that each key counts once though it moves.
   */
  private static final class WritesAndCounts implements AutoCloseable {
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

  @Test
  void directorySet_onPrefixesTheRingSpreads_movesTheirKeysFromEveryNode_withNewKeysWritten()
      throws Exception {
    ShardClient client = startWithKeys(3, 0, false);
    for (int i = 0; i < 300; i++) {
      client.put("t:" + i, "0");
    }
    // New keys under both prefixes all along: each acknowledged one must end on the entry's node,
    // including any written between the placement's look at the stored keys and its commit.
    WritesAndCounts load =
        new WritesAndCounts(client, 300, n -> (n % 2 == 0 ? "t:new:" : "u:") + n);
    load.awaitMore();

    // Stored keys on every node: one migration from each other node, committed together.
    DirectoryChange spread = client.admin().setDirectoryEntry(bytes("t:"), true, "node-1");
    assertThat(spread.migrations())
        .extracting(m -> m.source() + " -> " + m.target())
        .containsExactlyInAnyOrder("node-2 -> node-1", "node-3 -> node-1");
    cluster.awaitMigrations();
    List<String> ids = spread.migrations().stream().map(MigrationInfo::id).toList();
    List<MigrationInfo> ended =
        client.admin().migrations(true).stream().filter(m -> ids.contains(m.id())).toList();
    assertThat(ended).extracting(MigrationInfo::phase).containsExactly("DONE", "DONE");
    assertThat(ended)
        .extracting(MigrationInfo::committedMillis)
        .containsOnly(ended.get(0).committedMillis());
    // The same for a prefix whose keys are being written.
    DirectoryChange written = client.admin().setDirectoryEntry(bytes("u:"), true, "node-2");
    assertThat(written.migrations()).hasSize(2);
    cluster.awaitMigrations();
    // A prefix nobody writes: in effect on return, without any key stored anywhere.
    DirectoryChange empty = client.admin().setDirectoryEntry(bytes("v:"), true, "node-3");
    assertThat(empty.inEffect()).isTrue();
    assertThat(empty.migrations()).hasSize(2);
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries())
        .extracting(Object::toString)
        .contains("prefix v: -> node-3");
    load.awaitMore();
    load.close();

    RoutingTable table = client.refreshRoutingTable();
    assertThat(table.keyspace(Keyspace.DEFAULT).directory().entries())
        .extracting(Object::toString)
        .containsExactlyInAnyOrder(
            "prefix t: -> node-1", "prefix u: -> node-2", "prefix v: -> node-3");
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    List<String> expectedOnNode1 = new ArrayList<>();
    List<String> expectedOnNode2 = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      expectedOnNode1.add("t:" + i);
    }
    for (String key : load.acked) {
      (key.startsWith("t:") ? expectedOnNode1 : expectedOnNode2).add(key);
    }
    assertThat(owned.get("node-1")).containsExactlyInAnyOrderElementsOf(expectedOnNode1);
    assertThat(owned.get("node-2")).containsExactlyInAnyOrderElementsOf(expectedOnNode2);
    assertThat(owned.getOrDefault("node-3", List.of())).isEmpty();
    // Nothing left behind on the nodes the keys came from.
    for (String node : List.of("node-1", "node-2", "node-3")) {
      String address = table.address(node).orElseThrow();
      long t = InProcessCluster.storedKeys(address, Keyspace.DEFAULT, "t:", "t;");
      long u = InProcessCluster.storedKeys(address, Keyspace.DEFAULT, "u:", "u;");
      assertThat(t).as(node + " t:").isEqualTo(node.equals("node-1") ? expectedOnNode1.size() : 0);
      assertThat(u).as(node + " u:").isEqualTo(node.equals("node-2") ? expectedOnNode2.size() : 0);
    }
  }

  @Test
  void directorySet_aMemberCancelledJustBeforeTheCommit_rollsBackTheWholeGroup() throws Exception {
    // Every migration stops, fenced and checked, just before its commit while `release` is missing.
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeCommits(release, 4);
    writeTenantKeys(client);
    RoutingTable before = client.refreshRoutingTable();
    Map<String, List<String>> ownedBefore = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);

    DirectoryChange placing = placeTenantStopped(client, release);
    String cancelled = placing.migrations().get(1).id();
    client.admin().cancelMigration(cancelled);
    Files.createFile(release);
    cluster.awaitMigrations();

    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("directory set"))
        .extracting(m -> m.id() + " " + m.phase())
        .containsExactlyInAnyOrder(
            placing.migrations().get(0).id() + " CANCELLED", cancelled + " CANCELLED");
    RoutingTable after = client.refreshRoutingTable();
    assertThat(after.keyspace(Keyspace.DEFAULT).directory().entries()).isEmpty();
    assertThat(after.epoch()).isEqualTo(before.epoch());
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    for (String node : List.of("node-1", "node-2", "node-3")) {
      assertThat(owned.get(node))
          .as(node)
          .containsExactlyInAnyOrderElementsOf(ownedBefore.get(node));
      assertThat(
              InProcessCluster.storedKeys(
                  after.address(node).orElseThrow(), Keyspace.DEFAULT, "t:", "t;"))
          .as(node)
          .isEqualTo(owned.get(node).size());
    }
    for (int i = 0; i < 300; i++) {
      assertThat(client.get("t:" + i)).contains("v" + i);
    }
  }

  @Test
  void changesAskedForWhileMigrationsRun_waitForThemWithinTheirDeadline() throws Exception {
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeCommits(release, 4);
    for (int i = 0; i < 300; i++) {
      client.put("k" + i, "v" + i);
    }
    Files.delete(release);
    cluster.startJoining("node-4");
    awaitStoppedBeforeCommit(client, "join node-4", 3);

    // A change that cannot wait long enough is refused as before, and changes nothing.
    long epoch = client.refreshRoutingTable().epoch();
    ShardClient hasty = cluster.client(Duration.ofMillis(1500));
    assertThatThrownBy(() -> hasty.admin().drain("node-2"))
        .isInstanceOfSatisfying(
            ShardClusterException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION);
              assertThat(e.getMessage()).contains("migration(s) in progress");
            });
    assertThat(client.refreshRoutingTable().epoch()).isEqualTo(epoch);
    assertThat(cluster.nodes().get("node-2").state()).isEqualTo(NodeState.UP);

    // One that can waits for the join, then goes ahead.
    List<String> log = new CopyOnWriteArrayList<>();
    Handler handler =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            log.add(record.getMessage());
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Logger coordinatorLog = Logger.getLogger("io.shardcluster.coordinator.Cluster");
    coordinatorLog.addHandler(handler);
    try {
      ShardClient patient = cluster.client(Duration.ofSeconds(60));
      CompletableFuture<DirectoryChange> pinning =
          CompletableFuture.supplyAsync(
              () -> patient.admin().setDirectoryEntry(bytes("k7"), false, "node-4"));
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(20))
          .until(
              () -> log.contains("directory set: waiting for the migrations in progress to end"));
      assertThat(pinning).isNotDone();
      Files.createFile(release);
      DirectoryChange pinned = pinning.get(60, TimeUnit.SECONDS);
      assertThat(client.admin().migrations(true))
          .filteredOn(m -> m.reason().equals("join node-4"))
          .hasSize(3)
          .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
      cluster.awaitMigrations();
      assertThat(pinned.epoch()).isGreaterThan(epoch);
      assertThat(client.route(bytes("k7")).owner()).isEqualTo("node-4");
      assertThat(client.get("k7")).contains("v7");
    } finally {
      coordinatorLog.removeHandler(handler);
    }
  }

  /** A directory change whose move a failure rolled back, with its source and target. */
  private record RolledBackPinning(
      ShardClient client, String source, String target, MigrationInfo rolledBack, long epoch) {}

  /**
   * Pins key "pinned" (value v0) on the node that does not own it, and stops that node (the target)
   * once the source has fenced: the cutover is held up, and rolled back.
   */
  private RolledBackPinning pinThenStopTheTargetAtTheFence() throws Exception {
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

  @Test
  void cutover_whoseTargetStopsAnsweringAfterTheFence_isRolledBack_andTriedAgainOnceItIsBack()
      throws Exception {
    RolledBackPinning pinning = pinThenStopTheTargetAtTheFence();
    ShardClient client = pinning.client();
    String source = pinning.source();
    String target = pinning.target();
    MigrationInfo rolledBack = pinning.rolledBack();
    // The coordinator tries the change again once the target answers: health shows it, as
    // nothing an operator has to do.
    ClusterHealth.Check migrations = healthCheck(client, "migrations");
    assertThat(migrations.status()).isEqualTo(ClusterHealth.Status.OK);
    assertThat(migrations.detail())
        .contains(rolledBack.id() + " (directory set: key pinned) was rolled back")
        .contains("the coordinator tries it again")
        .endsWith("(attempt 2 of 5)");
    assertThat(client.get("pinned")).contains("v0");
    client.put("pinned", "v1");
    assertThat(client.get("pinned")).contains("v1");
    assertThat(client.refreshRoutingTable().epoch()).isEqualTo(pinning.epoch());
    assertThat(client.admin().migrations(false)).isEmpty();

    // A change of another entry made meanwhile, with a migration of its own, does not answer it.
    String elsewhere =
        IntStream.range(0, 100)
            .mapToObj(i -> "elsewhere" + i)
            .filter(k -> !client.route(bytes(k)).owner().equals(target))
            .findFirst()
            .orElseThrow();
    client.put(elsewhere, "e");
    String owner = client.route(bytes(elsewhere)).owner();
    String third =
        Stream.of("node-1", "node-2", "node-3")
            .filter(n -> !n.equals(source) && !n.equals(target))
            .findFirst()
            .orElseThrow();
    DirectoryChange moved =
        client
            .admin()
            .setDirectoryEntry(bytes(elsewhere), false, owner.equals(source) ? third : source);
    assertThat(moved.migrations()).hasSize(1);
    cluster.awaitMigrations();
    assertThat(healthCheck(client, "migrations").detail())
        .contains(rolledBack.id() + " (directory set: key pinned) was rolled back")
        .endsWith("(attempt 2 of 5)");

    // Back, the target gets the key: the change is made by its second try.
    cluster.restartNode(target);
    MigrationInfo retried =
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(50))
            .until(
                () ->
                    client.admin().migrations(true).stream()
                        .filter(m -> m.reason().equals("directory set") && m.attempt() == 2)
                        .findFirst(),
                m -> m.isPresent() && m.get().ended())
            .orElseThrow();
    assertThat(retried.phase()).isEqualTo("DONE");
    assertThat(retried.target()).isEqualTo(target);
    assertThat(client.route(bytes("pinned")).owner()).isEqualTo(target);
    assertThat(client.get("pinned")).contains("v1");
    RoutingTable after = client.refreshRoutingTable();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(
            () ->
                assertThat(
                        InProcessCluster.storedKeys(
                            after.address(source).orElseThrow(),
                            Keyspace.DEFAULT,
                            "pinned",
                            "pinnee"))
                    .isZero());
    assertThat(healthCheck(client, "migrations").status()).isEqualTo(ClusterHealth.Status.OK);
  }

  /**
   * Over 3 s, past the time a second try of the rolled back "directory set" would start (2 s after
   * the first ended, once its nodes answer), none starts.
   */
  private static void assertNoSecondTry(ShardClient client) {
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

  @Test
  void directoryChange_rolledBack_thenAnsweredByAChangeMadeAtOnce_isNotTriedAgain()
      throws Exception {
    RolledBackPinning pinning = pinThenStopTheTargetAtTheFence();
    ShardClient client = pinning.client();
    String source = pinning.source();

    // The operator changes their mind: the key is pinned where it is, which moves nothing.
    DirectoryChange back = client.admin().setDirectoryEntry(bytes("pinned"), false, source);
    assertThat(back.migrations()).isEmpty();
    assertThat(healthCheck(client, "migrations"))
        .isEqualTo(new ClusterHealth.Check("migrations", ClusterHealth.Status.OK, "none running"));
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.id().equals(pinning.rolledBack().id()))
        .singleElement()
        .satisfies(m -> assertThat(m.superseded()).isTrue());

    // The target back, the rolled back change is not made after all.
    cluster.restartNode(pinning.target());
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> cluster.nodes().get(pinning.target()).state() == NodeState.UP);
    assertNoSecondTry(client);
    assertThat(client.route(bytes("pinned")).owner()).isEqualTo(source);
    assertThat(
            client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries().stream()
                .map(DirectoryEntry::owner))
        .containsExactly(source);
    assertThat(client.get("pinned")).contains("v0");
  }

  @Test
  void directoryChange_rolledBack_whoseTargetIsThenRemovedByForce_isNotTriedAgain()
      throws Exception {
    RolledBackPinning pinning = pinThenStopTheTargetAtTheFence();
    ShardClient client = pinning.client();
    String target = pinning.target();

    client.admin().removeNode(target, true);
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(
            () ->
                assertThat(healthCheck(client, "migrations"))
                    .isEqualTo(
                        new ClusterHealth.Check(
                            "migrations",
                            ClusterHealth.Status.OK,
                            "none running; "
                                + pinning.rolledBack().id()
                                + " (directory set: key pinned) was rolled back; not tried again: "
                                + target
                                + " was removed")));
    // The key stays where it was, without an entry; nothing was tried again.
    assertThat(client.route(bytes("pinned")).owner()).isEqualTo(pinning.source());
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries())
        .isEmpty();
    assertThat(client.get("pinned")).contains("v0");
    assertNoSecondTry(client);
  }

  /** Writes k0=v0 ... k{n-1}, spread by the ring over the nodes. */
  private void writeKeys(ShardClient client, int keys) {
    List<KeyValue> batch = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      batch.add(KeyValue.of("k" + i, "v" + i));
    }
    client.multiPut(batch);
    cluster.awaitMigrations();
  }

  @Test
  void drain_whoseCutoverIsRolledBack_triesAgainByItself_andRemovesTheNode() throws Exception {
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeFences(release);
    writeKeys(client, 900);

    Files.delete(release);
    List<MigrationInfo> first = client.admin().drain("node-1");
    assertThat(first).extracting(MigrationInfo::target).containsExactly("node-2", "node-3");
    awaitStoppedBeforeCommit(client, "drain node-1", 2);
    // node-3 is gone once node-1 has fenced: that move is rolled back after the cutover timeout,
    // the other commits.
    cluster.stopNode("node-3");
    Files.createFile(release);
    MigrationInfo rolledBack = awaitFinished(client, first.get(1).id());
    assertThat(rolledBack.phase()).isEqualTo("CANCELLED");
    assertThat(rolledBack.lastError()).contains("cutover was held up");
    assertThat(awaitFinished(client, first.get(0).id()).phase()).isEqualTo("DONE");
    assertThat(cluster.nodes().get("node-1").state()).isEqualTo(NodeState.DRAINING);

    // Nobody runs drain again: the coordinator plans the rest of it after a delay.
    cluster.restartNode("node-3");
    cluster.awaitState("node-1", NodeState.REMOVED);
    assertAllReadable(client, 900);
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned).doesNotContainKey("node-1");
    assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(900);
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("drain node-1") && m.attempt() == 2)
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
  }

  @Test
  void drain_whoseMoveAnOperatorCancels_staysStoppedAndSaysSo_untilRunAgain() throws Exception {
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeCommits(release, 4);
    writeKeys(client, 900);

    Files.delete(release);
    List<MigrationInfo> first = client.admin().drain("node-1");
    awaitStoppedBeforeCommit(client, "drain node-1", 2);
    client.admin().cancelMigration(first.get(1).id());
    Files.createFile(release);
    MigrationInfo cancelled = awaitFinished(client, first.get(1).id());
    assertThat(cancelled.phase()).isEqualTo("CANCELLED");
    assertThat(cancelled.rolledBackByFailure()).isFalse();
    assertThat(awaitFinished(client, first.get(0).id()).phase()).isEqualTo("DONE");

    // Not tried again: the node says what it waits for.
    NodeInfo stopped =
        await()
            .atMost(Duration.ofSeconds(10))
            .pollInterval(Duration.ofMillis(50))
            .until(() -> cluster.nodes().get("node-1"), NodeInfo::stopped);
    assertThat(stopped.state()).isEqualTo(NodeState.DRAINING);
    assertThat(stopped.note())
        .isEqualTo(
            "drain stopped: an operator cancelled one of its moves; run `shardctl drain node-1`"
                + " to go on");
    assertThat(cluster.nodes().get("node-2").note()).isEmpty();
    assertThat(client.admin().migrations(false)).isEmpty();

    client.admin().drain("node-1");
    cluster.awaitState("node-1", NodeState.REMOVED);
    assertThat(cluster.nodes().get("node-1").stopped()).isFalse();
    assertAllReadable(client, 900);
  }

  @Test
  void drain_toANodeThatStaysDown_isRolledBackAfterTheTargetDownTimeout_andFinishesWithoutIt()
      throws Exception {
    cluster =
        new InProcessCluster(
            dir,
            InProcessCluster.config(
                dir,
                4,
                Failpoints.none(),
                CoordinatorConfig.DEFAULT_CUTOVER_TIMEOUT,
                Duration.ofSeconds(3)));
    for (int i = 1; i <= 3; i++) {
      cluster.addNode("node-" + i);
    }
    ShardClient client = cluster.client();
    writeKeys(client, 900);

    // Gone, but not yet DOWN (that takes the 2 s heartbeat timeout): the drain plans a move to it,
    // whose copy cannot start.
    cluster.stopNode("node-3");
    List<MigrationInfo> first = client.admin().drain("node-1");
    MigrationInfo toTheGoneNode =
        first.stream().filter(m -> m.target().equals("node-3")).findFirst().orElseThrow();

    MigrationInfo rolledBack = awaitFinished(client, toTheGoneNode.id());
    assertThat(rolledBack.phase()).isEqualTo("CANCELLED");
    assertThat(rolledBack.lastError()).contains("node-3 was DOWN for over 3 s");
    // The drain tries again, over the nodes that answer.
    cluster.awaitState("node-1", NodeState.REMOVED);
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("drain node-1") && m.attempt() == 2)
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.target()).isEqualTo("node-2"));
    cluster.restartNode("node-3");
    assertAllReadable(client, 900);
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned).doesNotContainKey("node-1");
    assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(900);
  }

  /**
   * Three nodes holding k0..k899; node-4 joins, and is stopped once its three moves have fenced:
   * all three are rolled back. Returns those moves, with node-4 stopped and JOINING.
   */
  private List<MigrationInfo> joinNode4ThenRollItBackWhileItIsAway() throws Exception {
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

  @Test
  void join_whoseCutoversAreRolledBack_triesAgainOnceTheNodeIsBack_andGivesItItsShare()
      throws Exception {
    joinNode4ThenRollItBackWhileItIsAway();
    ShardClient client = cluster.client();
    long epoch = client.refreshRoutingTable().epoch();
    // Not UP with nothing: still joining, and nothing changed owner.
    // Silent, it shows as DOWN; its membership stays JOINING (not UP with nothing).
    NodeInfo silent =
        await()
            .atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofMillis(50))
            .until(() -> cluster.nodes().get("node-4"), n -> n.state() == NodeState.DOWN);
    assertThat(silent.memberState()).isEqualTo(NodeState.JOINING);
    assertThat(cluster.nodes().get("node-4").note())
        .startsWith("a failure rolled back its moves; trying again")
        .endsWith("(attempt 2 of 5)");
    assertThat(client.refreshRoutingTable().epoch()).isEqualTo(epoch);

    // Back, the node gets the moves again and joins with its whole share.
    cluster.restartNode("node-4");
    assertAllReadable(client, 900);
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).ring().shares())
        .hasEntrySatisfying("node-4", share -> assertThat(share).isBetween(0.15, 0.35));
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("join node-4") && m.attempt() == 2)
        .hasSize(3)
        .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
  }

  @Test
  void join_whoseSourceIsDrainedBeforeItsRetry_getsThatShareFromTheNewOwners() throws Exception {
    double planned =
        joinNode4ThenRollItBackWhileItIsAway().stream().mapToDouble(MigrationInfo::share).sum();
    ShardClient client = cluster.client();

    // While node-4 is away, one of its sources is drained: what node-4 was to get from node-1 is
    // now node-2's and node-3's.
    client.admin().drain("node-1");
    cluster.awaitState("node-1", NodeState.REMOVED);
    cluster.restartNode("node-4");
    cluster.awaitState("node-4", NodeState.UP);

    assertThat(
            client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).ring().shares().get("node-4"))
        .isCloseTo(planned, within(1e-9));
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("join node-4") && m.attempt() == 2)
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"))
        .extracting(MigrationInfo::source)
        .containsOnly("node-2", "node-3");
    assertAllReadable(client, 900);
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned).doesNotContainKey("node-1");
    assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(900);
  }

  /** Writes t:0 ... t:299, spread by the ring over the three nodes. */
  private void writeTenantKeys(ShardClient client) {
    for (int i = 0; i < 300; i++) {
      client.put("t:" + i, "v" + i);
    }
    cluster.awaitMigrations();
  }

  /**
   * Lets the stopped coordinator go, places prefix t: on node-1 (one migration from node-2, one
   * from node-3, a commit group) and waits until both are stopped at the failpoint again.
   */
  private static DirectoryChange placeTenantStopped(ShardClient client, Path release)
      throws Exception {
    Files.delete(release);
    DirectoryChange placing = client.admin().setDirectoryEntry(bytes("t:"), true, "node-1");
    assertThat(placing.migrations()).hasSize(2);
    awaitStoppedBeforeCommit(client, "directory set", 2);
    return placing;
  }

  @Test
  void groupCutover_whoseMemberCannotFence_isRolledBack_andTheOtherMembersKeysCanBeWrittenAgain()
      throws Exception {
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeFences(release);
    writeTenantKeys(client);
    RoutingTable before = client.refreshRoutingTable();
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);

    DirectoryChange placing = placeTenantStopped(client, release);
    // node-2's member fences and waits for node-3's, which cannot fence: node-3 is gone.
    cluster.stopNode("node-3");
    Files.createFile(release);

    for (MigrationInfo member : placing.migrations()) {
      assertThat(awaitFinished(client, member.id()).phase()).isEqualTo("CANCELLED");
    }
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("directory set"))
        .extracting(MigrationInfo::lastError)
        .anySatisfy(error -> assertThat(error).contains("cutover was held up"));
    RoutingTable after = client.refreshRoutingTable();
    assertThat(after.epoch()).isEqualTo(before.epoch());
    assertThat(after.keyspace(Keyspace.DEFAULT).directory().entries()).isEmpty();
    // node-2's keys of the prefix are readable and writable again without node-3.
    List<String> onNode2 =
        owned.get("node-2").stream().filter(key -> key.startsWith("t:")).toList();
    assertThat(onNode2).isNotEmpty();
    for (String key : onNode2) {
      client.put(key, "again");
      assertThat(client.get(key)).contains("again");
    }
  }

  /** Waits until the migration is DONE or CANCELLED and returns it. */
  private static MigrationInfo awaitFinished(ShardClient client, String id) {
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

  @Test
  void directoryRemove_ofAPrefixTheRingWouldSpread_movesItsKeysToTheirRingOwners_withNewKeys()
      throws Exception {
    ShardClient client = startWithKeys(3, 0, false);
    assertThat(client.admin().setDirectoryEntry(bytes("t:"), true, "node-1").inEffect()).isTrue();
    for (int i = 0; i < 300; i++) {
      client.put("t:" + i, "0");
    }
    WritesAndCounts load = new WritesAndCounts(client, 300, n -> "t:new:" + n);
    load.awaitMore();

    // Each other node takes the keys the ring gives it; their commit removes the entry.
    DirectoryChange removal = client.admin().removeDirectoryEntry(bytes("t:"), true);
    assertThat(removal.migrations())
        .extracting(m -> m.source() + " -> " + m.target())
        .containsExactlyInAnyOrder("node-1 -> node-2", "node-1 -> node-3");
    cluster.awaitMigrations();
    load.awaitMore();
    load.close();

    RoutingTable table = client.refreshRoutingTable();
    assertThat(table.keyspace(Keyspace.DEFAULT).directory().entries()).isEmpty();
    List<String> expected = new ArrayList<>(load.acked);
    for (int i = 0; i < 300; i++) {
      expected.add("t:" + i);
    }
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned.values().stream().flatMap(List::stream))
        .containsExactlyInAnyOrderElementsOf(expected);
    for (String node : List.of("node-1", "node-2", "node-3")) {
      assertThat(owned.get(node))
          .as(node)
          .allMatch(k -> table.ownerOf(Keyspace.DEFAULT, bytes(k)).equals(node))
          .isNotEmpty();
      // Nothing left behind on node-1.
      assertThat(
              InProcessCluster.storedKeys(
                  table.address(node).orElseThrow(), Keyspace.DEFAULT, "t:", "t;"))
          .as(node)
          .isEqualTo(owned.get(node).size());
    }
    // An entry with nothing stored goes in effect on return.
    assertThat(client.admin().setDirectoryEntry(bytes("v:"), true, "node-2").inEffect()).isTrue();
    DirectoryChange emptyRemoval = client.admin().removeDirectoryEntry(bytes("v:"), true);
    assertThat(emptyRemoval.inEffect()).isTrue();
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries())
        .isEmpty();
  }

  private static byte[] bytes(String key) {
    return key.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void scansDuringAJoin_returnEveryKeyExactlyOnce_inOrder() throws Exception {
    int keys = 3000;
    ShardClient client = startWithKeys(3, keys, false);
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      expected.add("k" + i);
    }
    Collections.sort(expected);
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    AtomicInteger scans = new AtomicInteger();
    AtomicInteger acrossACommit = new AtomicInteger();
    Thread scanner =
        new Thread(
            () -> {
              while (!stop.get()) {
                RoutingTable tableBefore = client.routingTable();
                List<String> seen = new ArrayList<>();
                try (var rows = client.scan(io.shardcluster.client.ScanOptions.all())) {
                  while (rows.hasNext()) {
                    seen.add(rows.next().keyString());
                  }
                } catch (Exception e) {
                  problems.add("scan failed: " + e);
                }
                if (!seen.equals(expected)) {
                  problems.add(
                      "scan returned "
                          + seen.size()
                          + " keys, "
                          + new HashSet<>(seen).size()
                          + " distinct");
                }
                if (!client.routingTable().keyspaces().equals(tableBefore.keyspaces())) {
                  acrossACommit.incrementAndGet();
                }
                scans.incrementAndGet();
              }
            });
    scanner.start();
    await().atMost(Duration.ofSeconds(30)).until(() -> scans.get() >= 1);
    int before = scans.get();

    cluster.addNode("node-4");
    cluster.awaitState("node-4", NodeState.UP);
    cluster.awaitMigrations();
    // At least one scan that was running while the join committed has finished.
    await().atMost(Duration.ofSeconds(30)).until(() -> scans.get() >= before + 2);
    stop.set(true);
    scanner.join();

    assertThat(problems).isEmpty();
    // Scans run back to back, so the join's commits land inside some of them: those scans had
    // their streams stopped and reopened under the new table, the path this test is about.
    assertThat(acrossACommit.get()).isPositive();
  }
}
