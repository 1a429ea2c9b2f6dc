package io.shardcluster.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.shardcluster.client.ClusterHealth.Check;
import io.shardcluster.client.ClusterHealth.Status;
import io.shardcluster.routing.Directory;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Grouping;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RangeMap;
import io.shardcluster.routing.RoutingTable;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClusterHealthTest {
  // node-1 owns half the ring, node-2 and node-3 a quarter each; "hot" is placed on node-3.
  private static final RoutingTable TABLE =
      new RoutingTable(
          9,
          Map.of("node-1", "h:1", "node-2", "h:2", "node-3", "h:3"),
          Map.of(
              Keyspace.DEFAULT,
              Keyspace.hash(Keyspace.DEFAULT)
                  .withRing(
                      HashRing.of(
                          List.of(0L, 1L << 62, Long.MIN_VALUE),
                          List.of("node-2", "node-3", "node-1")))
                  .withDirectory(
                      Directory.of(
                          List.of(
                              new DirectoryEntry(
                                  ByteString.copyFromUtf8("hot"), false, "node-3")))),
              "users",
              Keyspace.range(
                  "users",
                  RangeMap.of(
                      List.of(new byte[0], "m".getBytes(StandardCharsets.UTF_8)),
                      List.of("node-1", "node-3"))),
              "tenants",
              Keyspace.directory("tenants", new Grouping(Grouping.DEFAULT_SEPARATOR, 1))));

  private static final List<ClusterAdmin.KeyspaceInfo> KEYSPACES =
      List.of(
          new ClusterAdmin.KeyspaceInfo(
              "tenants", "directory", 0, 0, ":", 5, Map.of("node-1", 2L, "node-3", 3L)));

  private static NodeInfo node(String id, NodeState state, NodeState memberState, String note) {
    return new NodeInfo(
        id,
        "h:" + id.charAt(5),
        state,
        memberState,
        0,
        0,
        0,
        0,
        false,
        0,
        0,
        0,
        0,
        2_500,
        note,
        note.startsWith("drain stopped"),
        0,
        "",
        "",
        List.of(),
        "");
  }

  private static NodeInfo up(String id) {
    return node(id, NodeState.UP, NodeState.UP, "");
  }

  private static MigrationInfo migration(String id, String reason, boolean paused) {
    return new MigrationInfo(
        id, "node-1", "node-2", "", 0.1, "COPYING", paused, reason, 1, 0, 0, 0, 0, 0, 0, 0, "", 0,
        0, 0, false, false, "", false, 0, "");
  }

  /** A migration that ended at {@code created} + 1 s: DONE, or CANCELLED by a failure or not. */
  private static MigrationInfo ended(
      String id, String reason, String what, long created, String phase, String error) {
    return new MigrationInfo(
        id,
        "node-1",
        "node-2",
        what,
        0,
        phase,
        false,
        reason,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        error,
        created,
        0,
        created + 1_000,
        phase.equals("CANCELLED") && !error.isEmpty(),
        false,
        "",
        false,
        0,
        "");
  }

  private static MigrationInfo withAttempt(MigrationInfo m, int attempt) {
    return with(m, attempt, m.latestOfEntry());
  }

  private static MigrationInfo with(MigrationInfo m, int attempt, boolean latestOfEntry) {
    return new MigrationInfo(
        m.id(),
        m.source(),
        m.target(),
        m.what(),
        m.share(),
        m.phase(),
        m.paused(),
        m.reason(),
        attempt,
        m.keysCopied(),
        m.bytesCopied(),
        m.changesApplied(),
        m.estimatedKeys(),
        m.keysPerSec(),
        m.bytesPerSec(),
        m.etaSeconds(),
        m.lastError(),
        m.createdMillis(),
        m.committedMillis(),
        m.finishedMillis(),
        m.rolledBackByFailure(),
        m.superseded(),
        m.group(),
        latestOfEntry,
        0,
        "");
  }

  /**
   * What a dry-run rebalance said, with node-3 the most loaded: over the threshold (0.2) by enough
   * to move ({@code over}), with the balancer on or off, on loads current or not.
   */
  private static RebalancePlan plan(
      double node3, boolean over, boolean enabled, boolean loadsCurrent) {
    return plan(node3, over, over, enabled, loadsCurrent);
  }

  private static RebalancePlan plan(
      double node3, boolean over, boolean moves, boolean enabled, boolean loadsCurrent) {
    Map<String, Double> before = Map.of("node-1", 100.0, "node-2", 100.0, "node-3", node3);
    double mean = (200 + node3) / 3;
    return new RebalancePlan(
        "keys",
        node3 / mean,
        1.01,
        moves ? List.of(new RebalancePlan.Move("node-3", "node-1", "1 range", 40)) : List.of(),
        before,
        before,
        List.of(),
        new RebalancePlan.Balancer(enabled, 0.2, Duration.ofSeconds(30), over, loadsCurrent));
  }

  private static final RebalancePlan EVEN = plan(101, false, true, true);

  private static final ClusterAdmin.Repairs NO_REPAIRS =
      new ClusterAdmin.Repairs(List.of(), List.of(), java.time.Duration.ofMinutes(5));

  private static ClusterHealth judge(
      List<NodeInfo> nodes, List<MigrationInfo> migrations, Map<String, String> unanswered) {
    return judge(nodes, migrations, unanswered, NO_REPAIRS);
  }

  private static ClusterHealth judge(
      List<NodeInfo> nodes,
      List<MigrationInfo> migrations,
      Map<String, String> unanswered,
      ClusterAdmin.Repairs repairs) {
    return ClusterHealth.judge(
        "c:1",
        TABLE,
        nodes,
        List.of(),
        KEYSPACES,
        asListed(migrations),
        EVEN,
        repairs,
        unanswered,
        1.25);
  }

  /**
   * The migrations as the coordinator lists them: a directory change marked when it is the latest
   * change of its entry (here: of the same {@code what}).
   */
  private static List<MigrationInfo> asListed(List<MigrationInfo> migrations) {
    return migrations.stream()
        .map(
            m ->
                with(
                    m,
                    m.attempt(),
                    m.reason().startsWith("directory ")
                        && migrations.stream()
                            .noneMatch(
                                o ->
                                    o.reason().startsWith("directory ")
                                        && o.what().equals(m.what())
                                        && o.createdMillis() > m.createdMillis())))
        .toList();
  }

  private static Check check(ClusterHealth health, String name) {
    return health.checks().stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void everyNodeUpAndAnswering_isHealthy_withEveryCheckOk() {
    ClusterHealth health =
        judge(List.of(up("node-1"), up("node-2"), up("node-3")), List.of(), Map.of());

    assertThat(health.healthy()).isTrue();
    assertThat(health.epoch()).isEqualTo(9);
    assertThat(health.checks())
        .extracting(Check::name)
        .containsExactly(
            "coordinator",
            "nodes",
            "reachable",
            "replicas",
            "repairs",
            "zones",
            "storage",
            "data",
            "migrations",
            "balance");
    assertThat(health.checks()).allSatisfy(c -> assertThat(c.status()).isEqualTo(Status.OK));
    assertThat(check(health, "coordinator").detail()).isEqualTo("c:1 answers, epoch 9");
    assertThat(check(health, "reachable").detail())
        .isEqualTo("3 node(s) answer from here, all within 1.3 ms");
    assertThat(check(health, "data").detail()).isEqualTo("every key's owner is up (3 keyspace(s))");
    assertThat(check(health, "balance").detail())
        .isEqualTo("node-3 holds the most, 1.01x the mean by keys, within the balancer's 1.20x");
  }

  private static NodeInfo grouped(List<ReplicaInfo> replicas) {
    return grouped("node-1", replicas);
  }

  private static NodeInfo grouped(String id, List<ReplicaInfo> replicas) {
    return grouped(id, replicas, "");
  }

  private static NodeInfo grouped(String id, List<ReplicaInfo> replicas, String leaderZone) {
    NodeInfo up = up(id);
    return new NodeInfo(
        up.id(),
        up.address(),
        up.state(),
        up.memberState(),
        up.share(),
        up.intervals(),
        up.keys(),
        up.bytes(),
        up.keysStale(),
        up.readsPerSec(),
        up.writesPerSec(),
        up.readP99Millis(),
        up.writeP99Millis(),
        up.millisSinceHeartbeat(),
        up.note(),
        up.stopped(),
        up.storageFaults(),
        up.storageFault(),
        up.writeFault(),
        replicas,
        leaderZone);
  }

  @Test
  void aReplicaGroupWithASilentReplica_warns_namingTheReplica() {
    NodeInfo grouped =
        grouped(
            List.of(
                new ReplicaInfo("a", "h:1", true, 3, 100, 0, 200, true, ""),
                new ReplicaInfo("b", "h:11", false, 3, 99, 1, 300, true, ""),
                new ReplicaInfo("c", "h:21", false, 2, 40, 60, 12_000, true, "")));
    ClusterHealth health = judge(List.of(grouped, up("node-2"), up("node-3")), List.of(), Map.of());

    assertThat(check(health, "replicas").status()).isEqualTo(Status.WARN);
    assertThat(check(health, "replicas").detail())
        .isEqualTo("node-1 has 2 of 3 replicas live (c silent for 12.0 s)");
  }

  @Test
  void aSilentReplicaWithNoSpare_warns_andAFailedRepairIsNamed() {
    NodeInfo grouped =
        grouped(
            List.of(
                new ReplicaInfo("a", "h:1", true, 3, 100, 0, 200, true, ""),
                new ReplicaInfo("b", "h:11", false, 3, 99, 1, 300, true, ""),
                new ReplicaInfo("c", "h:21", false, 2, 40, 60, 12_000, true, "")));
    List<NodeInfo> nodes = List.of(grouped, up("node-2"), up("node-3"));

    ClusterHealth noSpare = judge(nodes, List.of(), Map.of());
    assertThat(check(noSpare, "repairs").status()).isEqualTo(Status.WARN);
    assertThat(check(noSpare, "repairs").detail())
        .startsWith("a replica is down and no spare is on offer to replace it");

    java.time.Instant now = java.time.Instant.now();
    ClusterAdmin.RepairInfo failed =
        new ClusterAdmin.RepairInfo(
            "node-1", "c", "d", "h:31/1031", "FAILED", "leader gone", now, Optional.of(now), 0);
    ClusterAdmin.RepairInfo olderDone =
        new ClusterAdmin.RepairInfo(
            "node-1", "b", "c", "h:21/1021", "DONE", "", now, Optional.of(now), 0);
    ClusterAdmin.SpareInfo spare =
        new ClusterAdmin.SpareInfo("h:41", "", java.time.Duration.ofMillis(200));
    ClusterHealth failedRepair =
        judge(
            nodes,
            List.of(),
            Map.of(),
            new ClusterAdmin.Repairs(
                List.of(failed, olderDone), List.of(spare), java.time.Duration.ofSeconds(30)));
    assertThat(check(failedRepair, "repairs").status()).isEqualTo(Status.WARN);
    assertThat(check(failedRepair, "repairs").detail())
        .isEqualTo(
            "node-1: replacing replica c failed (leader gone); it is tried again (1 spare(s) on"
                + " offer, replicas down over 30 s are replaced)");

    ClusterHealth running =
        judge(
            nodes,
            List.of(),
            Map.of(),
            new ClusterAdmin.Repairs(
                List.of(
                    new ClusterAdmin.RepairInfo(
                        "node-1",
                        "c",
                        "d",
                        "h:31/1031",
                        "CATCHING_UP",
                        "",
                        now,
                        Optional.empty(),
                        500)),
                List.of(),
                java.time.Duration.ofSeconds(30)));
    assertThat(check(running, "repairs").status()).isEqualTo(Status.OK);
    assertThat(check(running, "repairs").detail())
        .isEqualTo(
            "0 spare(s) on offer, replicas down over 30 s are replaced; 1 repair(s) running"
                + " (shardctl repairs)");
  }

  @Test
  void aMajorityOfAGroupInOneZone_warns() {
    NodeInfo grouped =
        grouped(
            List.of(
                new ReplicaInfo("a", "h:1", true, 3, 100, 0, 200, true, "z1"),
                new ReplicaInfo("b", "h:11", false, 3, 100, 0, 300, true, "z2"),
                new ReplicaInfo("c", "h:21", false, 3, 100, 0, 300, true, "z2")));
    NodeInfo spread =
        grouped(
            "node-2",
            List.of(
                new ReplicaInfo("a", "h:2", true, 3, 100, 0, 200, true, "z1"),
                new ReplicaInfo("b", "h:12", false, 3, 100, 0, 300, true, "z2"),
                new ReplicaInfo("c", "h:22", false, 3, 100, 0, 300, true, "z3")));
    ClusterHealth health = judge(List.of(grouped, spread, up("node-3")), List.of(), Map.of());

    assertThat(check(health, "zones").status()).isEqualTo(Status.WARN);
    assertThat(check(health, "zones").detail())
        .isEqualTo(
            "node-1's replicas b and c share z2: losing z2 stops node-1 (zones: [z1, z2, z3])");

    ClusterHealth fine = judge(List.of(spread, up("node-3")), List.of(), Map.of());
    assertThat(check(fine, "zones").status()).isEqualTo(Status.OK);
    assertThat(check(fine, "zones").detail())
        .isEqualTo("no zone holds a majority of a group's replicas (zones: [z1, z2, z3])");
    assertThat(check(judge(List.of(up("node-3")), List.of(), Map.of()), "zones").detail())
        .isEqualTo("no zones given (shard-node --zone)");

    NodeInfo pinned = grouped("node-2", spread.replicas(), "z3");
    ClusterHealth away = judge(List.of(pinned, up("node-3")), List.of(), Map.of());
    assertThat(check(away, "zones").status()).isEqualTo(Status.WARN);
    assertThat(check(away, "zones").detail())
        .isEqualTo(
            "node-2's leader is pinned to z3 but runs in z1 (no live, caught-up replica in z3"
                + " yet) (zones: [z1, z2, z3])");
  }

  @Test
  void aMemberOfTheGroupNeverHeardFrom_warnsToo() {
    NodeInfo grouped =
        grouped(
            List.of(
                new ReplicaInfo("a", "h:1", true, 3, 100, 0, 200, true, ""),
                new ReplicaInfo("b", "h:11", false, 3, 99, 1, 300, true, ""),
                new ReplicaInfo("c", "", false, 0, 0, 0, 0, false, "")));
    ClusterHealth health = judge(List.of(grouped, up("node-2"), up("node-3")), List.of(), Map.of());

    assertThat(check(health, "replicas").status()).isEqualTo(Status.WARN);
    assertThat(check(health, "replicas").detail())
        .isEqualTo("node-1 has 2 of 3 replicas live (c never heard from)");
  }

  @Test
  void aGroupWithoutALiveMajority_fails() {
    NodeInfo grouped =
        grouped(
            List.of(
                new ReplicaInfo("a", "h:1", false, 3, 100, 0, 200, true, ""),
                new ReplicaInfo("b", "h:11", false, 3, 99, 1, 9_000, true, ""),
                new ReplicaInfo("c", "", false, 0, 0, 0, 0, false, "")));
    ClusterHealth health = judge(List.of(grouped, up("node-2"), up("node-3")), List.of(), Map.of());

    assertThat(check(health, "replicas").status()).isEqualTo(Status.FAIL);
    assertThat(check(health, "replicas").detail())
        .isEqualTo(
            "node-1 has 1 of 3 replicas live (b silent for 9.0 s, c never heard from):"
                + " no majority, it serves nothing");
  }

  @Test
  void aDownNode_failsNodesAndData_namingWhatOfEachKeyspaceItHolds() {
    ClusterHealth health =
        judge(
            List.of(up("node-1"), up("node-2"), node("node-3", NodeState.DOWN, NodeState.UP, "")),
            List.of(),
            Map.of());

    assertThat(health.healthy()).isFalse();
    assertThat(health.failed()).extracting(Check::name).containsExactly("nodes", "data");
    assertThat(check(health, "nodes").detail())
        .isEqualTo("node-3 is DOWN (last heartbeat 2.5 s ago); 2 UP");
    assertThat(check(health, "data").detail())
        .isEqualTo(
            "default: 25.0% of the ring and 1 directory entry; tenants: 3 group(s);"
                + " users: 1 of 2 key range(s) (on DOWN node-3)");
    // A DOWN node is not tried: it is not counted among those that answer.
    assertThat(check(health, "reachable").detail()).startsWith("2 node(s) answer from here");
  }

  @Test
  void aNodeTheCoordinatorHearsButThisClientCannotReach_failsReachable() {
    ClusterHealth health =
        judge(
            List.of(up("node-1"), up("node-2"), up("node-3")),
            List.of(),
            Map.of("node-2", "at h:2 is unreachable: connection refused"));

    assertThat(health.failed()).extracting(Check::name).containsExactly("reachable");
    assertThat(check(health, "reachable").detail())
        .isEqualTo("node-2 at h:2 is unreachable: connection refused");
  }

  @Test
  void aDownNodeThatWasJoining_saysSo() {
    ClusterHealth health =
        judge(
            List.of(
                up("node-1"),
                up("node-2"),
                up("node-3"),
                node("node-4", NodeState.DOWN, NodeState.JOINING, "")),
            List.of(),
            Map.of());

    assertThat(check(health, "nodes").detail())
        .isEqualTo("node-4 is DOWN while JOINING (last heartbeat 2.5 s ago); 3 UP");
    // It owns nothing yet: every key's owner is still up.
    assertThat(check(health, "data").status()).isEqualTo(Status.OK);
  }

  @Test
  void migrations_warnOnlyForWhatWaitsForAnOperator() {
    NodeInfo retrying =
        node(
            "node-4",
            NodeState.JOINING,
            NodeState.JOINING,
            "a failure rolled back its moves; trying again in 2 s (attempt 2 of 5)");
    ClusterHealth running =
        judge(
            List.of(up("node-1"), retrying),
            List.of(migration("m7", "rebalance", false)),
            Map.of());
    assertThat(check(running, "migrations"))
        .isEqualTo(
            new Check(
                "migrations",
                Status.OK,
                "1 running (rebalance); node-4: a failure rolled back its moves; trying again in"
                    + " 2 s (attempt 2 of 5)"));
    assertThat(check(running, "nodes").detail()).isEqualTo("1 UP; node-4 is JOINING");

    NodeInfo stopped =
        node(
            "node-2",
            NodeState.DRAINING,
            NodeState.DRAINING,
            "drain stopped: an operator cancelled one of its moves; run `shardctl drain node-2` to"
                + " go on");
    ClusterHealth waiting =
        judge(
            List.of(up("node-1"), stopped),
            List.of(migration("m8", "join node-5", true)),
            Map.of());
    assertThat(check(waiting, "migrations").status()).isEqualTo(Status.WARN);
    assertThat(check(waiting, "migrations").detail())
        .isEqualTo(
            "1 running (join node-5); m8 is paused (join node-5); node-2: drain stopped: an"
                + " operator cancelled one of its moves; run `shardctl drain node-2` to go on");
    // A warning is not a failure.
    assertThat(waiting.healthy()).isTrue();
  }

  @Test
  void aNodeThatFoundDamagedData_failsTheStorageCheck_withItsLatestError() {
    NodeInfo damaged =
        new NodeInfo(
            "node-2",
            "h:2",
            NodeState.UP,
            NodeState.UP,
            0,
            0,
            0,
            0,
            false,
            0,
            0,
            0,
            0,
            2_500,
            "",
            false,
            3,
            "stored data is damaged (read): Corruption: block checksum mismatch",
            "",
            List.of(),
            "");

    ClusterHealth health = judge(List.of(up("node-1"), damaged, up("node-3")), List.of(), Map.of());

    assertThat(health.healthy()).isFalse();
    assertThat(health.failed()).extracting(Check::name).containsExactly("storage");
    assertThat(check(health, "storage").detail())
        .isEqualTo(
            "node-2: 3 read(s) found damaged data, the latest: stored data is damaged (read):"
                + " Corruption: block checksum mismatch");
  }

  @Test
  void aRegistrationRefusedAsAnotherClusters_failsTheNodesCheck() {
    String refusal =
        "node node-1 at h:1 belongs to cluster a, not to this coordinator's cluster b; if this"
            + " coordinator lost its metadata, restart it with --recover-from-nodes";

    ClusterHealth health =
        ClusterHealth.judge(
            "c:1",
            TABLE,
            List.of(),
            List.of(refusal),
            KEYSPACES,
            List.of(),
            EVEN,
            NO_REPAIRS,
            Map.of(),
            0);

    assertThat(check(health, "nodes").status()).isEqualTo(Status.FAIL);
    assertThat(check(health, "nodes").detail())
        .isEqualTo("refused nodes of another cluster: " + refusal);
  }

  @Test
  void anUnreachableCoordinator_isTheOnlyCheck_andFails() {
    ClusterHealth health =
        ClusterHealth.coordinatorUnreachable("coordinator at c:1 is unreachable");

    assertThat(health.healthy()).isFalse();
    assertThat(health.checks())
        .containsExactly(
            new Check("coordinator", Status.FAIL, "coordinator at c:1 is unreachable"));
  }

  @Test
  void balance_warnsOnlyWhenOverTheThresholdWithTheAutomaticBalancerOff() {
    assertThat(ClusterHealth.balanceCheck(plan(200, true, false, true)))
        .isEqualTo(
            new Check(
                "balance",
                Status.WARN,
                "node-3 holds the most, 1.50x the mean by keys, over 1.20x, and the automatic"
                    + " balancer is off: `shardctl rebalance` would make it 1.01x with 1 move(s)"));
    assertThat(ClusterHealth.balanceCheck(plan(200, true, true, true)))
        .isEqualTo(
            new Check(
                "balance",
                Status.OK,
                "node-3 holds the most, 1.50x the mean by keys, over 1.20x: once that lasts 30 s,"
                    + " the automatic balancer makes it 1.01x with 1 move(s)"));
    // Over the ratio, but by too few keys above the mean to be worth a move ...
    assertThat(ClusterHealth.balanceCheck(plan(200, false, true, false, true)))
        .isEqualTo(
            new Check(
                "balance",
                Status.OK,
                "node-3 holds the most, 1.50x the mean by keys, over 1.20x, but by too little to be"
                    + " worth a move (the automatic balancer is off)"));
    // ... or with nothing that would narrow the gap (one heavy directory entry moves only whole).
    assertThat(ClusterHealth.balanceCheck(plan(200, false, false, false, true)))
        .isEqualTo(
            new Check(
                "balance",
                Status.OK,
                "node-3 holds the most, 1.50x the mean by keys, over 1.20x, but no move would"
                    + " narrow it (the automatic balancer is off)"));
    // Just after a move, counts are stale: no verdict on them.
    assertThat(ClusterHealth.balanceCheck(plan(200, true, false, false)).status())
        .isEqualTo(Status.OK);
    assertThat(ClusterHealth.balanceCheck(plan(200, true, false, false)).detail())
        .endsWith("key counts predate the last move, and nodes count again within seconds");
    assertThat(ClusterHealth.balanceCheck(plan(101, false, false, true)).detail())
        .isEqualTo(
            "node-3 holds the most, 1.01x the mean by keys, within the balancer's 1.20x (the"
                + " automatic balancer is off)");
  }

  @Test
  void balance_withOneNode_hasNothingToEvenOut() {
    Map<String, Double> one = Map.of("node-1", 100.0);
    RebalancePlan plan =
        new RebalancePlan(
            "keys",
            1,
            1,
            List.of(),
            one,
            one,
            List.of(),
            new RebalancePlan.Balancer(true, 0.2, Duration.ofSeconds(30), false, true));
    assertThat(ClusterHealth.balanceCheck(plan))
        .isEqualTo(new Check("balance", Status.OK, "fewer than 2 UP nodes: nothing to even out"));
  }

  @Test
  void aDirectoryChangeAFailureRolledBack_isShownWhileTriedAgain_andWarnsOnceTheTriesRunOut() {
    List<NodeInfo> nodes = List.of(up("node-1"), up("node-2"));
    MigrationInfo placed = ended("m5", "directory set", "prefix a:", 1_000, "DONE", "");
    MigrationInfo rolledBack =
        ended(
            "m6",
            "directory set",
            "prefix hot:",
            2_000,
            "CANCELLED",
            "cutover was held up over 10 s: node-2 did not answer");

    // The coordinator tries it again by itself: shown, nothing for an operator to do.
    Check retried = check(judge(nodes, List.of(placed, rolledBack), Map.of()), "migrations");
    assertThat(retried)
        .isEqualTo(
            new Check(
                "migrations",
                Status.OK,
                "none running; m6 (directory set: prefix hot:) was rolled back (cutover was held"
                    + " up over 10 s: node-2 did not answer); the coordinator tries it again"
                    + " (attempt 2 of 5)"));

    // Its target gone quiet: tried again once it answers.
    List<NodeInfo> targetDown =
        List.of(up("node-1"), node("node-2", NodeState.DOWN, NodeState.UP, ""));
    assertThat(
            check(judge(targetDown, List.of(placed, rolledBack), Map.of()), "migrations").detail())
        .endsWith("the coordinator tries it again once node-2 answers (attempt 2 of 5)");

    // Its target removed since: nothing to place the keys on, nothing to run again.
    List<NodeInfo> targetRemoved =
        List.of(up("node-1"), node("node-2", NodeState.REMOVED, NodeState.REMOVED, ""));
    assertThat(check(judge(targetRemoved, List.of(placed, rolledBack), Map.of()), "migrations"))
        .isEqualTo(
            new Check(
                "migrations",
                Status.OK,
                "none running; m6 (directory set: prefix hot:) was rolled back; not tried again:"
                    + " node-2 was removed"));

    // Its last try rolled back too: the change was not made, and waits for an operator.
    MigrationInfo lastTry =
        withAttempt(
            ended("m7", "directory set", "prefix hot:", 3_000, "CANCELLED", "checksums disagree"),
            MigrationInfo.MAX_ATTEMPTS);
    assertThat(check(judge(nodes, List.of(placed, rolledBack, lastTry), Map.of()), "migrations"))
        .isEqualTo(
            new Check(
                "migrations",
                Status.WARN,
                "none running; m7 (directory set: prefix hot:) was rolled back 5 times"
                    + " (checksums disagree); the change was not made: run it again"));

    // Made again (a later change of the entry): the operator has seen to it. A later change of
    // another entry does not answer it.
    MigrationInfo elsewhere = ended("m7b", "directory set", "key k", 3_200, "DONE", "");
    assertThat(
            check(
                    judge(nodes, List.of(placed, rolledBack, lastTry, elsewhere), Map.of()),
                    "migrations")
                .status())
        .isEqualTo(Status.WARN);
    MigrationInfo again = ended("m8", "directory set", "prefix hot:", 3_500, "DONE", "");
    assertThat(
            check(
                judge(nodes, List.of(placed, rolledBack, lastTry, again), Map.of()), "migrations"))
        .isEqualTo(new Check("migrations", Status.OK, "none running"));
    // Cancelled by an operator, or other moves rolled back (a join tries again by itself).
    MigrationInfo cancelled = ended("m9", "directory set", "prefix hot:", 4_000, "CANCELLED", "");
    MigrationInfo join = ended("m10", "join node-3", "1 range", 5_000, "CANCELLED", "held up");
    assertThat(check(judge(nodes, List.of(cancelled, join), Map.of()), "migrations").status())
        .isEqualTo(Status.OK);
  }
}
