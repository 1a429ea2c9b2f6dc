package io.shardcluster.shardctl;

import io.shardcluster.client.KeyValue;
import io.shardcluster.client.ShardClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
final class BenchCommand extends ClusterCommand {
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

  @Override
  int run(ShardClient client) throws InterruptedException {
    io.shardcluster.client.ShardClusterException.requireArgument(
        keys >= 1, "--keys must be at least 1");
    io.shardcluster.client.ShardClusterException.requireArgument(
        readRatio >= 0 && readRatio <= 1, "--read-ratio must be between 0 and 1");
    io.shardcluster.client.ShardClusterException.requireArgument(
        duration > 0, "--duration must be positive");
    io.shardcluster.client.ShardClusterException.requireArgument(
        batch >= 1, "--batch must be at least 1");
    io.shardcluster.wire.Limits.checkValue(valueSize);
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

    Recorder latency = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
    LongAdder ops = new LongAdder();
    LongAdder requests = new LongAdder();
    LongAdder errors = new LongAdder();
    AtomicBoolean measuring = new AtomicBoolean();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      SplittableRandom random = new SplittableRandom(t * 7919L + 17);
      Thread worker =
          new Thread(
              () -> {
                byte[] value = new byte[valueSize];
                while (!stop.get()) {
                  boolean read = random.nextDouble() < readRatio;
                  long start = System.nanoTime();
                  try {
                    if (batch == 1) {
                      byte[] key = Values.key(PREFIX, random.nextInt(keys));
                      if (read) {
                        client.get(key);
                      } else {
                        random.nextBytes(value);
                        client.put(key, value.clone());
                      }
                    } else if (read) {
                      List<byte[]> batchKeys = new ArrayList<>(batch);
                      for (int i = 0; i < batch; i++) {
                        batchKeys.add(Values.key(PREFIX, random.nextInt(keys)));
                      }
                      client.multiGet(batchKeys);
                    } else {
                      List<KeyValue> entries = new ArrayList<>(batch);
                      for (int i = 0; i < batch; i++) {
                        byte[] bytes = new byte[valueSize];
                        random.nextBytes(bytes);
                        entries.add(new KeyValue(Values.key(PREFIX, random.nextInt(keys)), bytes));
                      }
                      client.multiPut(entries);
                    }
                    if (measuring.get()) {
                      latency.recordValue(
                          Math.min(System.nanoTime() - start, TimeUnit.SECONDS.toNanos(60)));
                      ops.add(batch);
                      requests.increment();
                    }
                  } catch (RuntimeException e) {
                    if (measuring.get()) {
                      errors.increment();
                    }
                  }
                }
              },
              "bench-" + t);
      worker.setDaemon(true);
      workers.add(worker);
      worker.start();
    }
    Thread.sleep((long) (warmup * 1000));
    latency.reset();
    measuring.set(true);
    long start = System.nanoTime();
    Thread.sleep((long) (duration * 1000));
    measuring.set(false);
    double seconds = (System.nanoTime() - start) / 1e9;
    stop.set(true);
    for (Thread worker : workers) {
      worker.join(10_000);
    }
    Histogram histogram = latency.getIntervalHistogram();
    report(histogram, ops.sum() / seconds, requests.sum() / seconds, errors.sum(), seconds);
    return 0;
  }

  private void report(
      Histogram h, double opsPerSec, double requestsPerSec, long errors, double seconds) {
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
  }
}
