package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.shardcluster.coordinator.MembershipChanges.Retry;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.routing.RangeMap;
import io.shardcluster.rpc.RoutingTables;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MembershipChangesTest {
  private static final long QUARTER = 1L << 62;

  private static Migration rolledBack(String source, MovingSet moving) {
    return Migration.newBuilder()
        .setId("m1")
        .setSource(source)
        .setTarget("node-4")
        .setReason("join node-4")
        .setPhase(MigrationPhase.CANCELLED)
        .setRetryable(true)
        .setMoving(RoutingTables.toProto(moving))
        .build();
  }

  private static ClusterState withRing(List<Long> starts, List<String> owners) {
    return ClusterState.initial()
        .withKeyspace(Keyspace.hash(Keyspace.DEFAULT).withRing(HashRing.of(starts, owners)));
  }

  private static ClusterState withRanges(
      String keyspace, List<String> starts, List<String> owners) {
    return ClusterState.initial()
        .withKeyspace(
            Keyspace.range(
                keyspace,
                RangeMap.of(
                    starts.stream().map(s -> s.getBytes(StandardCharsets.UTF_8)).toList(),
                    owners)));
  }

  private static KeyRange keys(String start, String end) {
    return new KeyRange(ByteString.copyFromUtf8(start), ByteString.copyFromUtf8(end));
  }

  @Test
  void aJoinMoveWhoseSourceStillOwnsIt_isTriedAgainAsItWas() {
    ClusterState state =
        withRing(List.of(0L, QUARTER, Long.MIN_VALUE), List.of("node-1", "node-2", "node-3"));
    MovingSet moving =
        new MovingSet(
            Keyspace.DEFAULT, List.of(new PositionRange(QUARTER / 2, QUARTER)), List.of());

    assertThat(MembershipChanges.fromOwnersNow(state, rolledBack("node-1", moving)))
        .containsExactly(new Retry("node-1", moving));
  }

  @Test
  void aJoinMoveWhoseSourceGaveItAway_isTriedAgainFromEachNewOwner() {
    // node-1's [0, QUARTER) went to node-2 and node-3 (say, by a drain) since the move was planned.
    ClusterState state =
        withRing(
            List.of(0L, QUARTER / 4 * 3, QUARTER, Long.MIN_VALUE),
            List.of("node-2", "node-3", "node-2", "node-3"));
    MovingSet moving =
        new MovingSet(
            Keyspace.DEFAULT, List.of(new PositionRange(QUARTER / 2, QUARTER)), List.of());

    assertThat(MembershipChanges.fromOwnersNow(state, rolledBack("node-1", moving)))
        .containsExactly(
            new Retry(
                "node-2",
                new MovingSet(
                    Keyspace.DEFAULT,
                    List.of(new PositionRange(QUARTER / 2, QUARTER / 4 * 3)),
                    List.of())),
            new Retry(
                "node-3",
                new MovingSet(
                    Keyspace.DEFAULT,
                    List.of(new PositionRange(QUARTER / 4 * 3, QUARTER)),
                    List.of())));
  }

  @Test
  void aJoinMoveOfWholeRanges_isTriedAgainFromTheirOwnersNow() {
    MovingSet moving = MovingSet.ofKeyRanges("users", List.of(keys("", "m"), keys("t", "")));
    Migration failed = rolledBack("node-1", moving);

    ClusterState moved =
        withRanges("users", List.of("", "m", "t"), List.of("node-2", "node-2", "node-3"));
    assertThat(MembershipChanges.fromOwnersNow(moved, failed))
        .containsExactly(
            new Retry("node-2", MovingSet.ofKeyRanges("users", List.of(keys("", "m")))),
            new Retry("node-3", MovingSet.ofKeyRanges("users", List.of(keys("t", "")))));
  }

  @Test
  void aJoinMoveOfARangeSplitSince_isTriedAgainPieceByPiece() {
    MovingSet moving = MovingSet.ofKeyRanges("users", List.of(keys("", "m"), keys("t", "")));
    Migration failed = rolledBack("node-1", moving);

    // ["", "m") was split at "f" and "j", and node-4 got ["f", "j") since; ["t", end) at "x", and
    // a drain gave ["x", end) to node-3. Range ["m", "t") was never part of the move.
    ClusterState split =
        withRanges(
            "users",
            List.of("", "f", "j", "m", "t", "x"),
            List.of("node-1", "node-4", "node-1", "node-2", "node-1", "node-3"));
    assertThat(MembershipChanges.fromOwnersNow(split, failed))
        .containsExactly(
            new Retry(
                "node-1",
                MovingSet.ofKeyRanges(
                    "users", List.of(keys("", "f"), keys("j", "m"), keys("t", "x")))),
            new Retry("node-3", MovingSet.ofKeyRanges("users", List.of(keys("x", "")))));
  }

  /** A planner returns its plan and records nothing: the Rebalancer applies it. */
  @Test
  void planNextJoin_aJoiningNode_plansItsShareFromTheDonors_andRecordsNothing(@TempDir Path dir)
      throws Exception {
    LivenessTest.ManualClock clock = new LivenessTest.ManualClock();
    Liveness liveness = new Liveness(clock, Duration.ofSeconds(3));
    MetadataStore store = MetadataStore.open(dir);
    try {
      Cluster cluster = Cluster.open(store, liveness, (node, address, ks, start, end) -> 0L);
      cluster.membership().register("n1", "127.0.0.1:1", "i1");
      cluster.membership().register("n2", "127.0.0.1:2", "i2");
      CoordinatorConfig config = CoordinatorConfig.defaults("127.0.0.1", 0, dir);
      MembershipChanges members =
          new MembershipChanges(
              cluster, liveness, config, clock, new Balancer(cluster, liveness, config, clock));
      ClusterState before = cluster.state();

      Plan plan = members.planNextJoin(before);

      assertThat(plan.holds()).isTrue();
      assertThat(plan.migrations())
          .isNotEmpty()
          .allSatisfy(
              m -> {
                assertThat(m.getSource()).isEqualTo("n1");
                assertThat(m.getTarget()).isEqualTo("n2");
                assertThat(m.getReason()).isEqualTo("join n2");
                assertThat(m.getPhase()).isEqualTo(MigrationPhase.PLANNED);
              });
      assertThat(cluster.state()).isEqualTo(before);
      // Applied, it is recorded; then there is no join left to plan.
      ClusterState after = cluster.update(s -> plan.applyTo(s, clock.millis()));
      assertThat(after.activeMigrations()).hasSameSizeAs(plan.migrations());
      assertThat(members.planNextJoin(after).holds()).isFalse();
    } finally {
      store.close();
    }
  }
}
