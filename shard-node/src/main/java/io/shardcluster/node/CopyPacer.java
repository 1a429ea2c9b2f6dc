package io.shardcluster.node;

import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.jspecify.annotations.Nullable;

/**
 * Paces this node's outgoing copies by its foreground: every {@link #TICK_MILLIS} it reads the p99
 * of the requests it served since the last tick. While no copy runs, that p99 feeds the baseline (a
 * moving average: "the p99 before the move"). While copies run, a p99 above {@code factor} times
 * the baseline halves their rate, and one below it raises the rate by a quarter, up to each copy's
 * own limit and down to {@link #MIN_FRACTION} of it (a copy never stops, or a move would never
 * end). {@link #describe} says what it last did, for {@code shardctl migrations}.
 */
final class CopyPacer {
  static final long TICK_MILLIS = 250;
  static final double MIN_FRACTION = 1.0 / 64;
  // A bound below this is noise on a quiet node: never slow down for a p99 under a millisecond.
  private static final double MIN_BOUND_MS = 1.0;
  private static final long MAX_TRACKED_NANOS = TimeUnit.SECONDS.toNanos(60);

  private final double factor;
  private final AtomicInteger copying = new AtomicInteger();
  private final Recorder latency = new Recorder(MAX_TRACKED_NANOS, 2);
  private @Nullable Histogram interval;
  private double baselineMs;
  private volatile double fraction = 1;
  private volatile String reason = "no foreground requests measured yet";

  /**
   * A pacer.
   *
   * @param factor a p99 above this many times the baseline slows copies down; 0 turns pacing off
   */
  CopyPacer(double factor) {
    this.factor = factor;
    if (factor == 0) {
      reason = "pacing off: copies run at their limit";
    }
  }

  /** A running copy; close it when the copy ends. */
  interface Copy extends AutoCloseable {
    @Override
    void close();
  }

  /** Marks a copy running until the returned handle is closed: the baseline is not learnt then. */
  Copy copying() {
    copying.incrementAndGet();
    return copying::decrementAndGet;
  }

  /** Records a foreground request's latency. */
  void record(long nanos) {
    latency.recordValue(Math.min(MAX_TRACKED_NANOS, Math.max(0, nanos)));
  }

  /** The fraction of its limit a copy runs at now. */
  double fraction() {
    return fraction;
  }

  /** The rate a copy limited to {@code limit} bytes/s runs at now. */
  long rate(long limit) {
    return Math.max(1, Math.round(limit * fraction));
  }

  /** Why the copies run at their current rate. */
  String describe() {
    return reason;
  }

  /** Reads the last interval's p99 and adjusts the pace; runs every {@link #TICK_MILLIS}. */
  synchronized void tick() {
    interval = latency.getIntervalHistogram(interval);
    if (factor == 0) {
      return;
    }
    boolean measured = interval.getTotalCount() > 0;
    double p99Ms = measured ? interval.getValueAtPercentile(99) / 1e6 : 0;
    if (copying.get() == 0) {
      if (measured) {
        baselineMs = baselineMs == 0 ? p99Ms : baselineMs * 0.9 + p99Ms * 0.1;
      }
      fraction = 1;
      reason = String.format(Locale.ROOT, "no copy running; foreground p99 %.2f ms", baselineMs);
      return;
    }
    double bound = Math.max(MIN_BOUND_MS, factor * baselineMs);
    if (!measured) {
      fraction = Math.min(1, fraction * 1.25);
      reason = "no foreground requests: full speed";
    } else if (p99Ms > bound) {
      fraction = Math.max(MIN_FRACTION, fraction / 2);
      reason =
          String.format(
              Locale.ROOT,
              "slowed: foreground p99 %.2f ms above %.2f ms (%.1fx %.2f ms before the move)",
              p99Ms,
              bound,
              factor,
              baselineMs);
    } else {
      fraction = Math.min(1, fraction * 1.25);
      reason =
          String.format(
              Locale.ROOT,
              "%s: foreground p99 %.2f ms within %.2f ms (%.1fx %.2f ms before the move)",
              fraction < 1 ? "speeding up" : "full speed",
              p99Ms,
              bound,
              factor,
              baselineMs);
    }
  }
}
