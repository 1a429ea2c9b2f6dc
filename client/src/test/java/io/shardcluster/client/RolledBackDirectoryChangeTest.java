package io.shardcluster.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class RolledBackDirectoryChangeTest {
  private static NodeInfo node(String id, NodeState state) {
    return new NodeInfo(
        id, "h:" + id.charAt(5), state, state, 0, 0, 0, 0, false, 0, 0, 0, 0, 2_500, "", false);
  }

  private static MigrationInfo migration(
      String id, String reason, String source, String target, int attempt, String group) {
    return new MigrationInfo(
        id,
        source,
        target,
        "prefix t:",
        0.1,
        "CANCELLED",
        false,
        reason,
        attempt,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        "cutover was held up",
        1_000,
        0,
        2_000,
        true,
        false,
        group);
  }

  @Test
  void aRemovalOfAPrefixTheRingSpreads_waitsForEveryNodeItsMovesGoTo() {
    // Removing t: from node-1 moves its keys to node-2 and node-3 in one group of two migrations.
    List<MigrationInfo> round =
        List.of(
            migration("m4", "directory remove", "node-1", "node-2", 1, "m4"),
            migration("m5", "directory remove", "node-1", "node-3", 1, "m4"));
    List<NodeInfo> allUp =
        List.of(
            node("node-1", NodeState.UP),
            node("node-2", NodeState.UP),
            node("node-3", NodeState.UP));
    RolledBackDirectoryChange comes = RolledBackDirectoryChange.find(round, allUp).orElseThrow();
    assertThat(comes.migration().id()).isEqualTo("m5");
    assertThat(comes.retryComing()).isTrue();
    assertThat(comes.needsOperator()).isFalse();

    // node-2 is DOWN: named though the latest migration of the group goes to node-3.
    List<NodeInfo> oneDown =
        List.of(
            node("node-1", NodeState.UP),
            node("node-2", NodeState.DOWN),
            node("node-3", NodeState.UP));
    RolledBackDirectoryChange waits = RolledBackDirectoryChange.find(round, oneDown).orElseThrow();
    assertThat(waits.down()).containsExactly("node-2");
    assertThat(waits.retryComing()).isFalse();
    assertThat(waits.needsOperator()).isFalse();
    assertThat(waits.describe())
        .isEqualTo(
            "m5 (directory remove: prefix t:) was rolled back (cutover was held up); the"
                + " coordinator tries it again once node-2 answers (attempt 2 of 5)");

    // A removal puts keys back on the ring's nodes: one of them removed does not end it.
    List<NodeInfo> oneRemoved =
        List.of(
            node("node-1", NodeState.UP),
            node("node-2", NodeState.UP),
            node("node-3", NodeState.REMOVED));
    assertThat(RolledBackDirectoryChange.find(round, oneRemoved).orElseThrow().retryComing())
        .isTrue();
  }

  @Test
  void aSetToARemovedNode_orWhoseTriesRanOut_isNotComing() {
    List<NodeInfo> nodes = List.of(node("node-1", NodeState.UP), node("node-2", NodeState.REMOVED));
    MigrationInfo set = migration("m6", "directory set", "node-1", "node-2", 1, "");
    RolledBackDirectoryChange removed =
        RolledBackDirectoryChange.find(List.of(set), nodes).orElseThrow();
    assertThat(removed.targetRemoved()).isTrue();
    assertThat(removed.retryComing()).isFalse();
    assertThat(removed.needsOperator()).isFalse();

    MigrationInfo last =
        migration("m7", "directory set", "node-2", "node-1", MigrationInfo.MAX_ATTEMPTS, "");
    RolledBackDirectoryChange ranOut =
        RolledBackDirectoryChange.find(List.of(set, last), nodes).orElseThrow();
    assertThat(ranOut.migration().id()).isEqualTo("m7");
    assertThat(ranOut.retryComing()).isFalse();
    assertThat(ranOut.needsOperator()).isTrue();
  }
}
