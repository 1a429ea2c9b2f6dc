package io.shardcluster.node;

import com.google.protobuf.ByteString;
import io.shardcluster.routing.DirectoryEntry;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.jspecify.annotations.Nullable;

/**
 * Read and write counts and server-side latencies, reported per heartbeat window as rates and p99s.
 * Recording is lock-free; time comes from the injected nanosecond clock.
 */
final class NodeMetrics {
  private static final long MAX_TRACKED_NANOS = TimeUnit.SECONDS.toNanos(60);

  private final LongSupplier nanoTime;
  private final LongConsumer requestLatency;
  private final LongAdder reads = new LongAdder();
  private final LongAdder writes = new LongAdder();
  private final LongAdder writesSinceStart = new LongAdder();
  private final LongAdder scans = new LongAdder();
  private final LongAdder queries = new LongAdder();
  private final Map<KeyCounts.EntrySlot, LongAdder> entryOperations = new ConcurrentHashMap<>();
  private final RangeOperations rangeOperations = new RangeOperations();
  private final Recorder readLatency = new Recorder(MAX_TRACKED_NANOS, 2);
  private final Recorder writeLatency = new Recorder(MAX_TRACKED_NANOS, 2);
  private long windowStart;
  // Recycled by each window; null until the first.
  private @Nullable Histogram readWindow;
  private @Nullable Histogram writeWindow;

  /** Rates and p99s over one window. */
  record Window(
      double readsPerSec,
      double writesPerSec,
      double readP99Ms,
      double writeP99Ms,
      Map<KeyCounts.EntrySlot, Double> entryOpsPerSec,
      Map<KeyCounts.RangeSlot, RangeOperations.Load> rangeLoads) {}

  NodeMetrics(LongSupplier nanoTime) {
    this(nanoTime, nanos -> {});
  }

  /** Metrics that also pass every request's latency in nanoseconds to {@code requestLatency}. */
  NodeMetrics(LongSupplier nanoTime, LongConsumer requestLatency) {
    this.nanoTime = nanoTime;
    this.requestLatency = requestLatency;
    this.windowStart = nanoTime.getAsLong();
  }

  long now() {
    return nanoTime.getAsLong();
  }

  void recordReads(int count, long startNanos) {
    reads.add(count);
    long nanos = Math.min(MAX_TRACKED_NANOS, Math.max(0, now() - startNanos));
    readLatency.recordValue(nanos);
    requestLatency.accept(nanos);
  }

  /** Counts reads without a latency (rows of a scan). */
  void countReads(int count) {
    reads.add(count);
  }

  void recordWrites(int count, long startNanos) {
    writes.add(count);
    writesSinceStart.add(count);
    long nanos = Math.min(MAX_TRACKED_NANOS, Math.max(0, now() - startNanos));
    writeLatency.recordValue(nanos);
    requestLatency.accept(nanos);
  }

  /** Writes taken since the node started. */
  long writes() {
    return writesSinceStart.sum();
  }

  /** Counts a scan stream opened. */
  void recordScan() {
    scans.increment();
  }

  /** Scan streams opened since the node started. */
  long scans() {
    return scans.sum();
  }

  /** Counts a query part answered in full. */
  void recordQuery() {
    queries.increment();
  }

  /** Query parts answered in full since the node started. */
  long queries() {
    return queries.sum();
  }

  /** Counts a request for a key that a directory entry places. */
  void recordEntryOperation(String keyspace, DirectoryEntry entry) {
    entryOperations
        .computeIfAbsent(KeyCounts.EntrySlot.of(keyspace, entry), e -> new LongAdder())
        .increment();
  }

  /** Counts a request for a key of the range of a range keyspace that starts at {@code start}. */
  void recordRangeOperation(String keyspace, ByteString start, byte[] key) {
    rangeOperations.record(keyspace, start, key);
  }

  /** Closes the current window and returns its figures. */
  synchronized Window closeWindow() {
    long end = now();
    double seconds = Math.max(1e-9, (end - windowStart) / 1e9);
    windowStart = end;
    readWindow = readLatency.getIntervalHistogram(readWindow);
    writeWindow = writeLatency.getIntervalHistogram(writeWindow);
    Map<KeyCounts.EntrySlot, Double> entryRates = new HashMap<>();
    for (var entry : entryOperations.entrySet()) {
      long count = entry.getValue().sumThenReset();
      if (count > 0) {
        entryRates.put(entry.getKey(), count / seconds);
      }
    }
    return new Window(
        reads.sumThenReset() / seconds,
        writes.sumThenReset() / seconds,
        p99Millis(readWindow),
        p99Millis(writeWindow),
        entryRates,
        rangeOperations.closeWindow(seconds));
  }

  private static double p99Millis(Histogram histogram) {
    return histogram.getTotalCount() == 0 ? 0 : histogram.getValueAtPercentile(99) / 1e6;
  }
}
