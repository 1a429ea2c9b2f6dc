package io.shardcluster.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class RolledBackDirectoryChangeTest {
  private static NodeInfo node(String id, NodeState state) {
    return new NodeInfo(
        id,
        "h:" + id.charAt(5),
        state,
        state,
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
        0,
        "",
        "",
        List.of(),
        "");
  }

  /** A migration a failure rolled back; {@code latest}: of the latest round of its entry. */
  private static MigrationInfo migration(
      String id,
      String reason,
      String what,
      String source,
      String target,
      int attempt,
      String group,
      boolean latest) {
    return new MigrationInfo(
        id,
        source,
        target,
        what,
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
        group,
        latest,
        0,
        "");
  }

  private static RolledBackDirectoryChange only(
      List<MigrationInfo> migrations, List<NodeInfo> nodes) {
    List<RolledBackDirectoryChange> changes = RolledBackDirectoryChange.all(migrations, nodes);
    assertThat(changes).hasSize(1);
    return changes.get(0);
  }

  @Test
  void eachEntry_hasItsOwnChange_answeredOnlyByALaterChangeOfIt() {
    List<NodeInfo> nodes = List.of(node("node-1", NodeState.UP), node("node-2", NodeState.DOWN));
    // hot: to node-2 rolled back, then cold: to node-1 rolled back, then a later change of key k
    // made: each entry's latest change counts (the coordinator marks which those are).
    List<MigrationInfo> migrations =
        List.of(
            migration("m1", "directory set", "prefix hot:", "node-1", "node-2", 1, "", true),
            migration("m2", "directory set", "prefix cold:", "node-2", "node-1", 2, "", true),
            new MigrationInfo(
                "m3",
                "node-1",
                "node-2",
                "key k",
                0,
                "DONE",
                false,
                "directory set",
                1,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                "",
                3_000,
                3_500,
                4_000,
                false,
                false,
                "",
                true,
                0,
                ""));
    assertThat(RolledBackDirectoryChange.all(migrations, nodes))
        .extracting(c -> c.migration().id() + " " + c.retryComing() + " " + c.down())
        .containsExactly("m1 false [node-2]", "m2 false [node-2]");
    assertThat(RolledBackDirectoryChange.all(migrations, nodes).get(1).describe())
        .endsWith("the coordinator tries it again once node-2 answers (attempt 3 of 5)");
  }

  @Test
  void aRemovalOfAPrefixTheRingSpreads_waitsForEveryNodeItsMovesGoTo() {
    // Removing t: from node-1 moves its keys to node-2 and node-3 in one group of two migrations.
    List<MigrationInfo> round =
        List.of(
            migration("m4", "directory remove", "prefix t:", "node-1", "node-2", 1, "m4", true),
            migration("m5", "directory remove", "prefix t:", "node-1", "node-3", 1, "m4", true));
    List<NodeInfo> allUp =
        List.of(
            node("node-1", NodeState.UP),
            node("node-2", NodeState.UP),
            node("node-3", NodeState.UP));
    RolledBackDirectoryChange comes = only(round, allUp);
    assertThat(comes.migration().id()).isEqualTo("m5");
    assertThat(comes.retryComing()).isTrue();
    assertThat(comes.needsOperator()).isFalse();

    // node-2 is DOWN: named though the latest migration of the group goes to node-3.
    List<NodeInfo> oneDown =
        List.of(
            node("node-1", NodeState.UP),
            node("node-2", NodeState.DOWN),
            node("node-3", NodeState.UP));
    RolledBackDirectoryChange waits = only(round, oneDown);
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
    assertThat(only(round, oneRemoved).retryComing()).isTrue();
  }

  @Test
  void aSetToARemovedNode_orWhoseTriesRanOut_isNotComing() {
    List<NodeInfo> nodes = List.of(node("node-1", NodeState.UP), node("node-2", NodeState.REMOVED));
    MigrationInfo set =
        migration("m6", "directory set", "prefix t:", "node-1", "node-2", 1, "", false);
    RolledBackDirectoryChange removed =
        only(
            List.of(migration("m6", "directory set", "prefix t:", "node-1", "node-2", 1, "", true)),
            nodes);
    assertThat(removed.targetRemoved()).isTrue();
    assertThat(removed.retryComing()).isFalse();
    assertThat(removed.needsOperator()).isFalse();

    MigrationInfo last =
        migration(
            "m7",
            "directory set",
            "prefix t:",
            "node-2",
            "node-1",
            MigrationInfo.MAX_ATTEMPTS,
            "",
            true);
    RolledBackDirectoryChange ranOut = only(List.of(set, last), nodes);
    assertThat(ranOut.migration().id()).isEqualTo("m7");
    assertThat(ranOut.retryComing()).isFalse();
    assertThat(ranOut.needsOperator()).isTrue();
  }
}
