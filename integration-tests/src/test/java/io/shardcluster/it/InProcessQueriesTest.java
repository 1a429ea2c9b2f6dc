package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import io.shardcluster.client.KeyValue;
import io.shardcluster.client.QueryOptions;
import io.shardcluster.client.QueryResult;
import io.shardcluster.client.ShardClient;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.query.KeySpans;
import io.shardcluster.query.Query;
import io.shardcluster.query.QueryMerge;
import io.shardcluster.query.QueryParser;
import io.shardcluster.query.ShardQuery;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.server.Failpoints;
import io.shardcluster.testing.InProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Queries on a real cluster in one JVM: every strategy agrees with evaluating the query over all
 * rows at once, key predicates ask only the owners, counts stay exact while keys move, and a
 * stopped node is named.
 */
class InProcessQueriesTest {
  private static final int DOCS = 400;

  @TempDir Path dir;
  private InProcessCluster cluster;
  private ShardClient client;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private void start(int nodes) {
    cluster =
        new InProcessCluster(dir, InProcessCluster.config(dir, false, Duration.ofMillis(500)));
    for (int i = 1; i <= nodes; i++) {
      cluster.addNode("node-" + i);
    }
    client = cluster.client();
  }

  /** Documents with fields sometimes missing, and every tenth value plain bytes. */
  private static TreeMap<String, String> documents(String keyPrefix) {
    Random random = new Random(7);
    TreeMap<String, String> rows = new TreeMap<>();
    for (int i = 0; i < DOCS; i++) {
      String key = keyPrefix.replace("#", String.valueOf(i % 5)) + String.format("k%04d", i);
      if (i % 10 == 3) {
        rows.put(key, "plain-" + i);
        continue;
      }
      List<String> fields = new ArrayList<>();
      if (random.nextInt(8) > 0) {
        fields.add("\"g\":\"g" + random.nextInt(6) + "\"");
      }
      if (random.nextInt(10) > 0) {
        fields.add("\"x\":" + (random.nextInt(300) - 100));
      }
      fields.add("\"y\":" + random.nextInt(1000) / 10.0);
      fields.add("\"name\":\"n" + random.nextInt(40) + "\"");
      fields.add("\"flag\":" + random.nextBoolean());
      rows.put(key, "{" + String.join(",", fields) + "}");
    }
    return rows;
  }

  private void load(String keyspace, Map<String, String> rows) {
    List<KeyValue> batch = new ArrayList<>();
    rows.forEach((k, v) -> batch.add(KeyValue.of(k, v)));
    client.keyspace(keyspace).multiPut(batch);
  }

  /** h (hash), r (range, three ranges) and d (directory, groups up to ':'). */
  private void createKeyspaces() {
    client.admin().createKeyspace("h", "hash");
    client
        .admin()
        .createKeyspace(
            "r",
            "range",
            List.of(
                "k0130".getBytes(StandardCharsets.UTF_8),
                "k0260".getBytes(StandardCharsets.UTF_8)));
    client
        .admin()
        .createKeyspace("d", "directory", List.of(), ":".getBytes(StandardCharsets.UTF_8));
  }

  /** The query evaluated over all rows at once, as one shard holding everything would. */
  private static List<List<JsonNode>> reference(String sql, Map<String, String> rows) {
    Query query = QueryParser.parse(sql);
    ShardQuery all = new ShardQuery(query);
    for (var row : rows.entrySet()) {
      if (!all.add(
          row.getKey().getBytes(StandardCharsets.UTF_8),
          row.getValue().getBytes(StandardCharsets.UTF_8))) {
        break;
      }
    }
    return QueryMerge.merge(query, List.of(all.result()));
  }

