package io.shardcluster.coordinator;

import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import java.util.List;
import java.util.Optional;

/**
 * When a join or a drain tries again the moves that failures rolled back.
 *
 * <p>A join or drain plans its migrations in rounds: the first when it starts, one more each time
 * it tries again. The migrations of a round share their reason ("join node-4"), their creation time
 * and their attempt number. When the latest round has ended with a migration rolled back by a
 * failure ({@link Migration#getRetryable()}) and none cancelled by an operator, the join or drain
 * tries again, {@link #FIRST_DELAY_MS} after the round ended and twice as long after each later
 * round, {@link #MAX_ATTEMPTS} times in all. An operator's cancel stops it.
 */
final class RollbackRetries {
  /** Rounds a join or drain makes at most, the first included. */
  static final int MAX_ATTEMPTS = 5;

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
     * Whether the join or drain tries again after it: every migration ended, a failure rolled one
     * back, no operator cancelled one, and attempts are left.
     */
    boolean retries() {
      return migrations.stream().allMatch(ClusterState::isFinished)
          && !rolledBack().isEmpty()
          && !cancelledByAnOperator()
          && attempt() < MAX_ATTEMPTS;
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
    if (ofReason.isEmpty()) {
      return Optional.empty();
    }
    Migration last = ofReason.get(ofReason.size() - 1);
    return Optional.of(
        new Round(
            ofReason.stream()
                .filter(
                    m ->
                        m.getCreatedMs() == last.getCreatedMs()
                            && m.getAttempt() == last.getAttempt())
                .toList()));
  }
}
