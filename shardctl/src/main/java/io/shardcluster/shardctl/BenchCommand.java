package io.shardcluster.shardctl;

import io.shardcluster.client.KeyValue;
import io.shardcluster.client.ShardClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Phaser;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "bench",
    description =
        "Closed-loop load: each thread sends one request, waits for it, sends the next. Reports ops/s and latency.",
    mixinStandardHelpOptions = true)
final class BenchCommand extends DataCommand {
  // --check-acknowledged lists at most this many lost keys and failed requests.
  private static final int DETAILS = 20;

  private static final String PREFIX = "bench:";

  @Option(
      names = "--threads",
      defaultValue = "32",
      description = "Concurrent clients (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(
      names = "--keys",
      defaultValue = "100000",
      description = "Distinct keys (default: ${DEFAULT-VALUE}).")
  int keys;

  @Option(
      names = "--value-size",
      defaultValue = "100",
      description = "Value size in bytes (default: ${DEFAULT-VALUE}).")
  int valueSize;

  @Option(
      names = "--read-ratio",
      defaultValue = "0.5",
      description = "Fraction of requests that read (default: ${DEFAULT-VALUE}).")
  double readRatio;

  @Option(
      names = "--duration",
      defaultValue = "10",
      description = "Measured seconds (default: ${DEFAULT-VALUE}).")
  double duration;

  @Option(
      names = "--warmup",
      defaultValue = "2",
      description = "Unmeasured seconds first (default: ${DEFAULT-VALUE}).")
  double warmup;

  @Option(
      names = "--batch",
      defaultValue = "1",
      description =
          "Keys per request; above 1 uses multi-get/multi-put (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(
      names = "--no-preload",
      negatable = true,
      defaultValue = "true",
      description = "Write every key once before measuring (default: on).")
  boolean preload;

  @Option(names = "--json", description = "Print the results as one JSON object.")
  boolean json;

  @Option(
      names = "--txn",
      description =
          "Bank transfers instead: --keys accounts, each thread moving amounts between two"
              + " accounts on different nodes in a transaction, one auditor checking the total in a"
              + " read-only transaction; compared with single-key puts from as many threads."
              + " Exits 1 if a total was wrong.")
  boolean txn;

  @Option(
      names = "--no-audit",
      negatable = true,
      defaultValue = "true",
      description = "With --txn: run the auditor alongside the transfers (default: on).")
  boolean audit;

  @Option(
      names = "--same-node",
      description =
          "With --txn: transfer between two accounts on the same node (a one-call commit) instead"
              + " of on different nodes.")
  boolean sameNode;

  @Option(
      names = "--interval",
      defaultValue = "0",
      description =
          "Also print one JSON line every this many seconds (ops/s, p99, errors); 0: off.")
  double interval;

  @Option(
      names = "--gaps",
      description =
          "Also report, per node, the longest time between two successful requests on its keys"
              + " (how long a node's death or its group's election left its keys unserved).")
  boolean gaps;

  @Option(
      names = "--check-acknowledged",
      description =
          "Each thread writes its own keys with increasing sequence numbers; at the end every"
              + " key is read back and any whose last acknowledged write is missing is counted as"
              + " lost. Exits 1 if one is. Single-key requests only.")
  boolean checkAcknowledged;

  @Override
  void checkUsage() {
    requireUsage(threads >= 1, "--threads must be at least 1");
    requireUsage(keys >= 1, "--keys must be at least 1");
    requireUsage(readRatio >= 0 && readRatio <= 1, "--read-ratio must be between 0 and 1");
    requireUsage(duration > 0, "--duration must be positive");
    requireUsage(warmup >= 0, "--warmup must not be negative");
    requireUsage(batch >= 1, "--batch must be at least 1");
    requireUsage(interval >= 0, "--interval must not be negative");
    requireUsage(
        batch == 1 || (!gaps && !checkAcknowledged),
        "--gaps and --check-acknowledged need single-key requests (--batch 1)");
    requireUsage(
        !checkAcknowledged || valueSize >= Long.BYTES,
        "--check-acknowledged needs --value-size of at least 8");
    requireValueSize(valueSize);
  }

