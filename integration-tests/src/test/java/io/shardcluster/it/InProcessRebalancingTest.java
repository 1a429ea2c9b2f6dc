package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.shardcluster.client.ErrorCode;
import io.shardcluster.client.KeyValue;
import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.RebalancePlan;
import io.shardcluster.client.ShardClient;
import io.shardcluster.client.ShardClusterException;
import io.shardcluster.proto.v1.CountRequest;
import io.shardcluster.proto.v1.ScanRequest;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.routing.RoutingTable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

  /** Owned keys per node, straight from each node. */
  private static Map<String, List<String>> ownedKeys(ShardClient client) {
    RoutingTable table = client.refreshRoutingTable();
    Map<String, List<String>> owned = new HashMap<>();
    table
        .nodeAddresses()
        .forEach(
            (node, address) -> {
              List<String> keys = new ArrayList<>();
              var channel = InProcessCluster.channel(address);
              ShardNodeGrpc.newBlockingStub(channel)
                  .scan(ScanRequest.newBuilder().setEpoch(table.epoch()).build())
                  .forEachRemaining(
                      b -> b.getEntriesList().forEach(e -> keys.add(e.getKey().toStringUtf8())));
              channel.shutdownNow();
              owned.put(node, keys);
            });
    return owned;
  }

  /** Keys a node stores, owned or not (a moved key must not linger on its old node). */
  private static long storedKeys(ShardClient client, String node) {
    String address = client.refreshRoutingTable().address(node).orElseThrow();
    var channel = InProcessCluster.channel(address);
    try {
      return ShardNodeGrpc.newBlockingStub(channel)
          .count(CountRequest.newBuilder().build())
          .getCount();
    } finally {
      channel.shutdownNow();
    }
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
    Map<String, List<String>> before = ownedKeys(client);
    Map<String, String> ownerBefore = new HashMap<>();
    before.forEach((node, keys) -> keys.forEach(k -> ownerBefore.put(k, node)));

    cluster.addNode("node-4");
    cluster.awaitMigrations();

    Map<String, List<String>> after = ownedKeys(client);
    assertThat((double) after.get("node-4").size() / 6000).isBetween(0.20, 0.30);
    after.forEach(
        (node, keys) ->
            keys.forEach(k -> assertThat(node).as(k).isIn(ownerBefore.get(k), "node-4")));
    for (String node : List.of("node-1", "node-2", "node-3")) {
      assertThat(storedKeys(client, node)).isEqualTo(after.get(node).size());
    }
    assertAllReadable(client, 6000);
    List<MigrationInfo> done = client.admin().migrations(true);
    assertThat(done)
        .filteredOn(m -> m.reason().equals("join node-4"))
        .hasSize(3)
        .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
  }

  @Test
  void drain_movesEveryKeyAway_andRemovesTheNode() {
    ShardClient client = startWithKeys(3, 3000, false);

    List<MigrationInfo> started = client.admin().drain("node-2");
    assertThat(started).isNotEmpty().allSatisfy(m -> assertThat(m.source()).isEqualTo("node-2"));
    cluster.awaitState("node-2", NodeState.REMOVED);

    assertAllReadable(client, 3000);
    Map<String, List<String>> owned = ownedKeys(client);
    assertThat(owned).doesNotContainKey("node-2");
    assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(3000);
    assertThat(cluster.nodes().get("node-2").share()).isZero();
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
    // Wait for counts of the keys at the current epoch.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> cluster.nodes().get("node-1").keys() >= 4000);

    RebalancePlan plan = client.admin().rebalance(true);
    assertThat(plan.maxOverMeanBefore()).isGreaterThan(2);
    assertThat(plan.maxOverMeanAfter()).isLessThan(1.35);
    assertThat(plan.started()).isEmpty();
    assertThat(client.admin().migrations(false)).isEmpty();

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
  }

  @Test
  void removeForce_givesTheNodesPositionsAway_withoutItsData() {
    ShardClient client = startWithKeys(3, 600, false);
    List<String> lost = ownedKeys(client).get("node-3");

    var removed = client.admin().removeNode("node-3", true);

    assertThat(removed.shareLost()).isBetween(0.3, 0.34);
    assertThat(cluster.nodes().get("node-3").state()).isEqualTo(NodeState.REMOVED);
    RoutingTable table = client.refreshRoutingTable();
    assertThat(table.nodeAddresses()).doesNotContainKey("node-3");
    assertThat(client.get(lost.get(0))).isEmpty();
    assertThat(
            client.get(
                ByteString.copyFromUtf8(ownedKeys(client).get("node-1").get(0)).toStringUtf8()))
        .isPresent();
  }
}
