package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.KeyValue;
import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.NodeInfo;
import io.shardcluster.client.ShardClient;
import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Heavy tenants pinned to one node by directory entries skew the data; the automatic balancer
 * notices, moves whole tenants until every node is near the mean, and then leaves the cluster
 * alone.
 */
class LoadBalancingIT {
  private static final List<String> TENANTS = List.of("acme", "globex", "initech", "umbrella");
  private LocalCluster cluster;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static double maxOverMean(List<NodeInfo> nodes) {
    long max = nodes.stream().mapToLong(NodeInfo::keys).max().orElse(0);
    double mean = nodes.stream().mapToLong(NodeInfo::keys).sum() / (double) nodes.size();
    return max / mean;
  }

  private static List<NodeInfo> upNodes(ShardClient client) {
    return client.admin().nodes().nodes().stream()
        .filter(n -> n.state() == io.shardcluster.client.NodeState.UP)
        .toList();
  }

  private static long rebalances(ShardClient client) {
    return client.admin().migrations(true).stream()
        .filter(m -> m.reason().equals("rebalance"))
        .count();
  }

  @Test
  void skewedTenants_balancerEvensThemOut_thenStopsMovingData() throws Exception {
    cluster =
        LocalCluster.start(
            "balance", 3, List.of("--balance-window-ms", "3000", "--balance-threshold", "0.2"));
    ShardClient client = cluster.client();
    for (String tenant : TENANTS) {
      client
          .admin()
          .setDirectoryEntry((tenant + ":").getBytes(StandardCharsets.UTF_8), true, "node-1");
    }
    client.refreshRoutingTable();
    List<KeyValue> batch = new ArrayList<>();
    for (String tenant : TENANTS) {
      for (int i = 0; i < 2500; i++) {
        batch.add(KeyValue.of(tenant + ":order:" + i, "o" + i));
      }
    }
    for (int i = 0; i < 2500; i++) {
      batch.add(KeyValue.of("k" + i, "v" + i));
    }
    for (int from = 0; from < batch.size(); from += 1000) {
      client.multiPut(batch.subList(from, Math.min(batch.size(), from + 1000)));
    }

    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .until(
            () ->
                rebalances(client) > 0
                    && client.admin().migrations(false).isEmpty()
                    && maxOverMean(upNodes(client)) <= 1.2
                    && upNodes(client).stream().mapToLong(NodeInfo::keys).sum() == 12_500);
    List<MigrationInfo> moved = client.admin().migrations(true);
    assertThat(moved)
        .filteredOn(m -> m.reason().equals("rebalance"))
        .allSatisfy(
            m -> {
              assertThat(m.phase()).isEqualTo("DONE");
              assertThat(m.source()).isEqualTo("node-1");
            });

    // Balanced within the threshold: the balancer does not start again.
    long done = rebalances(client);
    await()
        .during(Duration.ofSeconds(10))
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(500))
        .until(() -> rebalances(client) == done);

    // What an operator sees then: the balancer's settings with the plan, and a balance check
    // that passes.
    Shardctl.Result dryRun = cluster.shardctl("rebalance", "--dry-run");
    assertThat(dryRun.exitCode()).isZero();
    assertThat(dryRun.out())
        .contains("automatic balancer on: acts when max/mean stays above 1.20 for 3 s")
        .contains("dry run: nothing moved");
    Shardctl.Result health = cluster.shardctl("health");
    assertThat(health.exitCode()).isZero();
    assertThat(health.out())
        .containsPattern("balance +OK +node-\\d holds the most, 1\\.[0-2]\\dx the mean by keys");
    assertThat(rebalances(client)).isEqualTo(done);

    for (String tenant : TENANTS) {
      assertThat(client.get(tenant + ":order:1234")).contains("o1234");
    }
    assertThat(client.get("k42")).contains("v42");
  }
}
