package io.shardcluster.coordinator;

import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Migrations that commit together: those with the same {@code Migration.group}, which a directory
 * entry placed over keys of several nodes makes (one per node). Each member reports itself ready
 * once its source is fenced and the checksums agree; the report that completes the group lets its
 * runner commit every member in one update. Readiness is kept in memory only: after a coordinator
 * restart each member fences and compares again, which is idempotent. One rolled back member rolls
 * back the others, so the group commits whole or not at all.
 */
final class CommitGroups {
  private final Map<String, Set<String>> ready = new HashMap<>();

  /** The migration's group as the state has it: only the migration itself if it has none. */
  static List<Migration> members(ClusterState state, Migration migration) {
    if (migration.getGroup().isEmpty()) {
      return List.of(migration);
    }
    return state.migrations().values().stream()
        .filter(m -> m.getGroup().equals(migration.getGroup()))
        .toList();
  }

  /** Whether every member has copied its keys (is in cutover or later). */
  static boolean allPastCopy(List<Migration> members) {
    return members.stream()
        .allMatch(
            m ->
                m.getPhase() == MigrationPhase.CUTOVER
                    || m.getPhase() == MigrationPhase.COMMITTED
                    || m.getPhase() == MigrationPhase.DONE);
  }

  /** Another member of the migration's group that was rolled back, if any. */
  static Optional<String> rolledBackMember(ClusterState state, Migration migration) {
    if (migration.getGroup().isEmpty()) {
      return Optional.empty();
    }
    return members(state, migration).stream()
        .filter(
            m -> m.getPhase() == MigrationPhase.CANCELLED && !m.getId().equals(migration.getId()))
        .map(Migration::getId)
        .findFirst();
  }

  /** Records the member ready; true once every member of its group is. */
  synchronized boolean ready(Migration member, List<Migration> members) {
    Set<String> readyMembers = ready.computeIfAbsent(member.getGroup(), g -> new HashSet<>());
    readyMembers.add(member.getId());
    return members.stream().allMatch(m -> readyMembers.contains(m.getId()));
  }

  /** Forgets the readiness of the member's group (committed or rolled back). */
  synchronized void forget(Migration member) {
    ready.remove(member.getGroup());
  }
}
