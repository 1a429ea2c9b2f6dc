package io.shardcluster.coordinator;

import com.google.protobuf.ByteString;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.rpc.Limits;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * When a join, a drain or a directory change tries again the moves that failures rolled back.
 *
 * <p>Each plans its migrations in rounds: the first when it starts, one more each time it tries
 * again. The migrations of a round share their reason ("join node-4", "directory set"), their
 * creation time and their attempt number. When the latest round has ended with a migration rolled
 * back by a failure ({@link Migration#getRetryable()}) and none cancelled by an operator, it tries
 * again, {@link #FIRST_DELAY_MS} after the round ended and twice as long after each later round,
 * {@link #MAX_ATTEMPTS} times in all. An operator's cancel stops it. A directory change's rounds
 * are those of the same entry or group ({@link #latestDirectoryChanges}): any later change of it,
 * whoever made it, is the one that counts.
 */
final class RollbackRetries {
  /** Rounds a join, drain or directory change makes at most, the first included. */
  static final int MAX_ATTEMPTS = Limits.MAX_MIGRATION_ATTEMPTS;

  /** The wait after a failed first round; it doubles with each round after. */
  static final long FIRST_DELAY_MS = 2_000;

  private RollbackRetries() {}

  /** The migrations of one round of a join or drain, in creation order. */
  record Round(List<Migration> migrations) {
    /** Which try this round is, from 1. */
    int attempt() {
      return Math.max(1, migrations.get(0).getAttempt());
    }

    /** The migrations a failure rolled back. */
    List<Migration> rolledBack() {
      return migrations.stream()
          .filter(m -> m.getPhase() == MigrationPhase.CANCELLED && m.getRetryable())
          .toList();
    }

    /** Whether an operator cancelled one of its migrations. */
    boolean cancelledByAnOperator() {
      return migrations.stream()
          .anyMatch(m -> m.getPhase() == MigrationPhase.CANCELLED && !m.getRetryable());
    }

    /**
     * Whether it is tried again after this round: every migration ended, a failure rolled one back,
     * no operator cancelled one, and attempts are left.
     */
    boolean retries() {
      return unanswered() && attempt() < MAX_ATTEMPTS;
    }

    /**
     * Whether a failure rolled it back and nothing answered it yet: every migration ended, a
     * failure rolled one back, no operator cancelled one, and no change made at once superseded it.
     * As the latest round of a directory change, it is tried again, or waits for an operator once
     * its tries ran out.
     */
    boolean unanswered() {
      return migrations.stream().allMatch(ClusterState::isFinished)
          && !rolledBack().isEmpty()
          && !cancelledByAnOperator()
          && migrations.stream().noneMatch(Migration::getSuperseded);
    }

    /** Whether it made its last try and still failed. */
    boolean gaveUp() {
      return attempt() >= MAX_ATTEMPTS
          && !rolledBack().isEmpty()
          && migrations.stream().allMatch(ClusterState::isFinished);
    }

    /** When the next round may start: the delay for this attempt after the round ended. */
    long retryAtMs() {
      long ended = migrations.stream().mapToLong(Migration::getFinishedMs).max().orElse(0);
      return ended + (FIRST_DELAY_MS << Math.min(attempt() - 1, 20));
    }
  }

  /** The latest round of the join or drain with this reason, if it has planned any. */
  static Optional<Round> latest(ClusterState state, String reason) {
    List<Migration> ofReason =
        state.migrations().values().stream().filter(m -> m.getReason().equals(reason)).toList();
    return ofReason.isEmpty() ? Optional.empty() : Optional.of(lastRound(ofReason));
  }

  /**
   * The latest round of each entry or group that a directory change ({@code directory set}, {@code
   * move} or {@code remove}) has touched, in the order of their first change.
   */
  static List<Round> latestDirectoryChanges(ClusterState state) {
    Map<Changed, List<Migration>> byChanged = new LinkedHashMap<>();
    for (Migration migration : state.migrations().values()) {
      changed(migration)
          .ifPresent(c -> byChanged.computeIfAbsent(c, x -> new ArrayList<>()).add(migration));
    }
    return byChanged.values().stream().map(RollbackRetries::lastRound).toList();
  }

  /** Ids of the migrations of the latest round of changes of each directory entry or group. */
  static Set<String> latestDirectoryChangeIds(ClusterState state) {
    return latestDirectoryChanges(state).stream()
        .flatMap(round -> round.migrations().stream())
        .map(Migration::getId)
        .collect(Collectors.toSet());
  }

  /**
   * The migrations of the latest round of the entry's changes, if a failure rolled it back and
   * nothing answered it (see {@link Round#unanswered()}): what a change of the entry made at once
   * answers, so that they are neither tried again nor shown as waiting for an operator (see {@link
   * Migration#getSuperseded()}).
   */
  static List<Migration> unanswered(ClusterState state, String keyspace, DirectoryEntry entry) {
    Changed changed = new Changed(keyspace, entry.prefix() ? "prefix" : "key", entry.key());
    return unanswered(state, c -> c.equals(changed));
  }

  /** The same for the directory changes of a keyspace. */
  static List<Migration> unanswered(ClusterState state, String keyspace) {
    return unanswered(state, c -> c.keyspace().equals(keyspace));
  }

  private static List<Migration> unanswered(ClusterState state, Predicate<Changed> which) {
    return latestDirectoryChanges(state).stream()
        .filter(Round::unanswered)
        .filter(round -> changed(round.migrations().get(0)).filter(which).isPresent())
        .flatMap(round -> round.migrations().stream())
        .toList();
  }

  /**
   * Marks these migrations superseded: they are not tried again. The same state when every one is
   * already, so that {@link Cluster#update} writes nothing.
   */
  static ClusterState supersede(ClusterState state, List<Migration> migrations) {
    ClusterState next = state;
    for (Migration migration : migrations) {
      Migration current = next.migrations().get(migration.getId());
      if (current != null && !current.getSuperseded()) {
        next = next.withMigration(current.toBuilder().setSuperseded(true).build());
      }
    }
    return next;
  }

  /** What a directory change changes: an entry (key or prefix) or a group, of a keyspace. */
  private record Changed(String keyspace, String kind, ByteString key) {}

  private static Optional<Changed> changed(Migration migration) {
    if (!migration.getReason().startsWith("directory ")) {
      return Optional.empty();
    }
    var moving = migration.getMoving();
    String keyspace = moving.getKeyspace();
    if (migration.getRemovesCount() > 0) {
      var entry = migration.getRemoves(0);
      return Optional.of(
          new Changed(keyspace, entry.getPrefix() ? "prefix" : "key", entry.getKey()));
    }
    if (moving.getEntriesCount() > 0) {
      var entry = moving.getEntries(0);
      return Optional.of(
          new Changed(keyspace, entry.getPrefix() ? "prefix" : "key", entry.getKey()));
    }
    if (moving.getGroupsCount() > 0) {
      return Optional.of(new Changed(keyspace, "group", moving.getGroups(0)));
    }
    return Optional.empty();
  }

  /** The round of the last of these migrations: those created with it, at its attempt. */
  private static Round lastRound(List<Migration> migrations) {
    Migration last = migrations.get(migrations.size() - 1);
    return new Round(
        migrations.stream()
            .filter(
                m -> m.getCreatedMs() == last.getCreatedMs() && m.getAttempt() == last.getAttempt())
            .toList());
  }
}
