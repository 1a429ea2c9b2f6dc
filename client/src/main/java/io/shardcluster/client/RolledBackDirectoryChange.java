package io.shardcluster.client;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A directory change ({@code directory set}, {@code move} or {@code remove}) that a failure rolled
 * back and nothing answered since, and what the coordinator's next try of it waits for. Health,
 * {@code shardctl migrations} (with {@code --watch}) and {@code shardctl wait --migrations-done}
 * judge it the same way.
 *
 * @param migration its latest migration (see {@link MigrationInfo#rolledBackDirectoryChanges})
 * @param down the nodes its migrations move keys between that are DOWN: the coordinator tries it
 *     again once they answer
 * @param targetRemoved whether the node it places keys on has been removed: it is not tried again,
 *     and there is nothing for an operator to run again
 */
public record RolledBackDirectoryChange(
    MigrationInfo migration, List<String> down, boolean targetRemoved) {

  /** The directory changes among these migrations that a failure rolled back, oldest first. */
  public static List<RolledBackDirectoryChange> all(
      List<MigrationInfo> migrations, List<NodeInfo> nodes) {
    return MigrationInfo.rolledBackDirectoryChanges(migrations).stream()
        .map(m -> judged(m, migrations, nodes))
        .toList();
  }

  private static RolledBackDirectoryChange judged(
      MigrationInfo m, List<MigrationInfo> migrations, List<NodeInfo> nodes) {
    // A change whose migrations commit together is tried again once all their nodes answer.
    Set<String> between =
        migrations.stream()
            .filter(
                o -> o.id().equals(m.id()) || (!m.group().isEmpty() && o.group().equals(m.group())))
            .flatMap(o -> Stream.of(o.source(), o.target()))
            .collect(Collectors.toSet());
    List<String> down =
        nodes.stream()
            .filter(n -> n.state() == NodeState.DOWN && between.contains(n.id()))
            .map(NodeInfo::id)
            .sorted()
            .toList();
    // A removal places keys back on the ring's nodes, not on one target.
    boolean targetRemoved =
        !m.reason().equals("directory remove")
            && nodes.stream()
                .filter(n -> n.id().equals(m.target()))
                .findFirst()
                .map(n -> n.state() == NodeState.REMOVED)
                .orElse(true);
    return new RolledBackDirectoryChange(m, down, targetRemoved);
  }

  /**
   * Whether the coordinator is about to try it again by itself: tries are left, its target is a
   * member and all its nodes answer, so it starts within its pause (2 s after the first failure,
   * doubling).
   */
  public boolean retryComing() {
    return !targetRemoved && migration.triedAgain() && down.isEmpty();
  }

  /** Whether an operator has to run it again: every try was rolled back. */
  public boolean needsOperator() {
    return !targetRemoved && !migration.triedAgain();
  }

  /**
   * One line: {@code m000012 (directory set: prefix hot:) was rolled back (cutover was held up
   * ...); the coordinator tries it again once node-1 answers (attempt 2 of 5)}.
   */
  public String describe() {
    MigrationInfo m = migration;
    if (targetRemoved) {
      return m.label() + " was rolled back; not tried again: " + m.target() + " was removed";
    }
    boolean gaveUp = !m.triedAgain();
    String when = down.isEmpty() ? "" : " once " + String.join(" and ", down) + " answers";
    return m.label()
        + " was rolled back"
        + (gaveUp ? " " + m.attempt() + " times" : "")
        + (m.lastError().isEmpty() ? "" : " (" + m.lastError() + ")")
        + (gaveUp
            ? "; the change was not made: run it again"
            : "; the coordinator tries it again" + when + " (" + nextAttempt() + ")");
  }

  /** Its next try: {@code attempt 2 of 5}. */
  public String nextAttempt() {
    return String.format(
        Locale.ROOT, "attempt %d of %d", migration.attempt() + 1, MigrationInfo.MAX_ATTEMPTS);
  }
}
