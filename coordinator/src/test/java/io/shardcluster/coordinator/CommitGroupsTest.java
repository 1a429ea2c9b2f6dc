package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CommitGroupsTest {
  private static Migration migration(String id, String group, MigrationPhase phase) {
    return Migration.newBuilder().setId(id).setGroup(group).setPhase(phase).build();
  }

  private static ClusterState state(Migration... migrations) {
    ClusterState state = ClusterState.initial();
    for (Migration migration : migrations) {
      state = state.withMigration(migration);
    }
    return state;
  }

  @Test
  void members_areTheMigrationsOfTheGroup_orTheMigrationAlone() {
    Migration a = migration("m1", "m1", MigrationPhase.COPYING);
    Migration b = migration("m2", "m1", MigrationPhase.CUTOVER);
    Migration alone = migration("m3", "", MigrationPhase.COPYING);
    ClusterState state = state(a, b, alone);

    assertThat(CommitGroups.members(state, b)).containsExactlyInAnyOrder(a, b);
    assertThat(CommitGroups.members(state, alone)).containsExactly(alone);
    assertThat(CommitGroups.allPastCopy(List.of(a, b))).isFalse();
    assertThat(CommitGroups.allPastCopy(List.of(b, migration("m4", "m1", MigrationPhase.DONE))))
        .isTrue();
  }

  @Test
  void ready_isTrueOnlyForTheReportThatCompletesTheGroup_untilForgotten() {
    Migration a = migration("m1", "m1", MigrationPhase.CUTOVER);
    Migration b = migration("m2", "m1", MigrationPhase.CUTOVER);
    CommitGroups groups = new CommitGroups();

    assertThat(groups.ready(a, List.of(a, b))).isFalse();
    assertThat(groups.ready(a, List.of(a, b))).isFalse();
    assertThat(groups.ready(b, List.of(a, b))).isTrue();
    groups.forget(a);
    // After a coordinator restart, or a rollback, every member reports again.
    assertThat(groups.ready(b, List.of(a, b))).isFalse();
  }

  @Test
  void rolledBackMember_namesAnotherCancelledMember() {
    Migration a = migration("m1", "m1", MigrationPhase.CUTOVER);
    Migration b = migration("m2", "m1", MigrationPhase.CANCELLED);
    ClusterState state = state(a, b);

    assertThat(CommitGroups.rolledBackMember(state, a)).isEqualTo(Optional.of("m2"));
    assertThat(CommitGroups.rolledBackMember(state, b)).isEmpty();
    assertThat(CommitGroups.rolledBackMember(state, migration("m3", "", MigrationPhase.CUTOVER)))
        .isEmpty();
  }
}
