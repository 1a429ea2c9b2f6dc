package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.common.util.concurrent.RateLimiter;
import io.shardcluster.client.ClusterAdmin.KeyspaceInfo;
import io.shardcluster.client.KeyValue;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.ShardClient;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.routing.Grouping;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.ScanOrder;
import io.shardcluster.testing.InProcessCluster;
// Over 500 lines: each keyspace scenario needs a paragraph of set-up and checks.
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Keyspaces on a real cluster in one JVM: separate data, moved by joins and drains, dropped. */
class InProcessKeyspacesTest {
  private static final int KEYS = 2000;

  @TempDir Path dir;
  private InProcessCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private ShardClient start(int nodes) {
    cluster =
        new InProcessCluster(dir, InProcessCluster.config(dir, false, Duration.ofMillis(500)));
    for (int i = 1; i <= nodes; i++) {
      cluster.addNode("node-" + i);
    }
    return cluster.client();
  }

  private static void load(ShardClient client, String valuePrefix) {
    List<KeyValue> batch = new ArrayList<>();
    for (int i = 0; i < KEYS; i++) {
      batch.add(KeyValue.of("k" + i, valuePrefix + i));
    }
    client.multiPut(batch);
  }

  private static void assertValues(ShardClient client, String valuePrefix) {
    List<byte[]> keys = new ArrayList<>();
    for (int i = 0; i < KEYS; i++) {
      keys.add(("k" + i).getBytes(StandardCharsets.UTF_8));
    }
    List<Optional<byte[]>> values = client.multiGet(keys);
    for (int i = 0; i < KEYS; i++) {
      assertThat(values.get(i).map(v -> new String(v, StandardCharsets.UTF_8)))
          .as("%s k%d", client.keyspaceName(), i)
          .contains(valuePrefix + i);
    }
  }

  @Test
  void keyspacesHoldSeparateData_andJoinsAndDrainsMoveEveryKeyspace() {
    ShardClient client = start(3);
    client.admin().createKeyspace("users", "hash");
    ShardClient users = client.keyspace("users");
    load(client, "default-");
    load(users, "users-");
    assertThat(client.admin().keyspaces())
        .extracting(KeyspaceInfo::name)
        .containsExactly("default", "users");

    cluster.addNode("node-4");
    cluster.awaitState("node-4", NodeState.UP);
    cluster.awaitMigrations();

    for (String keyspace : List.of("default", "users")) {
      Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, keyspace);
      assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(KEYS);
      assertThat((double) owned.get("node-4").size() / KEYS).as(keyspace).isBetween(0.15, 0.35);
    }
    assertValues(client, "default-");
    assertValues(users, "users-");

    client.admin().drain("node-2");
    cluster.awaitState("node-2", NodeState.REMOVED);
    cluster.awaitMigrations();

