package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.ShardClient;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.testing.LocalCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The coordinator killed with SIGKILL: data keeps flowing; a restart serves the same routing. */
class CoordinatorFailureIT {
  private LocalCluster cluster;

  @BeforeEach
  void start() throws Exception {
    cluster = LocalCluster.start("coordinator-failure", 3);
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
  }

  @Test
  void sigkillOfTheCoordinator_clientsKeepWorking_restartServesSameEpochAndRing() throws Exception {
    ShardClient client = cluster.client();
    for (int i = 0; i < 500; i++) {
      client.put("before:" + i, "v" + i);
    }
    RoutingTable before = client.refreshRoutingTable();

    cluster.kill("coordinator");

    for (int i = 0; i < 500; i++) {
      client.put("during:" + i, "v" + i);
    }
    for (int i = 0; i < 500; i++) {
      assertThat(client.get("before:" + i)).contains("v" + i);
      assertThat(client.get("during:" + i)).contains("v" + i);
    }

    cluster.restart("coordinator");
    try (ShardClient fresh =
        io.shardcluster.client.ShardClient.builder()
            .coordinator(cluster.coordinatorAddress())
            .build()) {
      RoutingTable after = fresh.refreshRoutingTable();
      assertThat(after.epoch()).isEqualTo(before.epoch());
      assertThat(after).isEqualTo(before);
      assertThat(fresh.get("during:42")).contains("v42");
    }
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> cluster.nodeStates().values().stream().allMatch("UP"::equals));
    assertThat(cluster.nodeStates()).hasSize(3);
  }

  /**
   * A node restarted while the coordinator is down has lost its cache of directory groups: a read
   * of a group it must look up waits for the coordinator, while the requests behind it on the same
   * connection are served (the lookup does not hold the node's I/O thread), and it succeeds once
   * the coordinator is back.
   */
  @Test
  void coordinatorDown_nodeRestarted_groupLookupWaits_otherRequestsAreServed() throws Exception {
    assertThat(
            cluster.shardctl("keyspace", "create", "tenants", "--strategy", "directory").exitCode())
        .isZero();
    try (ShardClient client =
        ShardClient.builder()
            .coordinator(cluster.coordinatorAddress())
            .requestTimeout(Duration.ofSeconds(90))
            .build()) {
      ShardClient tenants = client.keyspace("tenants");
      tenants.put("acme:k1", "a1");
      String node = tenants.route(bytes("acme:k1")).owner();
      List<String> sameNode = new ArrayList<>();
      for (int i = 0; sameNode.size() < 50; i++) {
        String key = "plain:" + i;
        client.put(key, "v" + i);
        if (client.route(bytes(key)).owner().equals(node)) {
          sameNode.add(key);
        }
      }

      cluster.kill("coordinator");
      cluster.kill(node);
      cluster.restart(node);

      CompletableFuture<Optional<byte[]>> lookedUp = tenants.getAsync(bytes("acme:k1"));
      for (String key : sameNode) {
        assertThat(client.get(key)).contains("v" + key.substring("plain:".length()));
        client.put(key, "w");
      }
      assertThat(lookedUp)
          .as("the group's read waits for the coordinator, which is down")
          .isNotDone();

      cluster.restart("coordinator");
      assertThat(lookedUp.get(60, TimeUnit.SECONDS))
          .map(value -> new String(value, StandardCharsets.UTF_8))
          .contains("a1");
      assertThat(tenants.get("acme:k1")).contains("a1");
    }
  }

  private static byte[] bytes(String key) {
    return key.getBytes(StandardCharsets.UTF_8);
  }
}