  @Override
  int run(ShardClient client) throws InterruptedException {
    if (txn) {
      return new TransferBench(
              client, out(), threads, keys, duration, warmup, preload, audit, sameNode, json)
          .run();
    }
    if (preload) {
      KeyRangeWorkers.run(
          keys,
          100,
          Math.min(threads, 8),
          (from, to) -> {
            List<KeyValue> entries = new ArrayList<>();
            for (long i = from; i < to; i++) {
              byte[] key = Values.key(PREFIX, i);
              entries.add(new KeyValue(key, Values.forKey(key, valueSize)));
            }
            client.multiPut(entries);
          });
    }

    LoadLoop load = new LoadLoop(client);
    for (int t = 0; t < threads; t++) {
      load.startClient(t, new SplittableRandom(t * 7919L + 17));
    }
    Thread.sleep((long) (warmup * 1000));
    load.latency.reset();
    load.measuring = true;
    long start = System.nanoTime();
    long end = start + (long) (duration * 1e9);
    Histogram total = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
    long intervalNanos = (long) (interval * 1e9);
    long lastOps = 0;
    long lastErrors = 0;
    long intervalStart = start;
    while (System.nanoTime() < end) {
      long wake = interval > 0 ? Math.min(end, intervalStart + intervalNanos) : end;
      TimeUnit.NANOSECONDS.sleep(Math.max(0, wake - System.nanoTime()));
      if (interval > 0) {
        // One JSON line per interval, for plotting or for correlating with cluster events.
        Histogram window = load.latency.getIntervalHistogram();
        total.add(window);
        long now = System.nanoTime();
        long opsNow = load.ops.sum();
        long errorsNow = load.errors.sum();
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("time_ms", System.currentTimeMillis());
        line.put("ops_per_sec", (opsNow - lastOps) / ((now - intervalStart) / 1e9));
        line.put("p99_ms", window.getValueAtPercentile(99) / 1e6);
        line.put("errors", errorsNow - lastErrors);
        Output.json(out(), line);
        out().flush();
        lastOps = opsNow;
        lastErrors = errorsNow;
        intervalStart = now;
      }
    }
    load.measuring = false;
    double seconds = (System.nanoTime() - start) / 1e9;
    load.stop();
    total.add(load.latency.getIntervalHistogram());
    long lost = checkAcknowledged ? load.lostAcknowledged() : 0;
    report(
        total,
        load.ops.sum() / seconds,
        load.requests.sum() / seconds,
        load.errors.sum(),
        seconds,
        load.maxGapMillis(),
        lost,
        load.lostKeys,
        load.failures);
    return lost > 0 ? 1 : 0;
  }

  /**
   * Closed-loop clients: each sends one request, and sends the next when the answer arrives, like
   * redis-benchmark's connections. Driven by the async API, so the load generator needs no thread
   * per client and its own cost stays small next to the cluster's.
   */
  private final class LoadLoop {
    final ShardClient client;
    final Recorder latency = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
    final LongAdder ops = new LongAdder();
    final LongAdder requests = new LongAdder();
    final LongAdder errors = new LongAdder();
    final Phaser inFlight = new Phaser(1);
    // --check-acknowledged: per key, the last sequence number written and the last acknowledged.
    final AtomicLongArray attempted = new AtomicLongArray(checkAcknowledged ? keys : 0);
    final AtomicLongArray acknowledged = new AtomicLongArray(checkAcknowledged ? keys : 0);
    // --check-acknowledged: what to look at when a write is lost (the first few of each).
    final List<Map<String, Object>> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    final List<Map<String, Object>> lostKeys = new ArrayList<>();
    final long startedAt = System.currentTimeMillis();
    // --gaps: per node, {last success, longest gap} in nanoseconds.
    final Map<String, long[]> gapsByNode = new ConcurrentHashMap<>();
    volatile boolean measuring;
    volatile boolean stopped;

    LoadLoop(ShardClient client) {
      this.client = client;
    }

    void startClient(int index, SplittableRandom random) {
      inFlight.register();
      next(index, random);
    }