    for (String keyspace : List.of("default", "users")) {
      Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, keyspace);
      assertThat(owned).doesNotContainKey("node-2");
      assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(KEYS);
    }
    assertValues(client, "default-");
    assertValues(users, "users-");
  }

  @Test
  void drop_deletesTheKeysOnEveryNode_andTheNameIsNotReused() {
    ShardClient client = start(3);
    client.admin().createKeyspace("tmp", "hash");
    load(client.keyspace("tmp"), "tmp-");
    load(client, "default-");
    Map<String, String> addresses = client.refreshRoutingTable().nodeAddresses();
    assertThat(
            addresses.values().stream()
                .mapToLong(a -> InProcessCluster.storedKeys(a, "tmp", "", ""))
                .sum())
        .isEqualTo(KEYS);

    client.admin().dropKeyspace("tmp");

    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(
                        addresses.values().stream()
                            .mapToLong(a -> InProcessCluster.storedKeys(a, "tmp", "", ""))
                            .sum())
                    .isZero());
    assertThatThrownBy(() -> client.keyspace("tmp"))
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining("no keyspace named 'tmp'");
    assertThatThrownBy(() -> client.admin().createKeyspace("tmp", "hash"))
        .hasMessageContaining("names are not reused");
    assertValues(client, "default-");
  }

  @Test
  void badInput_isRefusedWithTheRightCode_andChangesNothing() {
    ShardClient client = start(1);
    long epoch = client.refreshRoutingTable().epoch();

    assertThat(code(() -> client.admin().createKeyspace("Bad!", "hash")))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> client.admin().createKeyspace("x", "chord")))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(
            code(
                () ->
                    client
                        .admin()
                        .createKeyspace(
                            "x", "hash", List.of(), ":".getBytes(StandardCharsets.UTF_8))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> client.admin().groups("default", new byte[0], 10)))
        .isEqualTo(ErrorCode.FAILED_PRECONDITION);
    assertThat(code(() -> client.admin().groupOwner("nope", new byte[] {1})))
        .isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(code(() -> client.admin().createKeyspace("default", "hash")))
        .isEqualTo(ErrorCode.ALREADY_EXISTS);
    assertThat(code(() -> client.admin().dropKeyspace("default")))
        .isEqualTo(ErrorCode.FAILED_PRECONDITION);
    assertThat(code(() -> client.admin().dropKeyspace("nope"))).isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(code(() -> client.keyspace("nope"))).isEqualTo(ErrorCode.NOT_FOUND);

    assertThat(client.refreshRoutingTable().epoch()).isEqualTo(epoch);
    assertThat(client.admin().keyspaces())
        .extracting(KeyspaceInfo::name)
        .containsExactly("default");
  }

  @Test
  void directoryKeyspace_placesGroupsOnFirstWrite_movesAGroupUnderWrites_andDrains()
      throws Exception {
    ShardClient client = start(3);
    client.admin().createKeyspace("tenants", "directory");
    ShardClient tenants = client.keyspace("tenants");

    // Concurrent first writes of one group, from separate clients, agree on one placement.
    int writers = 8;
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    for (int w = 0; w < writers; w++) {
      ShardClient own = cluster.client().keyspace("tenants");
      int writer = w;
      Thread thread =
          new Thread(
              () -> {
                try {
                  go.await();
                  for (int i = 0; i < 20; i++) {
                    own.put("acme:w" + writer + ":" + i, "v" + i);
                  }
                } catch (Throwable t) {
                  failures.add(t);
                }
              });
      thread.start();
      threads.add(thread);
    }
    go.countDown();
    for (Thread thread : threads) {
      thread.join(30_000);
    }
    assertThat(failures).isEmpty();
    String acmeOwner =
        client.admin().groupOwner("tenants", "acme".getBytes(StandardCharsets.UTF_8)).orElseThrow();
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, "tenants");
    assertThat(owned.get(acmeOwner)).hasSize(writers * 20);
    assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(writers * 20);
    assertThat(client.admin().keyspaces())
        .filteredOn(k -> k.name().equals("tenants"))
        .singleElement()
        .satisfies(k -> assertThat(k.groupsPerNode()).isEqualTo(Map.of(acmeOwner, 1L)));

    // New groups go to the node with the fewest: twelve groups end four per node.
    for (int g = 1; g < 12; g++) {
      tenants.put("tenant" + g + ":profile", "p" + g);
    }
    var page = client.admin().groups("tenants", new byte[0], 100);
    assertThat(page.total()).isEqualTo(12);
    Map<String, Long> perNode = new HashMap<>();
    page.groups().forEach(g -> perNode.merge(g.owner(), 1L, Long::sum));
    assertThat(perNode)
        .containsOnly(Map.entry("node-1", 4L), Map.entry("node-2", 4L), Map.entry("node-3", 4L));
    assertThat(tenants.route("tenant3:anything".getBytes(StandardCharsets.UTF_8)).group())
        .isEqualTo(com.google.protobuf.ByteString.copyFromUtf8("tenant3"));
    assertThat(tenants.get("nobody:x")).isEmpty();
    assertThat(tenants.route("nobody:x".getBytes(StandardCharsets.UTF_8)).owner()).isEmpty();
    assertThat(client.admin().groupOwner("tenants", "nobody".getBytes(StandardCharsets.UTF_8)))
        .as("a read places nothing")
        .isEmpty();

    // Move a group while its keys are written and read: nothing lost, no errors, all on the target.
    AcknowledgedWorkload workload =
        AcknowledgedWorkload.start(tenants, 600, 4, 2, i -> "big" + (i % 3) + ":k" + i);
    String from =
        client.admin().groupOwner("tenants", "big0".getBytes(StandardCharsets.UTF_8)).orElseThrow();
    String to = from.equals("node-1") ? "node-2" : "node-1";
    await().atMost(Duration.ofSeconds(10)).until(() -> workload.writes() > 500);
    client
        .admin()
        .moveDirectoryEntry("tenants", "big0".getBytes(StandardCharsets.UTF_8), false, to);
    cluster.awaitMigrations();
    await().atMost(Duration.ofSeconds(10)).until(() -> workload.writes() > 2000);
    workload.close();
    assertThat(workload.errors()).as("errors: %s", workload.firstErrors()).isZero();
    assertThat(workload.staleReads()).as("stale: %s", workload.firstErrors()).isZero();
    workload.verify();
    assertThat(client.admin().groupOwner("tenants", "big0".getBytes(StandardCharsets.UTF_8)))
        .contains(to);
    owned = InProcessCluster.ownedKeys(client, "tenants");
    owned.forEach(
        (node, keys) ->
            assertThat(keys.stream().filter(k -> k.startsWith("big0:")).count())
                .as("big0 keys on %s", node)
                .isEqualTo(node.equals(to) ? 200 : 0));

    // Drain a node: its groups go to the others, every key stays readable.
    client.admin().drain("node-2");
    cluster.awaitState("node-2", NodeState.REMOVED);
    cluster.awaitMigrations();
    owned = InProcessCluster.ownedKeys(client, "tenants");
    assertThat(owned).doesNotContainKey("node-2");
    assertThat(owned.values().stream().mapToInt(List::size).sum())
        .isEqualTo(writers * 20 + 11 + 600);
    client
        .admin()
        .groups("tenants", new byte[0], 100)
        .groups()
        .forEach(g -> assertThat(g.owner()).isNotEqualTo("node-2"));
    workload.verify();
    // A directory keyspace scans each group's keys together, in key order, groups by position.
    Keyspace byGroup = Keyspace.directory("tenants", new Grouping(Grouping.DEFAULT_SEPARATOR, 0));
    assertThat(scanKeys(tenants, "", "", 0))
        .hasSize(writers * 20 + 11 + 600)
        .isSortedAccordingTo(
            (a, b) ->
                ScanOrder.compare(
                    byGroup,
                    a.getBytes(StandardCharsets.UTF_8),
                    b.getBytes(StandardCharsets.UTF_8)));

    // Groups are not directory entries of a hash keyspace, and vice versa.
    assertThat(
            code(
                () ->
                    client
                        .admin()
                        .moveDirectoryEntry(
                            "tenants", "never".getBytes(StandardCharsets.UTF_8), false, "node-1")))
        .isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(
            code(
                () ->
                    client
                        .admin()
                        .moveDirectoryEntry(
                            "tenants", "big0".getBytes(StandardCharsets.UTF_8), false, "node-9")))
        .isEqualTo(ErrorCode.NOT_FOUND);
  }

  private static ErrorCode code(Runnable call) {
    try {
      call.run();
    } catch (ShardClusterException e) {
      return e.code();
    }
    throw new AssertionError("expected a ShardClusterException");
  }

  private static List<String> scanKeys(ShardClient client, String from, String to, long limit) {
    List<String> keys = new ArrayList<>();
    try (var rows =
        client.scan(io.shardcluster.client.ScanOptions.all().from(from).to(to).limit(limit))) {
      rows.forEachRemaining(row -> keys.add(row.keyString()));
    }
    return keys;
  }

  @Test
  void rangeKeyspace_placesRangesInTurn_scansInOrderAskingOnlyOverlappingNodes_splitsAndMoves() {
    ShardClient client = start(3);
    client
        .admin()
        .createKeyspace(
            "events",
            "range",
            List.of("g".getBytes(StandardCharsets.UTF_8), "p".getBytes(StandardCharsets.UTF_8)));
    ShardClient events = client.keyspace("events");
    List<String> all = new ArrayList<>();
    for (char c = 'a'; c <= 'z'; c++) {
      for (int i = 0; i < 20; i++) {
        all.add(c + String.format("%03d", i));
      }
    }
    List<KeyValue> batch = new ArrayList<>();
    all.forEach(k -> batch.add(KeyValue.of(k, "v" + k)));
    events.multiPut(batch);

    assertThat(events.route("a000".getBytes(StandardCharsets.UTF_8)).owner()).isEqualTo("node-1");
    assertThat(events.route("h000".getBytes(StandardCharsets.UTF_8)).owner()).isEqualTo("node-2");
    assertThat(events.route("z000".getBytes(StandardCharsets.UTF_8)).owner()).isEqualTo("node-3");
    assertThat(scanKeys(events, "", "", 0)).isEqualTo(all);
    assertThat(scanKeys(events, "f010", "h005", 0))
        .isEqualTo(all.subList(all.indexOf("f010"), all.indexOf("h005")));
    assertThat(scanKeys(events, "c", "", 7))
        .isEqualTo(all.subList(all.indexOf("c000"), all.indexOf("c007")));

    // A scan inside node-1's range asks node-1 only (per-node scan counters) ...
    Map<String, String> addresses = client.refreshRoutingTable().nodeAddresses();
    Map<String, Long> scansBefore = new HashMap<>();
    addresses.forEach(
        (node, address) -> scansBefore.put(node, InProcessCluster.scansServed(address)));
    assertThat(scanKeys(events, "b", "f", 0)).hasSize(4 * 20);
    addresses.forEach(
        (node, address) ->
            assertThat(InProcessCluster.scansServed(address) - scansBefore.get(node))
                .as("scans opened on %s", node)
                .isEqualTo(node.equals("node-1") ? 1 : 0));
    // ... and does not need the other nodes at all: stop them.
    cluster.stopNode("node-2");
    cluster.stopNode("node-3");
    assertThat(scanKeys(events, "b", "f", 0))
        .isEqualTo(all.subList(all.indexOf("b000"), all.indexOf("f000")));
    cluster.restartNode("node-2");
    cluster.restartNode("node-3");

    long before = client.refreshRoutingTable().epoch();
    client.admin().splitRange("events", "m".getBytes(StandardCharsets.UTF_8));
    assertThat(client.refreshRoutingTable().epoch()).isGreaterThan(before);
    assertThat(client.admin().keyspaces())
        .filteredOn(k -> k.name().equals("events"))
        .extracting(KeyspaceInfo::intervals)
        .containsExactly(4);

    cluster.addNode("node-4");
    cluster.awaitState("node-4", NodeState.UP);
    cluster.awaitMigrations();
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, "events");
    assertThat(owned.get("node-4")).isNotEmpty();
    assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(all.size());
    assertThat(scanKeys(events, "", "", 0)).isEqualTo(all);

    client.admin().drain("node-2");
    cluster.awaitState("node-2", NodeState.REMOVED);
    cluster.awaitMigrations();
    owned = InProcessCluster.ownedKeys(client, "events");
    assertThat(owned).doesNotContainKey("node-2");
    assertThat(scanKeys(events, "", "", 0)).isEqualTo(all);
    for (String key : all) {
      assertThat(events.get(key)).contains("v" + key);
    }

    assertThat(
            code(() -> client.admin().splitRange("events", "m".getBytes(StandardCharsets.UTF_8))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(
            code(() -> client.admin().splitRange("default", "m".getBytes(StandardCharsets.UTF_8))))
        .isEqualTo(ErrorCode.FAILED_PRECONDITION);
    assertThat(
            code(
                () ->
                    client
                        .admin()
                        .createKeyspace(
                            "h2", "hash", List.of("m".getBytes(StandardCharsets.UTF_8)))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
  }

  @Test
  void monotonicKeys_rangesSplitAtTheirMedian_andSpreadUntilNoNodeHoldsMuchMoreThanItsShare() {
    cluster =
        new InProcessCluster(dir, InProcessCluster.config(dir, true, Duration.ofMillis(500), 400));
    for (int i = 1; i <= 3; i++) {
      cluster.addNode("node-" + i);
    }
    ShardClient client = cluster.client();
    client.admin().createKeyspace("ticks", "range");
    ShardClient ticks = client.keyspace("ticks");
    // Like timestamps: every key is above all earlier ones, so every write lands in the last range.
    int total = 3000;
    for (int batch = 0; batch < total / 100; batch++) {
      List<KeyValue> rows = new ArrayList<>();
      for (int i = batch * 100; i < (batch + 1) * 100; i++) {
        rows.add(KeyValue.of(String.format("t%08d", i), "x"));
      }
      ticks.multiPut(rows);
    }

    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(
            () -> {
              assertThat(client.admin().migrations(false)).isEmpty();
              Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, "ticks");
              assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(total);
              for (String node : List.of("node-1", "node-2", "node-3")) {
                assertThat(owned.getOrDefault(node, List.of()).size())
                    .as("keys on %s", node)
                    .isBetween(1, (int) (1.2 * total / 3));
              }
            });
    long ranges =
        client.admin().keyspaces().stream()
            .filter(k -> k.name().equals("ticks"))
            .findFirst()
            .orElseThrow()
            .intervals();
    assertThat(ranges).isGreaterThanOrEqualTo(total / 400);
    assertThat(scanKeys(ticks, "", "", 0)).hasSize(total).isSorted();
  }

  @Test
  void hotRange_isSplitWhereItsLoadHalves_andItsHalvesSpreadByLoad() throws Exception {
    cluster =
        new InProcessCluster(
            dir, InProcessCluster.config(dir, true, Duration.ofMillis(500), 0, 300, "ops"));
    cluster.addNode("node-1");
    cluster.addNode("node-2");
    ShardClient client = cluster.client();
    client.admin().createKeyspace("events", "range");
    ShardClient events = client.keyspace("events");
    List<KeyValue> rows = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      rows.add(KeyValue.of(String.format("a%03d", i), "cold"));
      rows.add(KeyValue.of(String.format("z%03d", i), "hot"));
    }
    events.multiPut(rows);
    assertThat(client.admin().keyspaces().get(1).intervals()).isEqualTo(1);

    // A steady 1,000 reads/s on z000..z099 only: the one range takes far more than the split load.
    AtomicBoolean reading = new AtomicBoolean(true);
    AtomicInteger misses = new AtomicInteger();
    Thread reader =
        new Thread(
            () -> {
              RateLimiter rate = RateLimiter.create(1000);
              for (int i = 0; reading.get(); i++) {
                rate.acquire();
                try {
                  if (events.get(String.format("z%03d", i % 100)).isEmpty()) {
                    misses.incrementAndGet();
                  }
                } catch (ShardClusterException e) {
                  misses.incrementAndGet();
                }
              }
            });
    reader.start();
    try {
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(250))
          .untilAsserted(
              () -> {
                List<String> hotOwners = new ArrayList<>();
                for (int i = 0; i < 100; i += 10) {
                  hotOwners.add(
                      events
                          .route(String.format("z%03d", i).getBytes(StandardCharsets.UTF_8))
                          .owner());
                }
                // The hot keys are split apart and served by both nodes...
                assertThat(hotOwners).contains("node-1", "node-2");
              });
    } finally {
      reading.set(false);
      reader.join();
    }
    assertThat(misses).hasValue(0);
    // ...while the thousand cold keys stayed in one range: splits follow the load, not the keys.
    List<String> coldOwners = new ArrayList<>();
    for (int i = 0; i < 1000; i += 100) {
      coldOwners.add(
          events.route(String.format("a%03d", i).getBytes(StandardCharsets.UTF_8)).owner());
    }
    assertThat(coldOwners).containsOnly(coldOwners.get(0));
    assertThat(scanKeys(events, "", "", 0)).hasSize(2000).isSorted();
  }
}
