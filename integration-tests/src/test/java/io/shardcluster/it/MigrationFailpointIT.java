package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.ShardClient;
import io.shardcluster.server.Failpoints;
import io.shardcluster.testing.JvmProcess;
import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
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
import org.junit.jupiter.params.provider.ValueSource;

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

  /**
   * Kills the victim with SIGKILL, restarts it, lets the failpoints go and waits until the cluster
   * has settled; then no acknowledged write may be missing or stale.
   */
  private void killRestartAndVerify(String victim, AcknowledgedWorkload workload) throws Exception {
    cluster.kill(victim);
    cluster.restart(victim);
    cluster.releaseFailpoints();
    cluster.awaitSettled(Duration.ofSeconds(120));
    workload.close();
    workload.verify();
    assertThat(workload.staleReads()).as(workload.firstErrors().toString()).isZero();
  }

  /**
   * Every one of the keys is owned by exactly one node, and each node stores exactly the keys it
   * owns (no copy left behind). Returns the keys each node owns.
   */
  private Map<String, Set<String>> assertEveryKeyOnOneNode(int keys) {
    Map<String, Set<String>> owned = cluster.ownedKeys();
    Map<String, String> owner = new HashMap<>();
    owned.forEach((node, held) -> held.forEach(k -> assertThat(owner.put(k, node)).as(k).isNull()));
    assertThat(owner).hasSize(keys);
    for (String node : owned.keySet()) {
      assertThat(cluster.storedKeys(node))
          .as("keys stored on %s", node)
          .isEqualTo(owned.get(node).size());
    }
    return owned;
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

    // While a migration sits fenced at a failpoint its keys are unavailable, so requests may
    // fail here; what was acknowledged must still be there.
    killRestartAndVerify(victim, workload);
    List<MigrationInfo> migrations = client.admin().migrations(true);
    assertThat(migrations)
        .filteredOn(m -> m.reason().equals("join node-4"))
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.phase()).isIn("DONE", "CANCELLED"));

    assertEveryKeyOnOneNode(KEYS);
    assertThat(cluster.nodeStates()).containsEntry("node-4", "UP");
  }

  /**
   * A join's target is killed (SIGKILL) or frozen (SIGSTOP: its connections stay open, it answers
   * nothing) just as its sources fence their moving keys. The fences cannot last: once the cutover
   * has been held up for the coordinator's cutover timeout, the migrations are rolled back, and
   * every key is written again while the target is still out. Back, the target is given the moves
   * again, and holds nothing it does not own.
   */
  @ParameterizedTest(name = "target {0}")
  @ValueSource(strings = {"killed", "frozen"})
  void targetLostAtTheFence_cutoverRolledBackAfterItsTimeout_keysWritableWithoutTheTarget(
      String lost) throws Exception {
    // One migration per donor: the test waits for each of them at its fence.
    startPausingBeforeFences("failpoint-fence-timeout-" + lost, "--handover-steps", "1");
    ShardClient client = cluster.client();
    AcknowledgedWorkload workload = AcknowledgedWorkload.start(client, KEYS, 2, 1);
    cluster.addNode("node-4");
    // Every migration past its copy (a copy whose target is lost just stalls until it is back).
    MigrationWaits.awaitPhase(client, "join node-4", 3, "CUTOVER");
    if (lost.equals("killed")) {
      cluster.kill("node-4");
    } else {
      cluster.process("node-4").freeze();
    }
    cluster.releaseFailpoints();

    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(
            () ->
                assertThat(client.admin().migrations(true))
                    .filteredOn(m -> m.reason().equals("join node-4") && m.attempt() == 1)
                    .isNotEmpty()
                    .allSatisfy(m -> assertThat(m.phase()).isEqualTo("CANCELLED"))
                    .anySatisfy(m -> assertThat(m.lastError()).contains("cutover was held up")));
    // Each writer goes over all its keys in turn: every key, moving ones included, is written.
    long before = workload.writes();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .until(() -> workload.writes() >= before + KEYS);

    if (lost.equals("killed")) {
      cluster.restart("node-4");
    } else {
      cluster.process("node-4").thaw();
    }
    // Back, it gets the moves again (the join tries again what failures rolled back), and only
    // then is UP. (Until its first heartbeat after the thaw it shows as DOWN, not JOINING.)
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(250))
        .until(
            () ->
                client.admin().nodes().nodes().stream()
                    .anyMatch(n -> n.id().equals("node-4") && n.state() == NodeState.UP));
    cluster.awaitSettled(Duration.ofSeconds(120));
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("join node-4") && m.attempt() > 1)
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.phase()).isIn("DONE", "CANCELLED"))
        .anySatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
    workload.close();
    workload.verify();
    assertThat(workload.staleReads()).as(workload.firstErrors().toString()).isZero();
    // The target was not there to be told: it drops its copies once it finds the coordinator no
    // longer lists their migrations (a few heartbeats after it is back).
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(() -> assertEveryKeyOnOneNode(KEYS));
  }

  /**
   * Three nodes, and a coordinator that stops every migration just before its fence until the
   * failpoints are released, and rolls back cutovers held up for over a second.
   */
  private void startPausingBeforeFences(String name, String... coordinatorExtras) throws Exception {
    cluster = LocalCluster.start(name, 3, List.of(coordinatorExtras));
    cluster.restartWith(
        "coordinator",
        List.of("--failpoint", Failpoints.BEFORE_FENCE + "=pause", "--cutover-timeout-ms", "1000"));
  }

  /**
   * A drain's receiver is killed (SIGKILL) just as the drained node fences the keys moving to it.
   * That cutover is rolled back after its timeout, and the drain, with nobody running it again,
   * plans those keys anew over the node that answers. {@code shardctl wait --migrations-done}
   * started between the two rounds returns only once the drain is over.
   */
  @Test
  void drainReceiverKilledAtTheFence_drainTriesAgainWithoutIt_andWaitCoversTheRetry()
      throws Exception {
    startPausingBeforeFences("failpoint-drain-retry");
    ShardClient client = cluster.client();
    AcknowledgedWorkload workload = AcknowledgedWorkload.start(client, KEYS, 2, 1);
    Shardctl.Result drain = cluster.shardctl("drain", "node-1");
    assertThat(drain.exitCode()).as(drain.err()).isZero();
    MigrationWaits.awaitPhase(client, "drain node-1", 2, "CUTOVER");
    cluster.kill("node-3");
    cluster.releaseFailpoints();

    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () ->
                assertThat(client.admin().migrations(true))
                    .filteredOn(m -> m.reason().equals("drain node-1") && m.attempt() == 1)
                    .extracting(
                        m ->
                            m.target()
                                + " "
                                + m.phase()
                                + (m.rolledBackByFailure() ? " by a failure" : ""))
                    .containsExactlyInAnyOrder("node-2 DONE", "node-3 CANCELLED by a failure"));
    // Between the rounds the node says what it waits for; once the next has started, its moves
    // show their attempt.
    Shardctl.Result between = cluster.shardctl("migrations", "--all");
    assertThat(between.exitCode()).as(between.err()).isZero();
    assertThat(between.out())
        .containsAnyOf(
            "node-1 (DRAINING): a failure rolled back its moves; trying again",
            "drain node-1 (attempt 2)");
    Shardctl.Result wait = cluster.shardctl("wait", "--migrations-done", "--timeout", "120");
    assertThat(wait.exitCode()).as(wait.err()).isZero();
    assertThat(cluster.nodeStates()).containsEntry("node-1", "REMOVED");
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("drain node-1") && m.attempt() > 1)
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.target() + " " + m.phase()).isEqualTo("node-2 DONE"));

    cluster.restart("node-3");
    cluster.awaitSettled(Duration.ofSeconds(120));
    workload.close();
    workload.verify();
    assertThat(workload.staleReads()).as(workload.firstErrors().toString()).isZero();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(
            () ->
                assertThat(assertEveryKeyOnOneNode(KEYS).getOrDefault("node-1", Set.of()))
                    .isEmpty());
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
    killRestartAndVerify("node-1", workload);
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("directory set") && m.target().equals("node-2"))
        .singleElement()
        .satisfies(m -> assertThat(m.phase()).isEqualTo("DONE"));
    Map<String, Set<String>> owned = assertEveryKeyOnOneNode(2_000);
    assertThat(owned.get("node-2")).hasSize(500).allMatch(k -> k.startsWith("acme:vip:"));
    assertThat(owned.get("node-1")).hasSize(1_500).noneMatch(k -> k.startsWith("acme:vip:"));
  }

  /**
   * Placing a prefix the ring spreads (one migration from each other node, committed together) on
   * node-1, which freezes (SIGSTOP) just as its sources fence: the cutover is rolled back after its
   * timeout, and the coordinator tries the change again 2 s later, once node-1 is thawed. {@code
   * shardctl migrations --watch}, following the first try, does not end when it is rolled back and
   * nothing runs: it waits for the second try and follows it to its end. The coordinator's
   * heartbeat timeout is long enough that the frozen node-1 never counts as DOWN, which would make
   * the try wait for it (and the watch end, saying so).
   */
  @Test
  void directorySetRolledBack_watchWaitsForItsTryAgain_andFollowsItToTheEnd() throws Exception {
    startPausingBeforeFences("failpoint-directory-watch", "--heartbeat-timeout-ms", "60000");
    ShardClient client = cluster.client();
    AcknowledgedWorkload workload =
        AcknowledgedWorkload.start(client, 3_000, 2, 1, i -> (i % 3 == 0 ? "t:" : "o:") + "k" + i);
    Shardctl.Result set = cluster.shardctl("directory", "set", "--prefix", "t:", "node-1");
    assertThat(set.exitCode()).as(set.err()).isZero();
    MigrationWaits.awaitPhase(client, "directory set", 2, "CUTOVER");
    Shardctl.Running watch = cluster.startShardctl("migrations", "--watch");
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> watch.outSoFar().contains("CUTOVER"));

    cluster.process("node-1").freeze();
    cluster.releaseFailpoints();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(
            () ->
                assertThat(client.admin().migrations(true))
                    .filteredOn(m -> m.reason().equals("directory set"))
                    .hasSize(2)
                    .allSatisfy(m -> assertThat(m.rolledBackByFailure()).isTrue()));
    cluster.process("node-1").thaw();

    Shardctl.Result watched = watch.result();
    assertThat(watched.exitCode()).as(watched.out() + watched.err()).isZero();
    assertThat(watched.out())
        .as(watched.out())
        .contains("waiting for the coordinator to try")
        .contains("directory set (attempt 2)")
        .contains("all migrations ended (2 cancelled, then tried again)");
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("directory set") && m.attempt() == 2)
        .hasSize(2)
        .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
    assertThat(cluster.shardctl("directory", "get", "t:k3").out()).contains("node-1");

    workload.close();
    workload.verify();
    assertThat(workload.staleReads()).as(workload.firstErrors().toString()).isZero();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(
            () ->
                assertThat(assertEveryKeyOnOneNode(3_000).get("node-1"))
                    .filteredOn(k -> k.startsWith("t:"))
                    .hasSize(1_000));
  }

  static Stream<Arguments> groupChangesAndVictims() {
    return Stream.of(
        Arguments.of("set", "coordinator"),
        Arguments.of("set", "node-2"),
        Arguments.of("remove", "node-1"),
        Arguments.of("remove", "coordinator"));
  }

  /**
   * Placing a prefix the ring spreads over stored keys moves them with one migration from each
   * other node to the entry's node; removing it, with one migration from the entry's node to each
   * other node. The migrations of such a change commit together. The coordinator stops them just
   * before the commit (at the first one fenced and checked), and the coordinator or a source is
   * killed with SIGKILL and restarted. Afterwards they have all committed or all rolled back, no
   * acknowledged write is lost, and every key lives on exactly one node: the one the routing table
   * names.
   */
  @ParameterizedTest(name = "directory {0}, kill {1}")
  @MethodSource("groupChangesAndVictims")
  void directoryChangeOfARingSpreadPrefix_killedBeforeTheCommit_allOrNone(
      String change, String victim) throws Exception {
    cluster = LocalCluster.start("failpoint-directory-" + change + "-" + victim, 3);
    boolean removal = change.equals("remove");
    if (removal) {
      assertThat(cluster.shardctl("directory", "set", "--prefix", "t:", "node-1").exitCode())
          .isZero();
    }
    cluster.restartWith("coordinator", List.of("--failpoint", Failpoints.BEFORE_COMMIT + "=pause"));
    ShardClient client = cluster.client();
    AcknowledgedWorkload workload =
        AcknowledgedWorkload.start(client, 3_000, 2, 1, i -> (i % 3 == 0 ? "t:" : "o:") + "k" + i);

    Shardctl.Result run =
        removal
            ? cluster.shardctl("directory", "remove", "--prefix", "t:")
            : cluster.shardctl("directory", "set", "--prefix", "t:", "node-1");
    assertThat(run.exitCode()).as(run.err()).isZero();
    assertThat(run.out())
        .contains(
            removal
                ? "moving prefix t: from node-1 to node-2, node-3: migrations"
                : "moving prefix t: from node-2, node-3 to node-1: migrations");
    cluster
        .coordinator()
        .awaitLog("failpoint " + Failpoints.BEFORE_COMMIT + ": pause", Duration.ofSeconds(60));
    killRestartAndVerify(victim, workload);
    List<MigrationInfo> rounds =
        client.admin().migrations(true).stream()
            .filter(m -> m.reason().equals("directory " + change))
            .toList();
    // Its last round: a rollback by a failure (a source back only after the cutover timeout) is
    // tried again by the coordinator.
    int last = rounds.stream().mapToInt(MigrationInfo::attempt).max().orElseThrow();
    List<MigrationInfo> changing = rounds.stream().filter(m -> m.attempt() == last).toList();
    assertThat(changing).hasSize(2);
    String outcome = changing.get(0).phase();
    assertThat(outcome).isIn("DONE", "CANCELLED");
    assertThat(changing).allSatisfy(m -> assertThat(m.phase()).isEqualTo(outcome));
    boolean entryStands =
        client.refreshRoutingTable().keyspace("default").directory().entries().stream()
            .anyMatch(e -> e.key().toStringUtf8().equals("t:"));
    assertThat(entryStands)
        .isEqualTo(removal ? outcome.equals("CANCELLED") : outcome.equals("DONE"));
    Map<String, Set<String>> owned = assertEveryKeyOnOneNode(3_000);
    assertThat(owned.get("node-1").stream().filter(k -> k.startsWith("t:")).count() == 1_000)
        .isEqualTo(entryStands);
  }
}
