package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.ShardClient;
import io.shardcluster.wire.Failpoints;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A join's migrations are stopped at each phase by a failpoint, and then the source, the target or
 * the coordinator is killed with SIGKILL and restarted. Afterwards the migrations have completed or
 * rolled back, no acknowledged write is lost, and every key lives on exactly one node: the one the
 * routing table names.
 */
class MigrationFailpointIT {
  private static final int KEYS = 20_000;
  private LocalCluster cluster;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  static Stream<Arguments> phasesAndVictims() {
    return Stream.of(
            Failpoints.MID_COPY,
            Failpoints.CATCH_UP,
            Failpoints.BEFORE_COMMIT,
            Failpoints.AFTER_COMMIT)
        .flatMap(
            phase ->
                Stream.of("node-1", "node-4", "coordinator")
                    .map(victim -> Arguments.of(phase, victim)));
  }

  @ParameterizedTest(name = "{0}, kill {1}")
  @MethodSource("phasesAndVictims")
  void sigkillAtAPhase_migrationCompletesOrRollsBack_nothingLostNoKeyOnTwoNodes(
      String phase, String victim) throws Exception {
    // node-1 is a source of the join's migrations, node-4 their target.
    boolean inTarget = phase.equals(Failpoints.MID_COPY) || phase.equals(Failpoints.CATCH_UP);
    List<String> failpoint = List.of("--failpoint", phase + "=pause");
    cluster = LocalCluster.start("failpoint-" + phase + "-" + victim, 3);
    if (!inTarget) {
      // Armed only now: the failpoint would otherwise stop the joins that form the cluster.
      cluster.restartWith("coordinator", failpoint);
    }
    ShardClient client = cluster.client();
    AcknowledgedWorkload workload = AcknowledgedWorkload.start(client, KEYS, 2, 1);

    cluster.addNode("node-4", inTarget ? failpoint : List.of());
    JvmProcess paused = cluster.process(inTarget ? "node-4" : "coordinator");
    paused.awaitLog("failpoint " + phase + ": pause", Duration.ofSeconds(60));

    cluster.kill(victim);
    cluster.restart(victim);
    cluster.releaseFailpoints();
    cluster.awaitSettled(Duration.ofSeconds(120));
    workload.close();

    // While a migration sits fenced at a failpoint its keys are unavailable, so requests may
    // fail here; what was acknowledged must still be there.
    workload.verify();
    assertThat(workload.staleReads()).as(workload.firstErrors().toString()).isZero();
    List<MigrationInfo> migrations = client.admin().migrations(true);
    assertThat(migrations)
        .filteredOn(m -> m.reason().equals("join node-4"))
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.phase()).isIn("DONE", "CANCELLED"));

    Map<String, Set<String>> owned = cluster.ownedKeys();
    Map<String, String> owner = new HashMap<>();
    owned.forEach((node, keys) -> keys.forEach(k -> assertThat(owner.put(k, node)).as(k).isNull()));
    assertThat(owner).hasSize(KEYS);
    for (String node : owned.keySet()) {
      assertThat(cluster.storedKeys(node))
          .as("keys stored on %s", node)
          .isEqualTo(owned.get(node).size());
    }
    assertThat(cluster.nodeStates()).containsEntry("node-4", "UP");
  }
}