    private void next(int index, SplittableRandom random) {
      if (stopped) {
        inFlight.arriveAndDeregister();
        return;
      }
      long start = System.nanoTime();
      // Single-key requests: the key's index, or -1.
      int[] keyIndex = {-1};
      CompletableFuture<?> request;
      try {
        request = send(index, random, keyIndex);
      } catch (RuntimeException e) {
        request = CompletableFuture.failedFuture(e);
      }
      var unused =
          request.whenComplete(
              (ok, failure) -> {
                if (measuring) {
                  if (failure == null) {
                    long now = System.nanoTime();
                    latency.recordValue(Math.min(now - start, TimeUnit.SECONDS.toNanos(60)));
                    ops.add(batch);
                    requests.increment();
                    if (gaps && keyIndex[0] >= 0) {
                      recordSuccess(keyIndex[0], now);
                    }
                  } else {
                    errors.increment();
                    if (checkAcknowledged && failures.size() < DETAILS) {
                      Map<String, Object> failed = new LinkedHashMap<>();
                      failed.put("at_ms", System.currentTimeMillis() - startedAt);
                      failed.put("key", keyIndex[0]);
                      failed.put("attempted", keyIndex[0] >= 0 ? attempted.get(keyIndex[0]) : -1);
                      failed.put("error", String.valueOf(failure.getMessage()));
                      failures.add(failed);
                    }
                  }
                }
                if (failure == null) {
                  next(index, random);
                } else {
                  // Do not spin on a failing cluster, nor recurse on a synchronous failure.
                  CompletableFuture.delayedExecutor(10, TimeUnit.MILLISECONDS)
                      .execute(() -> next(index, random));
                }
              });
    }

    private void recordSuccess(int key, long now) {
      String owner = client.route(Values.key(PREFIX, key)).owner();
      long[] gap = gapsByNode.computeIfAbsent(owner, node -> new long[] {now, 0});
      synchronized (gap) {
        gap[1] = Math.max(gap[1], now - gap[0]);
        gap[0] = Math.max(gap[0], now);
      }
    }

    /** The longest gap per node, in milliseconds, as of now (a node still silent counts too). */
    Map<String, Double> maxGapMillis() {
      long now = System.nanoTime();
      Map<String, Double> result = new java.util.TreeMap<>();
      gapsByNode.forEach(
          (node, gap) -> {
            synchronized (gap) {
              result.put(node, Math.max(gap[1], now - gap[0]) / 1e6);
            }
          });
      return result;
    }

    /** Keys whose value is older than their last acknowledged write (read back now). */
    long lostAcknowledged() {
      long lost = 0;
      List<Integer> written = new ArrayList<>();
      for (int k = 0; k < keys; k++) {
        if (attempted.get(k) > 0) {
          written.add(k);
        }
      }
      for (int from = 0; from < written.size(); from += 500) {
        List<Integer> chunk = written.subList(from, Math.min(written.size(), from + 500));
        List<byte[]> batchKeys = new ArrayList<>();
        chunk.forEach(k -> batchKeys.add(Values.key(PREFIX, k)));
        List<java.util.Optional<byte[]>> values = client.multiGet(batchKeys);
        for (int i = 0; i < chunk.size(); i++) {
          int k = chunk.get(i);
          long stored = values.get(i).map(v -> java.nio.ByteBuffer.wrap(v).getLong()).orElse(0L);
          if (stored < acknowledged.get(k) || stored > attempted.get(k)) {
            lost++;
            if (lostKeys.size() < DETAILS) {
              Map<String, Object> detail = new LinkedHashMap<>();
              detail.put("key", k);
              detail.put("stored", values.get(i).isPresent() ? stored : "missing");
              detail.put("acknowledged", acknowledged.get(k));
              detail.put("attempted", attempted.get(k));
              lostKeys.add(detail);
            }
          }
        }
      }
      return lost;
    }

