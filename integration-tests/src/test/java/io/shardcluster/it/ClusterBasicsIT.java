package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.shardcluster.client.KeyValue;
import io.shardcluster.client.ShardClient;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.proto.v1.CountRequest;
import io.shardcluster.proto.v1.GetRequest;
import io.shardcluster.proto.v1.ScanRequest;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.routing.ScanOrder;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.StatusErrors;
import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A healthy three-node cluster: membership, placement, routing, verification, wrong-shard. */
class ClusterBasicsIT {
  private static final int KEYS = 10_000;
  private static LocalCluster cluster;
  private static ShardClient client;

  @BeforeAll
  static void start() throws Exception {
    cluster = LocalCluster.start("basics", 3);
    client = cluster.client();
    List<KeyValue> batch = new ArrayList<>();
    for (int i = 0; i < KEYS; i++) {
      batch.add(KeyValue.of("user:" + i, "value-" + i));
      if (batch.size() == 500) {
        client.multiPut(batch);
        batch.clear();
      }
    }
  }

  @AfterAll
  static void stop() throws Exception {
    cluster.close();
  }

  @Test
  void nodes_showsThreeUp() throws Exception {
    assertThat(cluster.nodeStates())
        .containsExactly(
            Map.entry("node-1", "UP"), Map.entry("node-2", "UP"), Map.entry("node-3", "UP"));
  }

  @Test
  void tenThousandKeys_readBackWithTheirValues() {
    List<byte[]> keys = new ArrayList<>();
    for (int i = 0; i < KEYS; i++) {
      keys.add(("user:" + i).getBytes(StandardCharsets.UTF_8));
    }
    List<Optional<byte[]>> values = client.multiGet(keys);
    for (int i = 0; i < KEYS; i++) {
      assertThat(values.get(i)).as("user:%d", i).isPresent();
      assertThat(new String(values.get(i).get(), StandardCharsets.UTF_8)).isEqualTo("value-" + i);
    }
  }

  @Test
  void everyNode_holdsAFairShare_andOnlyKeysRoutedToIt() throws Exception {
    RoutingTable table = client.refreshRoutingTable();
    Map<String, List<String>> stored = storedKeysPerNode(table);
    int total = 0;
    for (var node : stored.entrySet()) {
      List<String> keys = node.getValue().stream().filter(k -> k.startsWith("user:")).toList();
      double share = (double) keys.size() / KEYS;
      assertThat(share).as("share of %s", node.getKey()).isBetween(0.25, 0.42);
      for (String key : keys) {
        assertThat(client.route(key.getBytes(StandardCharsets.UTF_8)).owner())
            .as(key)
            .isEqualTo(node.getKey());
      }
      total += keys.size();
    }
    assertThat(total).isEqualTo(KEYS);
    // The scans above return only what each node owns; Count counts what it stores, owned or not.
    // Equal figures mean no node keeps a copy of another's key.
    Map<String, Long> storedCounts = storedUserKeyCounts(table);
    for (var node : stored.entrySet()) {
      assertThat(storedCounts.get(node.getKey()))
          .as("user: keys stored on %s", node.getKey())
          .isEqualTo(node.getValue().stream().filter(k -> k.startsWith("user:")).count());
    }

    // The CLI names the same owner.
    ObjectMapper json = new ObjectMapper();
    for (String key : List.of("user:0", "user:1", "user:4242")) {
      Shardctl.Result route = cluster.shardctl("route", key, "--json");
      assertThat(route.exitCode()).isZero();
      String owner = json.readTree(route.out()).get("owner").asText();
      assertThat(stored.get(owner)).contains(key);
    }
  }

  /** How many keys with the prefix {@code user:} each node stores, owned or not. */
  private static Map<String, Long> storedUserKeyCounts(RoutingTable table) {
    Map<String, Long> counts = new HashMap<>();
    try (NodeChannels channels = new NodeChannels(NodeChannels::plaintext)) {
      table
          .nodeAddresses()
          .forEach(
              (node, address) ->
                  counts.put(
                      node,
                      ShardNodeGrpc.newBlockingStub(channels.channel(address))
                          .count(
                              CountRequest.newBuilder()
                                  .setStart(ByteString.copyFromUtf8("user:"))
                                  .setEnd(ByteString.copyFromUtf8("user;"))
                                  .build())
                          .getCount()));
    }
    return counts;
  }

