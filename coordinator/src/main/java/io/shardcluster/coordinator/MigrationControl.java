package io.shardcluster.coordinator;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.grpc.Context;
import io.shardcluster.proto.v1.MigrationProgress;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * What the coordinator knows about a running migration that it does not persist: live progress and
 * rate, the last error, and the signals (pause, resume, cancel) the runner waits on.
 */
final class MigrationControl {
  /** Live figures for `shardctl migrations`. */
  record Progress(
      long keysCopied,
      long bytesCopied,
      long changesApplied,
      long lag,
      double keysPerSec,
      double bytesPerSec,
      long copyRateLimit,
      String pace,
      String lastError) {}

  private static final long RATE_WINDOW_MS = 3_000;

  @GuardedBy("this")
  private boolean cancel;

  // Why it is cancelled, when a failure (not an operator) asked for it; null otherwise.
  @GuardedBy("this")
  private @Nullable String failure;

  @GuardedBy("this")
  private boolean interrupted;

  @GuardedBy("this")
  private Context.@Nullable CancellableContext call;

  @GuardedBy("this")
  private MigrationProgress latest = MigrationProgress.getDefaultInstance();

  @GuardedBy("this")
  private long sampleAtMs;

  @GuardedBy("this")
  private MigrationProgress sample = MigrationProgress.getDefaultInstance();

  @GuardedBy("this")
  private double keysPerSec;

  @GuardedBy("this")
  private double bytesPerSec;

  @GuardedBy("this")
  private String lastError = "";

  synchronized boolean cancelRequested() {
    return cancel;
  }

  /** Asks the runner to roll back, for an operator, ending any call in flight. */
  synchronized void requestCancel() {
    cancel = true;
    interrupt();
  }

  /**
   * Asks the runner to roll back because of a failure (its join, drain or directory change tries
   * again), ending any call in flight; an operator's cancel asked for before stands.
   */
  synchronized void requestRollBack(String why) {
    if (!cancel) {
      failure = why;
    }
    requestCancel();
  }

  /** The failure a requested rollback is for; empty when an operator asked for it. */
  synchronized Optional<String> failure() {
    return Optional.ofNullable(failure);
  }

  /** Ends any call in flight (a pause) and wakes the runner. */
  synchronized void interrupt() {
    interrupted = true;
    if (call != null) {
      call.cancel(null);
    }
    notifyAll();
  }

  /** Wakes a runner waiting for a change (resume). */
  synchronized void wake() {
    notifyAll();
  }

  /** Whether a call failed because it was interrupted on purpose; clears the flag. */
  synchronized boolean interrupted() {
    boolean was = interrupted;
    interrupted = false;
    return was;
  }

  // Waits until woken or the time is up; a spurious wake-up is harmless, since every caller
  // looks at the state again and waits again if nothing changed.
  @SuppressWarnings("WaitNotInLoop")
  synchronized void awaitChange(long millis) {
    try {
      wait(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  synchronized void attach(Context.CancellableContext context) {
    call = context;
  }

  synchronized void detach() {
    call = null;
  }

  synchronized void recordError(String error) {
    lastError = error;
  }

  synchronized void clearError() {
    lastError = "";
  }

  /** Records a progress report of the target at {@code nowMs}. */
  synchronized void progress(MigrationProgress update, long nowMs) {
    latest = update;
    if (sampleAtMs == 0) {
      sampleAtMs = nowMs;
      sample = update;
      return;
    }
    long elapsed = nowMs - sampleAtMs;
    if (elapsed >= 200) {
      long keys =
          update.getKeysCopied()
              + update.getChangesApplied()
              - sample.getKeysCopied()
              - sample.getChangesApplied();
      keysPerSec = keys * 1000.0 / elapsed;
      bytesPerSec = (update.getBytesCopied() - sample.getBytesCopied()) * 1000.0 / elapsed;
      if (elapsed >= RATE_WINDOW_MS) {
        sampleAtMs = nowMs;
        sample = update;
      }
    }
  }

  synchronized Progress snapshot() {
    return new Progress(
        latest.getKeysCopied(),
        latest.getBytesCopied(),
        latest.getChangesApplied(),
        latest.getLag(),
        keysPerSec,
        bytesPerSec,
        latest.getCopyRateLimit(),
        latest.getPace(),
        lastError);
  }
}