    private CompletableFuture<?> send(int index, SplittableRandom random, int[] keyIndex) {
      boolean read = random.nextDouble() < readRatio;
      if (batch == 1) {
        int k;
        if (checkAcknowledged) {
          // This client's keys only, so that its writes to a key are in order.
          int owned = (keys - index + threads - 1) / threads;
          k = owned <= 0 ? index % keys : index + threads * random.nextInt(owned);
        } else {
          k = random.nextInt(keys);
        }
        keyIndex[0] = k;
        byte[] key = Values.key(PREFIX, k);
        if (checkAcknowledged && !read) {
          long sequence = attempted.get(k) + 1;
          attempted.set(k, sequence);
          byte[] value = new byte[valueSize];
          random.nextBytes(value);
          java.nio.ByteBuffer.wrap(value).putLong(sequence);
          return client
              .putAsync(key, value)
              .thenRun(() -> acknowledged.accumulateAndGet(k, sequence, Math::max));
        }
        if (read) {
          return client.getAsync(key);
        }
        byte[] value = new byte[valueSize];
        random.nextBytes(value);
        return client.putAsync(key, value);
      }
      if (read) {
        List<byte[]> batchKeys = new ArrayList<>(batch);
        for (int i = 0; i < batch; i++) {
          batchKeys.add(Values.key(PREFIX, random.nextInt(keys)));
        }
        return client.multiGetAsync(batchKeys);
      }
      List<KeyValue> entries = new ArrayList<>(batch);
      for (int i = 0; i < batch; i++) {
        byte[] value = new byte[valueSize];
        random.nextBytes(value);
        entries.add(new KeyValue(Values.key(PREFIX, random.nextInt(keys)), value));
      }
      return client.multiPutAsync(entries);
    }

    void stop() throws InterruptedException {
      stopped = true;
      try {
        inFlight.awaitAdvanceInterruptibly(inFlight.arrive(), 30, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        // Requests still out after 30 s are abandoned with the process.
      }
    }
  }

  private void report(
      Histogram h,
      double opsPerSec,
      double requestsPerSec,
      long errors,
      double seconds,
      Map<String, Double> maxGapMillis,
      long lost,
      List<Map<String, Object>> lostKeys,
      List<Map<String, Object>> failures) {
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("ops_per_sec", opsPerSec);
    result.put("requests_per_sec", requestsPerSec);
    result.put("p50_ms", h.getValueAtPercentile(50) / 1e6);
    result.put("p99_ms", h.getValueAtPercentile(99) / 1e6);
    result.put("p999_ms", h.getValueAtPercentile(99.9) / 1e6);
    result.put("max_ms", h.getMaxValue() / 1e6);
    result.put("errors", errors);
    result.put("threads", threads);
    result.put("keys", keys);
    result.put("value_size", valueSize);
    result.put("read_ratio", readRatio);
    result.put("batch", batch);
    result.put("seconds", seconds);
    if (gaps) {
      result.put("max_gap_ms", maxGapMillis);
    }
    if (checkAcknowledged) {
      result.put("lost_acknowledged", lost);
      result.put("lost_keys", lostKeys);
      result.put("failed_requests", failures);
    }
    if (json) {
      Output.json(out(), result);
      return;
    }
    out()
        .printf(
            Locale.ROOT,
            "bench: %d threads, %,d keys, %d-byte values, %.0f%% reads, batch %d, %.1f s%n",
            threads,
            keys,
            valueSize,
            readRatio * 100,
            batch,
            seconds);
    out()
        .printf(
            Locale.ROOT, "  ops/s       %,.0f  (%,.0f requests/s)%n", opsPerSec, requestsPerSec);
    out()
        .printf(
            Locale.ROOT,
            "  latency ms  p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f%n",
            h.getValueAtPercentile(50) / 1e6,
            h.getValueAtPercentile(99) / 1e6,
            h.getValueAtPercentile(99.9) / 1e6,
            h.getMaxValue() / 1e6);
    out().printf(Locale.ROOT, "  errors      %d%n", errors);
    if (gaps) {
      maxGapMillis.forEach(
          (node, gap) ->
              out()
                  .printf(Locale.ROOT, "  longest gap %s: %.0f ms without a success%n", node, gap));
    }
    if (checkAcknowledged) {
      out().printf(Locale.ROOT, "  lost        %d acknowledged writes%n", lost);
      lostKeys.forEach(detail -> out().println("    lost " + detail));
      failures.forEach(detail -> out().println("    failed " + detail));
    }
  }
}