  /** Every key each node owns, read straight from the node (the scan RPC, which skips others). */
  private static Map<String, List<String>> storedKeysPerNode(RoutingTable table) {
    Map<String, List<String>> stored = new HashMap<>();
    try (NodeChannels channels = new NodeChannels(NodeChannels::plaintext)) {
      table
          .nodeAddresses()
          .forEach(
              (node, address) -> {
                List<String> keys = new ArrayList<>();
                ShardNodeGrpc.newBlockingStub(channels.channel(address))
                    .scan(ScanRequest.newBuilder().build())
                    .forEachRemaining(
                        batch ->
                            batch
                                .getEntriesList()
                                .forEach(e -> keys.add(e.getKey().toStringUtf8())));
                stored.put(node, keys);
              });
    }
    return stored;
  }

  @Test
  void loadAndVerify_throughTheCli() throws Exception {
    Shardctl.Result load =
        cluster.shardctl("load", "--count", "2000", "--prefix", "cli:", "--value-size", "64");
    assertThat(load.exitCode()).as(load.err()).isZero();
    assertThat(load.out()).contains("loaded 2,000 keys");

    Shardctl.Result verify =
        cluster.shardctl(
            "verify", "--count", "2000", "--prefix", "cli:", "--value-size", "64", "--json");
    assertThat(verify.exitCode()).as(verify.err()).isZero();
    assertThat(verify.out())
        .contains("\"ok\":2000")
        .contains("\"missing\":0")
        .contains("\"wrong\":0");

    Shardctl.Result wrongSize =
        cluster.shardctl("verify", "--count", "10", "--prefix", "cli:", "--value-size", "65");
    assertThat(wrongSize.exitCode()).isEqualTo(1);
    assertThat(wrongSize.out()).contains("ok=0 missing=0 wrong=10");
  }

  @Test
  void bench_endsAfterItsDuration_andReportsItsFigures() throws Exception {
    long started = System.nanoTime();
    Shardctl.Result bench = smallBench("--warmup", "0.5", "--duration", "1");
    assertThat(bench.exitCode()).as(bench.err()).isZero();
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(60));
    assertThat(bench.out()).contains("\"ops_per_sec\":").contains("\"errors\":0");

