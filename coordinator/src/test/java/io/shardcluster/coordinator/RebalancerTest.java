package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
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
}