  @Test
  void everyStrategy_answersAsOneShardHoldingEverythingWould() {
    start(3);
    createKeyspaces();
    Map<String, TreeMap<String, String>> data =
        Map.of("h", documents(""), "r", documents(""), "d", documents("t#:"));
    data.forEach(this::load);

    List<String> ordered =
        List.of(
            "SELECT g, COUNT(*), SUM(x), AVG(y), MIN(name), MAX(x) FROM %s GROUP BY g ORDER BY g",
            "SELECT COUNT(*), COUNT(g), SUM(y) FROM %s",
            "SELECT _key, x FROM %s WHERE x IS NOT NULL ORDER BY x DESC, _key LIMIT 10",
            "SELECT _key, name FROM %s WHERE name LIKE 'n1%%' OR flag = true ORDER BY _key",
            "SELECT g, COUNT(*) AS n FROM %s WHERE y BETWEEN 10 AND 60 GROUP BY g"
                + " ORDER BY n DESC, g LIMIT 3");
    List<String> unordered =
        List.of(
            "SELECT * FROM %s WHERE x > 50 AND NOT g IN ('g1', 'g2')",
            "SELECT _key, y FROM %s WHERE g IS NULL OR x < -90",
            "SELECT _key FROM %s WHERE _key >= 'k0100' AND _key < 'k0150'",
            "SELECT _key FROM %s WHERE _key LIKE 't2:%%' AND x != 0");
    data.forEach(
        (keyspace, rows) -> {
          for (String template : ordered) {
            String sql = String.format(template, keyspace);
            assertThat(client.query(sql).rows()).as(sql).isEqualTo(reference(sql, rows));
          }
          for (String template : unordered) {
            String sql = String.format(template, keyspace);
            assertThat(client.query(sql).rows())
                .as(sql)
                .containsExactlyInAnyOrderElementsOf(reference(sql, rows));
          }
        });
    assertThat(client.query("SELECT * FROM h LIMIT 5").rows()).hasSize(5);
    // The range keyspace is in key order across its three nodes without an ORDER BY.
    assertThat(
            client.query("SELECT _key FROM r WHERE _key < 'k0300'").stream()
                .map(r -> r.get(0).textValue())
                .toList())
        .hasSize(300)
        .isSorted();
  }

  @Test
  void keyPredicates_askOnlyTheNodesOwningThoseKeys() {
    start(3);
    createKeyspaces();
    load("h", documents(""));
    load("r", documents(""));
    load("d", documents("t#:"));

    assertAsks("SELECT _key FROM h WHERE _key = 'k0005'", Set.of(owner("h", "k0005")));
    assertAsks(
        "SELECT _key FROM h WHERE _key IN ('k0005', 'k0006')",
        new TreeSet<>(List.of(owner("h", "k0005"), owner("h", "k0006"))));
    assertAsks(
        "SELECT COUNT(*) FROM r WHERE _key >= 'k0000' AND _key < 'k0100'",
        Set.of(owner("r", "k0001")));
    assertAsks("SELECT COUNT(*) FROM d WHERE _key LIKE 't3:%'", Set.of(owner("d", "t3:k0003")));
    assertAsks("SELECT COUNT(*) FROM h WHERE x > 3", Set.of("node-1", "node-2", "node-3"));
    // A span across a range boundary: each owner reads only its part of it.
    String across = "SELECT COUNT(*) FROM r WHERE _key >= 'k0100' AND _key < 'k0200'";
    assertAsks(across, Set.of(owner("r", "k0100"), owner("r", "k0130")));
    assertThat(client.query(across).plan().nodes())
        .isEqualTo(
            Map.of(
                owner("r", "k0100"), List.of(span("k0100", "k0130")),
                owner("r", "k0130"), List.of(span("k0130", "k0200"))));
    assertThat(client.query(across).rows().get(0).get(0).longValue()).isEqualTo(100);
    // The answers are still right.
    assertThat(client.query("SELECT _key FROM h WHERE _key IN ('k0005', 'k0006')").rows())
        .hasSize(2);
    assertThat(
            client
                .query("SELECT COUNT(*) FROM d WHERE _key LIKE 't3:%'")
                .rows()
                .get(0)
                .get(0)
                .longValue())
        .isEqualTo(DOCS / 5);
  }

