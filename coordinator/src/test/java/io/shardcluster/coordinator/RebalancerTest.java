package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.routing.MovingSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RebalancerTest {
  private static Migration migration(MigrationPhase phase, long estimatedKeys) {
    return Migration.newBuilder().setPhase(phase).setEstimatedKeys(estimatedKeys).build();
  }

  @Test
  void holdsCopySlot_onlyWhileAboutToCopyOrCopyingKeys() {
    // Before it begins, nobody knows how much it will copy.
    assertThat(Rebalancer.holdsCopySlot(migration(MigrationPhase.PLANNED, 0))).isTrue();
    assertThat(Rebalancer.holdsCopySlot(migration(MigrationPhase.COPYING, 10))).isTrue();
    assertThat(Rebalancer.holdsCopySlot(migration(MigrationPhase.CATCHING_UP, 10))).isTrue();
    // A source with no keys to move has nothing to copy.
    assertThat(Rebalancer.holdsCopySlot(migration(MigrationPhase.COPYING, 0))).isFalse();
    assertThat(Rebalancer.holdsCopySlot(migration(MigrationPhase.CATCHING_UP, 0))).isFalse();
    // Past the copy: fencing, committing, cleaning up, ended.
    for (MigrationPhase phase :
        new MigrationPhase[] {
          MigrationPhase.CUTOVER,
          MigrationPhase.COMMITTED,
          MigrationPhase.DONE,
          MigrationPhase.CANCELLED
        }) {
      assertThat(Rebalancer.holdsCopySlot(migration(phase, 10))).as(phase.name()).isFalse();
    }
  }

  private static LoadPlanner.Plan plan(double... loads) {
    Map<String, Double> before = new LinkedHashMap<>();
    for (int i = 0; i < loads.length; i++) {
      before.put("n" + (i + 1), loads[i]);
    }
    LoadPlanner.Move move =
        new LoadPlanner.Move("n1", "n2", new MovingSet("default", List.of(), List.of()), 1);
    return new LoadPlanner.Plan(List.of(move), before, before);
  }

  @Test
  void worthBalancing_needsTheThreshold_andAnExcessWorthAMove() {
    // One node with the only key of a new cluster: 3x the mean, but one key.
    assertThat(Rebalancer.worthBalancing(plan(1, 0, 0), 0.2, "keys")).isFalse();
    assertThat(Rebalancer.worthBalancing(plan(1_400, 0, 0), 0.2, "keys")).isFalse();
    assertThat(Rebalancer.worthBalancing(plan(1_600, 0, 0), 0.2, "keys")).isTrue();
    // Within the threshold however large.
    assertThat(Rebalancer.worthBalancing(plan(115_000, 100_000, 85_000), 0.2, "keys")).isFalse();
    assertThat(Rebalancer.worthBalancing(plan(130_000, 100_000, 70_000), 0.2, "keys")).isTrue();
    // Ops/s have their own floor.
    assertThat(Rebalancer.worthBalancing(plan(120, 0, 0), 0.2, "ops")).isFalse();
    assertThat(Rebalancer.worthBalancing(plan(600, 0, 0), 0.2, "ops")).isTrue();
    assertThat(
            Rebalancer.worthBalancing(
                new LoadPlanner.Plan(List.of(), plan(1_600, 0, 0).before(), Map.of()), 0.2, "keys"))
        .isFalse();
  }
}
