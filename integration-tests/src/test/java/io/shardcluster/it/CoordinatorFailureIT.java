package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.ShardClient;
import io.shardcluster.routing.RoutingTable;
import java.time.Duration;
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
}