  private static KeySpans.Span span(String start, String end) {
    return new KeySpans.Span(ByteString.copyFromUtf8(start), ByteString.copyFromUtf8(end));
  }

  private String owner(String keyspace, String key) {
    return client.keyspace(keyspace).route(key.getBytes(StandardCharsets.UTF_8)).owner();
  }

  /** Runs the query and checks which nodes opened scans for it. */
  private void assertAsks(String sql, Set<String> expectedNodes) {
    Set<String> expected = new TreeSet<>(expectedNodes);
    Map<String, String> addresses = client.refreshRoutingTable().nodeAddresses();
    Map<String, Long> before = new HashMap<>();
    addresses.forEach((node, address) -> before.put(node, InProcessCluster.scansServed(address)));
    QueryResult result = client.query(sql);
    result.rows(); // a streamed query runs as it is read
    Set<String> asked = new TreeSet<>();
    addresses.forEach(
        (node, address) -> {
          if (InProcessCluster.scansServed(address) > before.get(node)) {
            asked.add(node);
          }
        });
    assertThat(asked).as(sql).isEqualTo(expected);
    assertThat(result.plan().nodes().keySet()).as(sql).isEqualTo(expected);
  }

  @Test
  void count_staysExactWhileKeysMoveUnderConcurrentInserts() throws Exception {
    start(2);
    List<KeyValue> preload = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      preload.add(KeyValue.of("p" + i, "{\"v\":" + i + "}"));
    }
    for (int i = 0; i < preload.size(); i += 1000) {
      client.multiPut(preload.subList(i, i + 1000));
    }
    AtomicLong started = new AtomicLong(20_000);
    AtomicLong acknowledged = new AtomicLong(20_000);
    AtomicBoolean writing = new AtomicBoolean(true);
    Thread writer =
        new Thread(
            () -> {
              for (int i = 0; writing.get(); i++) {
                started.incrementAndGet();
                client.put("w" + i, "{\"v\":" + i + "}");
                acknowledged.incrementAndGet();
              }
            });
    writer.start();
    int duringMigration = 0;
    int queries = 0;
    try {
      Thread joiner = new Thread(() -> cluster.addNode("node-3"));
      joiner.start();
      // Count until the join and its migrations are over, and a few times after.
      int after = 0;
      while (after < 3) {
        boolean moving = joiner.isAlive() || !client.admin().migrations(false).isEmpty();
        long low = acknowledged.get();
        long count = client.query("SELECT COUNT(*) FROM default").rows().get(0).get(0).longValue();
        long high = started.get();
        assertThat(count).as("count %d while keys move", queries).isBetween(low, high);
        queries++;
        if (moving) {
          duringMigration++;
        } else {
          after++;
        }
      }
      joiner.join();
    } finally {
      writing.set(false);
      writer.join();
    }
    assertThat(client.query("SELECT COUNT(*) FROM default").rows().get(0).get(0).longValue())
        .isEqualTo(acknowledged.get());
    assertThat(duringMigration).as("queries while keys moved").isPositive();
  }

  /**
   * Two nodes; node-1 pauses in each query part (failpoint query.mid-scan) until the returned file
   * exists.
   */
  private Path startWithPausingNode1() {
    Path release = dir.resolve("release-queries");
    cluster =
        new InProcessCluster(dir, InProcessCluster.config(dir, false, Duration.ofMillis(500)));
    cluster.addNode(
        "node-1", Failpoints.parse(List.of(Failpoints.QUERY_MID_SCAN + "=pause"), null, release));
    cluster.addNode("node-2");
    client = cluster.client();
    return release;
  }

  @Test
  void keysMovingDuringANodesPart_areAskedAgainOfTheirNewOwners_andNothingElse() throws Exception {
    // node-1 stops after the first row of each query part until the release file exists.
    Path release = startWithPausingNode1();
    List<byte[]> splits = new ArrayList<>();
    for (int i = 300; i < 3_000; i += 300) {
      splits.add(String.format("k%04d", i).getBytes(StandardCharsets.UTF_8));
    }
    client.admin().createKeyspace("r", "range", splits);
    List<KeyValue> rows = new ArrayList<>();
    for (int i = 0; i < 3_000; i++) {
      rows.add(KeyValue.of(String.format("k%04d", i), "{\"v\":" + i + "}"));
    }
    for (int i = 0; i < rows.size(); i += 1000) {
      client.multiPut(rows.subList(i, i + 1000));
      client.keyspace("r").multiPut(rows.subList(i, i + 1000));
    }
    RoutingTable table = client.refreshRoutingTable();
    Map<String, String> addresses = table.nodeAddresses();
    long node1Scans = InProcessCluster.scansServed(addresses.get("node-1"));
    Map<String, Long> before = new HashMap<>();
    addresses.forEach(
        (node, address) -> before.put(node, InProcessCluster.queriesAnswered(address)));
    // node-2 holds keys of the hash keyspace, and may or may not own a range of r.
    long partsOfNode2 = table.keyspace("r").isOwner("node-2") ? 2 : 1;

    List<CompletableFuture<QueryResult>> queries = new ArrayList<>();
    for (String keyspace : List.of("default", "r")) {
      queries.add(
          CompletableFuture.supplyAsync(
              () -> client.query("SELECT COUNT(*), SUM(v) FROM " + keyspace + " WHERE v >= 0")));
    }
    // Both queries are paused on node-1 and answered by node-2.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                InProcessCluster.scansServed(addresses.get("node-1")) == node1Scans + 2
                    && InProcessCluster.queriesAnswered(addresses.get("node-2"))
                        == before.get("node-2") + partsOfNode2);
    // node-3 joins and takes keys from both nodes while node-1 is in the middle of its parts.
    cluster.addNode("node-3");
    await().atMost(Duration.ofSeconds(30)).until(() -> client.admin().migrations(false).isEmpty());
    Files.createFile(release);

    for (CompletableFuture<QueryResult> query : queries) {
      QueryResult result = query.get(30, TimeUnit.SECONDS);
      assertThat(result.rows().get(0).get(0).longValue()).isEqualTo(3_000);
      assertThat(result.rows().get(0).get(1).longValue()).isEqualTo(2_999L * 3_000 / 2);
    }

    Map<String, String> now = client.refreshRoutingTable().nodeAddresses();
    // node-2's answers at the old epoch stood: it was not asked again. node-1's parts failed and
    // were asked again of the owners of its old share (node-1 and/or node-3), limited to it.
    assertThat(InProcessCluster.queriesAnswered(now.get("node-2")) - before.get("node-2"))
        .isEqualTo(partsOfNode2);
    assertThat(
            InProcessCluster.queriesAnswered(now.get("node-1"))
                - before.get("node-1")
                + InProcessCluster.queriesAnswered(now.get("node-3")))
        .isGreaterThanOrEqualTo(2);
  }

  @Test
  void aStreamedQuery_keepsTheRowsSentBeforeKeysMoved_andReadsEachKeyOnce() throws Exception {
    // node-1 stops after sending the first message of a streamed part until the file exists.
    Path release = startWithPausingNode1();
    List<KeyValue> rows = new ArrayList<>();
    for (int i = 0; i < 4_000; i++) {
      rows.add(KeyValue.of(String.format("k%04d", i), "{\"v\":" + i + "}"));
    }
    for (int i = 0; i < rows.size(); i += 1000) {
      client.multiPut(rows.subList(i, i + 1000));
    }
    String node1 = client.refreshRoutingTable().nodeAddresses().get("node-1");
    long node1Scans = InProcessCluster.scansServed(node1);

    // node-1 sends its first 1,000 rows (of about 2,000), then pauses; node-3 joins meanwhile.
    try (QueryResult streamed = client.query("SELECT _key, v FROM default WHERE v >= 0")) {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> InProcessCluster.scansServed(node1) > node1Scans);
      cluster.addNode("node-3");
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> client.admin().migrations(false).isEmpty());
      Files.createFile(release);

      // node-1's part fails when it goes on; the rows it sent stand, and only its keys after the
      // last one sent are asked again: every key exactly once.
      List<String> keys = new ArrayList<>();
      streamed.forEach(row -> keys.add(row.get(0).textValue()));
      assertThat(keys).hasSize(4_000).doesNotHaveDuplicates();
      assertThat(streamed.isComplete()).isTrue();
    }
    // node-3 joined after the query started, so any part it streamed was node-1's share asked
    // again: without the re-ask, node-1's unsent keys would be missing, not merely late.
    String node3 = client.refreshRoutingTable().nodeAddresses().get("node-3");
    assertThat(InProcessCluster.scansServed(node3)).isPositive();
  }

  @Test
  void documents_roundTripCompacted_andBadDocumentsStoreNothing() {
    start(2);
    ShardClient users = client.keyspace("default");
    users.putDocument("u1", "{ \"name\" : \"ada\", \"age\" : 36, \"a\": {\"b\": [1, 2.5]} }");
    JsonNode u1 = users.getDocument("u1").orElseThrow();
    assertThat(u1.get("name").textValue()).isEqualTo("ada");
    assertThat(u1.get("age").intValue()).isEqualTo(36);
    assertThat(u1.at("/a/b/1").doubleValue()).isEqualTo(2.5);
    // Stored compacted, as the value queries read.
    assertThat(users.get("u1")).contains("{\"name\":\"ada\",\"age\":36,\"a\":{\"b\":[1,2.5]}}");
    List<JsonNode> row = client.query("SELECT name, a.b FROM default WHERE age = 36").rows().get(0);
    assertThat(row.get(0).textValue()).isEqualTo("ada");
    assertThat(row.get(1).toString()).isEqualTo("[1,2.5]");

    // Absent keys and values that are not JSON objects have no document.
    assertThat(users.getDocument("nobody")).isEmpty();
    users.put("plain", "hello");
    users.put("array", "[1,2]");
    assertThat(users.getDocument("plain")).isEmpty();
    assertThat(users.getDocument("array")).isEmpty();

    // Not a document: INVALID_ARGUMENT, and nothing is stored.
    for (String bad : List.of("[1,2]", "42", "{\"a\":", "not json", "{\"a\":1} {\"b\":2}")) {
      assertThatThrownBy(() -> users.putDocument("bad", bad))
          .as(bad)
          .isInstanceOfSatisfying(
              ShardClusterException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }
    assertThat(users.get("bad")).isEmpty();
  }

  @Test
  void aStoppedNode_isNamed_andAllowPartialReturnsTheOthersRows() {
    start(3);
    load("default", documents(""));
    long total = client.query("SELECT COUNT(*) FROM default").rows().get(0).get(0).longValue();
    assertThat(total).isEqualTo(DOCS);
    cluster.stopNode("node-2");

    assertThatThrownBy(() -> client.query("SELECT COUNT(*) FROM default"))
        .isInstanceOfSatisfying(
            ShardClusterException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
              assertThat(e.getMessage()).contains("no answer from node-2");
            });
    // A plain query streams: the missing node surfaces while its rows are read.
    assertThatThrownBy(() -> client.query("SELECT _key FROM default").rows())
        .isInstanceOfSatisfying(
            ShardClusterException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
              assertThat(e.getMessage()).contains("no answer from node-2");
            });
    QueryResult partial =
        client.query("SELECT _key FROM default", QueryOptions.DEFAULTS.withAllowPartial(true));
    assertThat(partial.missingNodes()).containsExactly("node-2");
    assertThat(partial.isComplete()).isFalse();
    assertThat(partial.rows()).isNotEmpty().hasSizeLessThan(DOCS);
  }
}
