package io.shardcluster.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.shardcluster.client.internal.RetryPolicy;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.NodeUnavailableException;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.routing.ScanOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ShardClientTest {
  private FakeCluster cluster;
  private ShardClient client;

  @BeforeEach
  void setUp() throws Exception {
    cluster = new FakeCluster(List.of("n1", "n2", "n3"));
    client = cluster.client();
  }

  @AfterEach
  void tearDown() {
    client.close();
    cluster.close();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void put_storesEachKeyOnItsOwnerOnly() {
    for (int i = 0; i < 300; i++) {
      client.put("k" + i, "v" + i);
    }
    RoutingTable table = cluster.table.get();
    int total = 0;
    for (var node : cluster.data.entrySet()) {
      for (ByteString key : node.getValue().keySet()) {
        assertThat(table.ownerOf(Keyspace.DEFAULT, key.toByteArray())).isEqualTo(node.getKey());
      }
      assertThat(node.getValue()).isNotEmpty();
      total += node.getValue().size();
    }
    assertThat(total).isEqualTo(300);
    assertThat(client.get("k42")).contains("v42");
    assertThat(client.get("absent")).isEmpty();
  }

  /** Stores the key's value at the node and gives it the whole ring at the next epoch. */
  private void moveTo(String node, String key, String value) {
    cluster.data.get(node).put(ByteString.copyFromUtf8(key), ByteString.copyFromUtf8(value));
    RoutingTable before = cluster.table.get();
    cluster.setTable(
        before.with(
            before.epoch() + 1,
            before.keyspace(Keyspace.DEFAULT).withRing(HashRing.of(List.of(0L), List.of(node)))));
  }

  @Test
  void get_afterOwnershipMovedWithoutNotice_retriesAtNewOwner() {
    client.put("moving", "v1");
    String oldOwner = client.route(utf8("moving")).owner();
    String newOwner = oldOwner.equals("n1") ? "n2" : "n1";
    cluster.pushUpdates = false;
    moveTo(newOwner, "moving", "v2");

    assertThat(client.get("moving")).contains("v2");
    assertThat(client.routingTable().epoch()).isEqualTo(2);
    assertThat(cluster.requests.get(oldOwner).get()).isGreaterThanOrEqualTo(2);
  }

  @Test
  void aRequestRefusedByAFence_goesAgainAsSoonAsTheCommitsTableArrives() throws Exception {
    // Backoff so long that only the arriving table can wake the retry within the test.
    ShardClient patient =
        ShardClient.builder()
            .coordinator(FakeCluster.COORDINATOR)
            .channelFactory(FakeCluster::channel)
            .requestTimeout(Duration.ofSeconds(120))
            .retryPolicy(new RetryPolicy(40, 2, Duration.ofSeconds(60), Duration.ofSeconds(60)))
            .build();
    try {
      patient.put("moving", "v1");
      String oldOwner = patient.route(utf8("moving")).owner();
      String newOwner = oldOwner.equals("n1") ? "n2" : "n1";
      cluster.fenced.add(ByteString.copyFromUtf8("moving"));
      int refusedBefore = cluster.requests.get(oldOwner).get();
      CompletableFuture<Optional<String>> read =
          patient.getAsync(utf8("moving")).thenApply(v -> v.map(String::new));
      await().until(() -> cluster.requests.get(oldOwner).get() > refusedBefore);
      assertThat(read).isNotDone();

      // The commit: the key is at its new owner, and the new table is pushed on the watch stream.
      cluster.fenced.clear();
      moveTo(newOwner, "moving", "v1");

      assertThat(read.get(20, TimeUnit.SECONDS)).contains("v1");
    } finally {
      patient.close();
    }
  }

  @Test
  void watch_deliversNewTablesWithoutARequest() {
    client.put("x", "y");
    RoutingTable before = cluster.table.get();
    cluster.setTable(before.with(5, before.keyspace(Keyspace.DEFAULT)));
    await().atMost(Duration.ofSeconds(5)).until(() -> client.routingTable().epoch() == 5);
  }

  @Test
  void requests_keepWorking_whileCoordinatorIsDown() {
    client.put("a", "1");
    cluster.stop(FakeCluster.COORDINATOR);

    client.put("b", "2");
    assertThat(client.get("a")).contains("1");
    assertThat(client.get("b")).contains("2");
  }

  @Test
  void firstRequest_withCoordinatorDown_isUnavailableNamingIt() {
    cluster.stop(FakeCluster.COORDINATOR);
    try (ShardClient fresh = cluster.client()) {
      assertThatThrownBy(() -> fresh.get("a"))
          .isInstanceOf(ShardClusterException.class)
          .hasMessageContaining("coordinator at coordinator:1 is unreachable")
          .extracting(e -> ((ShardClusterException) e).code())
          .isEqualTo(ErrorCode.UNAVAILABLE);
    }
  }

  @Test
  void get_ownerDown_failsNamingTheNode() {
    String owner = client.route(utf8("victim")).owner();
    cluster.stop(owner);

    assertThatThrownBy(() -> client.get("victim"))
        .isInstanceOf(NodeUnavailableException.class)
        .hasMessageContaining("node " + owner + " at " + owner + ":1 is unavailable");
  }

  @Test
  void get_afterOwnerRestarts_succeedsAtOnceWithoutWaitingOutReconnectBackoff() throws Exception {
    client.put("back", "soon");
    String owner = client.route(utf8("back")).owner();
    cluster.stop(owner);
    assertThatThrownBy(() -> client.get("back")).isInstanceOf(NodeUnavailableException.class);

    cluster.startNode(owner);

    long start = System.nanoTime();
    assertThat(client.get("back")).contains("soon");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(900));
  }

  @Test
  void multiGet_splitsPerNode_andKeepsOrder() {
    Map<String, String> entries = new TreeMap<>();
    for (int i = 0; i < 100; i++) {
      entries.put("m" + i, "v" + i);
    }
    client.multiPut(entries);
    List<byte[]> keys = new ArrayList<>();
    keys.add(utf8("missing"));
    for (int i = 99; i >= 0; i--) {
      keys.add(utf8("m" + i));
    }

    List<Optional<byte[]>> values = client.multiGet(keys);

    assertThat(values.get(0)).isEmpty();
    for (int i = 1; i <= 100; i++) {
      assertThat(new String(values.get(i).orElseThrow(), StandardCharsets.UTF_8))
          .isEqualTo("v" + (100 - i));
    }
    cluster.data.values().forEach(node -> assertThat(node).isNotEmpty());
  }

  @Test
  void scan_mergesAllNodesInPositionOrder_withRangeAndLimit() {
    // The default keyspace hashes its keys: each node streams in position order, and the merge
    // keeps that order across nodes.
    Keyspace hash = Keyspace.hash(Keyspace.DEFAULT);
    Comparator<String> positionOrder = (x, y) -> ScanOrder.compare(hash, utf8(x), utf8(y));
    Map<String, String> entries = new TreeMap<>(positionOrder);
    for (int i = 0; i < 50; i++) {
      entries.put(String.format("s%03d", i), "v" + i);
    }
    client.multiPut(entries);

    List<String> all = new ArrayList<>();
    try (KeyValueIterator rows = client.scan(ScanOptions.all())) {
      rows.forEachRemaining(row -> all.add(row.keyString()));
    }
    assertThat(all).containsExactlyElementsOf(entries.keySet());

    List<String> some;
    try (var rows = client.scan(ScanOptions.all().from("s010").to("s030").limit(7)).stream()) {
      some = rows.map(KeyValue::keyString).toList();
    }
    assertThat(some)
        .containsExactlyElementsOf(
            entries.keySet().stream()
                .filter(k -> k.compareTo("s010") >= 0 && k.compareTo("s030") < 0)
                .limit(7)
                .toList());
  }

  @Test
  void put_emptyKey_failsWithoutContactingAnyNode() {
    assertThatThrownBy(() -> client.put(new byte[0], utf8("v")))
        .isInstanceOf(ShardClusterException.class)
        .hasMessage("key must not be empty");
    cluster.requests.values().forEach(count -> assertThat(count.get()).isZero());
  }

  @Test
  void putAsync_completesAndIsReadable() throws Exception {
    client.putAsync(utf8("async"), utf8("yes")).get();
    assertThat(client.getAsync(utf8("async")).get().map(v -> new String(v, StandardCharsets.UTF_8)))
        .contains("yes");
  }
}