    Shardctl.Result lines = smallBench("--warmup", "0", "--duration", "2", "--interval", "0.5");
    assertThat(lines.exitCode()).as(lines.err()).isZero();
    assertThat(lines.out().lines().filter(line -> line.contains("\"time_ms\"")).count())
        .isBetween(3L, 5L);
  }

  /** {@code shardctl bench --json} with 500 keys and 4 clients, plus the given options. */
  private static Shardctl.Result smallBench(String... options) throws Exception {
    List<String> args = new ArrayList<>(List.of("bench", "--keys", "500", "--threads", "4"));
    args.addAll(List.of(options));
    args.add("--json");
    return cluster.shardctl(args.toArray(String[]::new));
  }

  @Test
  void putGetDelete_throughTheCli() throws Exception {
    assertThat(cluster.shardctl("put", "greeting", "hello world").exitCode()).isZero();
    Shardctl.Result get = cluster.shardctl("get", "greeting");
    assertThat(get.exitCode()).isZero();
    assertThat(get.out().trim()).isEqualTo("hello world");
    assertThat(cluster.shardctl("del", "greeting").exitCode()).isZero();
    Shardctl.Result absent = cluster.shardctl("get", "greeting");
    assertThat(absent.exitCode()).isEqualTo(1);
    assertThat(absent.errLines()).containsExactly("shardctl: key 'greeting' not found");
  }

  @Test
  void scan_throughTheCli_isInPositionOrderAcrossNodes() throws Exception {
    Shardctl.Result scan =
        cluster.shardctl("scan", "--from", "user:100", "--to", "user:101", "--limit", "5");
    assertThat(scan.exitCode()).isZero();
    // The default keyspace hashes its keys: a scan returns them in position order (the bounds
    // filter), merged across the nodes.
    Keyspace hash = Keyspace.hash(Keyspace.DEFAULT);
    List<String> expected =
        IntStream.range(0, KEYS)
            .mapToObj(i -> "user:" + i)
            .filter(k -> k.compareTo("user:100") >= 0 && k.compareTo("user:101") < 0)
            .sorted(
                Comparator.comparing(
                    k -> k.getBytes(StandardCharsets.UTF_8),
                    (x, y) -> ScanOrder.compare(hash, x, y)))
            .limit(5)
            .toList();
    assertThat(scan.out().lines().map(line -> line.split("\t")[0]).toList())
        .containsExactlyElementsOf(expected);
  }

  @Test
  void directoryPrefix_placesNewKeysOnItsNode_andMovesStoredKeysToAndFromIt() throws Exception {
    Shardctl.Result set = cluster.shardctl("directory", "set", "tenant7:", "node-2", "--prefix");
    assertThat(set.exitCode()).as(set.err()).isZero();
    client.refreshRoutingTable();
    for (int i = 0; i < 20; i++) {
      client.put("tenant7:order:" + i, "o" + i);
    }
    RoutingTable table = client.refreshRoutingTable();
    List<String> onNode2 = storedKeysPerNode(table).get("node-2");
    for (int i = 0; i < 20; i++) {
      assertThat(onNode2).contains("tenant7:order:" + i);
    }
    Shardctl.Result get = cluster.shardctl("directory", "get", "tenant7:order:3");
    assertThat(get.out()).contains("prefix tenant7: -> node-2");

    // Placing the prefix elsewhere moves its stored keys with one migration, which sets the entry.
    Shardctl.Result move = cluster.shardctl("directory", "set", "tenant7:", "node-3", "--prefix");
    assertThat(move.exitCode()).as(move.err()).isZero();
    assertThat(move.out()).contains("moving prefix tenant7: from node-2 to node-3");
    Shardctl.Result wait = cluster.shardctl("wait", "--migrations-done", "--timeout", "60");
    assertThat(wait.exitCode()).as(wait.err()).isZero();
    table = client.refreshRoutingTable();
    Map<String, List<String>> stored = storedKeysPerNode(table);
    for (int i = 0; i < 20; i++) {
      assertThat(stored.get("node-3")).contains("tenant7:order:" + i);
      assertThat(stored.get("node-2")).doesNotContain("tenant7:order:" + i);
    }
    assertThat(client.get("tenant7:order:5")).contains("o5");
    // Removing it moves its keys to their ring owners, one migration to each other node.
    Shardctl.Result remove = cluster.shardctl("directory", "remove", "tenant7:", "--prefix");
    assertThat(remove.exitCode()).as(remove.err()).isZero();
    assertThat(remove.out())
        .containsPattern(
            "moving prefix tenant7: from node-3 to node-1, node-2: migrations m\\d+, m\\d+;")
        .contains("the entry is removed when they commit");
    wait = cluster.shardctl("wait", "--migrations-done", "--timeout", "60");
    assertThat(wait.exitCode()).as(wait.err()).isZero();
    table = client.refreshRoutingTable();
    stored = storedKeysPerNode(table);
    for (int i = 0; i < 20; i++) {
      String key = "tenant7:order:" + i;
      assertThat(stored.get(table.ownerOf(Keyspace.DEFAULT, key.getBytes(StandardCharsets.UTF_8))))
          .contains(key);
      assertThat(client.get(key)).contains("o" + i);
    }

    // A new prefix over stored keys the ring spreads: one migration from each other node, which
    // commit together with the entry.
    for (int i = 0; i < 30; i++) {
      client.put("spread:" + i, "s" + i);
    }
    Shardctl.Result spread = cluster.shardctl("directory", "set", "spread:", "node-1", "--prefix");
    assertThat(spread.exitCode()).as(spread.err()).isZero();
    assertThat(spread.out())
        .containsPattern(
            "moving prefix spread: from node-2, node-3 to node-1: migrations m\\d+, m\\d+;")
        .contains("the entry is set when they commit");
    wait = cluster.shardctl("wait", "--migrations-done", "--timeout", "60");
    assertThat(wait.exitCode()).as(wait.err()).isZero();
    stored = storedKeysPerNode(client.refreshRoutingTable());
    for (int i = 0; i < 30; i++) {
      assertThat(stored.get("node-1")).contains("spread:" + i);
      assertThat(stored.get("node-2")).doesNotContain("spread:" + i);
      assertThat(stored.get("node-3")).doesNotContain("spread:" + i);
      assertThat(client.get("spread:" + i)).contains("s" + i);
    }
  }

  @Test
  void requestToANodeThatDoesNotOwnTheKey_isWrongShardWithTheEpoch() {
    RoutingTable table = client.refreshRoutingTable();
    byte[] key = "user:7".getBytes(StandardCharsets.UTF_8);
    String owner = table.ownerOf(Keyspace.DEFAULT, key);
    String other =
        table.nodeAddresses().keySet().stream()
            .filter(n -> !n.equals(owner))
            .findFirst()
            .orElseThrow();
    ManagedChannel channel = NodeChannels.plaintext(table.address(other).orElseThrow());
    try {
      assertThatThrownBy(
              () ->
                  ShardNodeGrpc.newBlockingStub(channel)
                      .get(
                          GetRequest.newBuilder()
                              .setKey(ByteString.copyFrom(key))
                              .setEpoch(table.epoch())
                              .build()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode())
                    .isEqualTo(io.grpc.Status.Code.FAILED_PRECONDITION);
                WrongShardException wrong = (WrongShardException) StatusErrors.fromStatus(e);
                assertThat(wrong.epoch()).isEqualTo(table.epoch());
                assertThat(wrong.node()).isEqualTo(other);
                assertThat(wrong.owner()).contains(owner);
              });
    } finally {
      channel.shutdownNow();
    }
  }
}
