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
import org.junit.jupiter.api.Test;
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

  /**
   * A directory entry placed over stored keys (a prefix inside another prefix entry) is set by its
   * migration's commit; the source is killed after that commit, before it deleted its copies. After
   * its restart the entry stands, its keys live only on the entry's node, and nothing is lost.
   */
  @Test
  void directorySetOverStoredKeys_sourceKilledAfterCommit_entryAndKeysEndOnTheTarget()
      throws Exception {
    cluster = LocalCluster.start("failpoint-directory-set", 3);
    assertThat(cluster.shardctl("directory", "set", "--prefix", "acme:", "node-1").exitCode())
        .isZero();
    cluster.restartWith("coordinator", List.of("--failpoint", Failpoints.AFTER_COMMIT + "=pause"));
    ShardClient client = cluster.client();
    AcknowledgedWorkload workload =
        AcknowledgedWorkload.start(
            client, 2_000, 2, 1, i -> (i % 4 == 0 ? "acme:vip:" : "acme:") + "k" + i);

    Shardctl.Result set = cluster.shardctl("directory", "set", "--prefix", "acme:vip:", "node-2");
    assertThat(set.exitCode()).as(set.err()).isZero();
    assertThat(set.out()).contains("moving prefix acme:vip: from node-1 to node-2");
    cluster
        .coordinator()
        .awaitLog("failpoint " + Failpoints.AFTER_COMMIT + ": pause", Duration.ofSeconds(60));
    cluster.kill("node-1");
    cluster.restart("node-1");
    cluster.releaseFailpoints();
    cluster.awaitSettled(Duration.ofSeconds(120));
    workload.close();

    workload.verify();
    assertThat(workload.staleReads()).as(workload.firstErrors().toString()).isZero();
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("directory set") && m.target().equals("node-2"))
        .singleElement()
        .satisfies(m -> assertThat(m.phase()).isEqualTo("DONE"));
    Map<String, Set<String>> owned = cluster.ownedKeys();
    assertThat(owned.get("node-2")).hasSize(500).allMatch(k -> k.startsWith("acme:vip:"));
    assertThat(owned.get("node-1")).hasSize(1_500).noneMatch(k -> k.startsWith("acme:vip:"));
    for (String node : owned.keySet()) {
      assertThat(cluster.storedKeys(node))
          .as("keys stored on %s", node)
          .isEqualTo(owned.get(node).size());
    }
  }

  /**
   * A prefix the ring spreads, placed over stored keys, moves them with one migration from each
   * other node, committed together. The coordinator is killed while the first of them waits,
   * fenced, just before the commit. After its restart they all commit or all roll back: the
   * prefix's keys are on the entry's node with the entry set, or all where they were without it;
   * nothing is lost and no key is on two nodes.
   */
  @Test
  void directorySetOnARingSpreadPrefix_coordinatorKilledBeforeTheCommit_allOrNone()
      throws Exception {
    cluster = LocalCluster.start("failpoint-directory-group", 3);
    cluster.restartWith("coordinator", List.of("--failpoint", Failpoints.BEFORE_COMMIT + "=pause"));
    ShardClient client = cluster.client();
    AcknowledgedWorkload workload =
        AcknowledgedWorkload.start(client, 3_000, 2, 1, i -> (i % 3 == 0 ? "t:" : "o:") + "k" + i);

    Shardctl.Result set = cluster.shardctl("directory", "set", "--prefix", "t:", "node-1");
    assertThat(set.exitCode()).as(set.err()).isZero();
    assertThat(set.out()).contains("moving prefix t: from node-2, node-3 to node-1: migrations");
    cluster
        .coordinator()
        .awaitLog("failpoint " + Failpoints.BEFORE_COMMIT + ": pause", Duration.ofSeconds(60));
    cluster.kill("coordinator");
    cluster.restart("coordinator");
    cluster.releaseFailpoints();
    cluster.awaitSettled(Duration.ofSeconds(120));
    workload.close();

    workload.verify();
    assertThat(workload.staleReads()).as(workload.firstErrors().toString()).isZero();
    List<MigrationInfo> placing =
        client.admin().migrations(true).stream()
            .filter(m -> m.reason().equals("directory set"))
            .toList();
    assertThat(placing).hasSize(2);
    String outcome = placing.get(0).phase();
    assertThat(outcome).isIn("DONE", "CANCELLED");
    assertThat(placing).allSatisfy(m -> assertThat(m.phase()).isEqualTo(outcome));
    Map<String, Set<String>> owned = cluster.ownedKeys();
    Map<String, String> owner = new HashMap<>();
    owned.forEach((node, keys) -> keys.forEach(k -> assertThat(owner.put(k, node)).as(k).isNull()));
    assertThat(owner).hasSize(3_000);
    if (outcome.equals("DONE")) {
      assertThat(owned.get("node-1")).filteredOn(k -> k.startsWith("t:")).hasSize(1_000);
    }
    for (String node : owned.keySet()) {
      assertThat(cluster.storedKeys(node))
          .as("keys stored on %s", node)
          .isEqualTo(owned.get(node).size());
    }
  }
}
