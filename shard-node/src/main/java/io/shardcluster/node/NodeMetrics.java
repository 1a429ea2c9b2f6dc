package io.shardcluster.node;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Read and write counts and server-side latencies, reported per heartbeat window as rates and p99s.
 * Recording is lock-free; time comes from the injected nanosecond clock.
 */
final class NodeMetrics {
  private static final long MAX_TRACKED_NANOS = TimeUnit.SECONDS.toNanos(60);

  private final LongSupplier nanoTime;
  private final LongAdder reads = new LongAdder();
  private final LongAdder writes = new LongAdder();
  private final Recorder readLatency = new Recorder(MAX_TRACKED_NANOS, 2);
  private final Recorder writeLatency = new Recorder(MAX_TRACKED_NANOS, 2);
  private long windowStart;
  private Histogram readWindow;
  private Histogram writeWindow;

  /** Rates and p99s over one window. */
  record Window(double readsPerSec, double writesPerSec, double readP99Ms, double writeP99Ms) {}

  NodeMetrics(LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
    this.windowStart = nanoTime.getAsLong();
  }

  long now() {
    return nanoTime.getAsLong();
  }

  void recordReads(int count, long startNanos) {
    reads.add(count);
    readLatency.recordValue(Math.min(MAX_TRACKED_NANOS, Math.max(0, now() - startNanos)));
  }

  void recordWrites(int count, long startNanos) {
    writes.add(count);
    writeLatency.recordValue(Math.min(MAX_TRACKED_NANOS, Math.max(0, now() - startNanos)));
  }

  /** Closes the current window and returns its figures. */
  synchronized Window closeWindow() {
    long end = now();
    double seconds = Math.max(1e-9, (end - windowStart) / 1e9);
    windowStart = end;
    readWindow = readLatency.getIntervalHistogram(readWindow);
    writeWindow = writeLatency.getIntervalHistogram(writeWindow);
    return new Window(
        reads.sumThenReset() / seconds,
        writes.sumThenReset() / seconds,
        p99Millis(readWindow),
        p99Millis(writeWindow));
  }

  private static double p99Millis(Histogram histogram) {
    return histogram.getTotalCount() == 0 ? 0 : histogram.getValueAtPercentile(99) / 1e6;
  }
}
