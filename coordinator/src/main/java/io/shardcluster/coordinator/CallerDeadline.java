package io.shardcluster.coordinator;

import io.grpc.Context;
import io.grpc.Deadline;
import java.util.concurrent.TimeUnit;

/**
 * How long the coordinator may keep a caller waiting (for migrations to end, say): until shortly
 * before the call's deadline, so that the caller still hears why, and never more than a cap.
 */
final class CallerDeadline {
  /** The longest wait, for a call without a deadline. */
  static final long MAX_WAIT_MS = 30_000;

  private static final long MARGIN_MS = 500;

  private CallerDeadline() {}

  /** Milliseconds the current call may still wait; zero or less if none. */
  static long waitMs() {
    Deadline deadline = Context.current().getDeadline();
    return deadline == null
        ? MAX_WAIT_MS
        : Math.min(MAX_WAIT_MS, deadline.timeRemaining(TimeUnit.MILLISECONDS) - MARGIN_MS);
  }
}
