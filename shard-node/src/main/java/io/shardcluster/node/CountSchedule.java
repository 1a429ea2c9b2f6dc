package io.shardcluster.node;

import java.time.Duration;

/**
 * When a node counts its keys again. A full count reads every key the node stores, so it runs only
 * when its result may have changed: every count interval if anything was written since the last
 * count (storage's sequence number moved), and a little after ownership changed (so `nodes` and the
 * balancer see a join or drain soon after its end). A count that takes long is spaced out so that
 * counting never takes more than a small share of a core, however many keys the node holds.
 */
final class CountSchedule {
  /** Periodic counts wait at least this many times the last count's duration after it ended. */
  static final int IDLE_FACTOR = 20;

  private final long intervalNanos;
  private final long settleNanos;
  private boolean counted;
  private long countedEpoch;
  private long countedSequence;
  private long startedAtNanos;
  private long endedAtNanos;
  private long lastEpochSeen = -1;
  private long epochChangedAtNanos;

  /**
   * @param interval the time between periodic counts
   * @param settle how long after an ownership change to count (not at once: right after a move
   *     every process is busy with cleanup and the JIT, and a count would take CPU from requests)
   */
  CountSchedule(Duration interval, Duration settle) {
    this.intervalNanos = interval.toNanos();
    this.settleNanos = Math.min(settle.toNanos(), intervalNanos);
  }

  /**
   * Whether to count now, given the routing epoch and storage's latest sequence number. Call often
   * (every second or so); report each count made with {@link #counted}.
   */
  synchronized boolean due(long nowNanos, long epoch, long sequence) {
    if (epoch != lastEpochSeen) {
      lastEpochSeen = epoch;
      epochChangedAtNanos = nowNanos;
    }
    if (!counted) {
      return true;
    }
    if (epoch != countedEpoch) {
      return nowNanos - epochChangedAtNanos >= settleNanos;
    }
    if (sequence == countedSequence) {
      // Nothing written since the count began, at the same ownership: it still holds.
      return false;
    }
    long duration = endedAtNanos - startedAtNanos;
    return nowNanos - startedAtNanos >= intervalNanos
        && nowNanos - endedAtNanos >= IDLE_FACTOR * duration;
  }

  /**
   * Whether the last count may be out of date at the routing epoch and storage sequence number:
   * there is none yet, ownership changed since, or something was written since it began.
   */
  synchronized boolean stale(long epoch, long sequence) {
    return !counted || epoch != countedEpoch || sequence != countedSequence;
  }

  /**
   * Records a count that began at {@code startedAtNanos} (when storage's sequence number was {@code
   * sequence}) at the epoch, and ended at {@code endedAtNanos}.
   */
  synchronized void counted(long epoch, long sequence, long startedAtNanos, long endedAtNanos) {
    counted = true;
    countedEpoch = epoch;
    countedSequence = sequence;
    this.startedAtNanos = startedAtNanos;
    this.endedAtNanos = endedAtNanos;
  }
}
