package io.shardcluster.benchmarks;

import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisAdvancedClusterAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The foreground load of {@code shardctl bench} against a Redis Cluster, so that
 * scripts/bench-rebalance can move Redis's slots under the same load as shardcluster's keys: closed
 * loop (each client sends one command and the next when the answer arrives), the same key names,
 * value size and read ratio, every key written once first, and one JSON line per second with the
 * same fields ({@code time_ms, ops_per_sec, p99_ms, errors}).
 *
 * <p>It uses Lettuce, a maintained Redis Cluster client, set up as its users are told to for a
 * cluster whose slots move: MOVED and ASK redirections are followed and refresh the slot map.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.shardcluster.benchmarks.RedisClusterLoad \
 *     --seed 127.0.0.1:30101 --threads 16 --keys 100000 --value-size 100 --read-ratio 0.5 --duration 60
 * </pre>
 */
public final class RedisClusterLoad {
  private static final String PREFIX = "bench:";

  private final RedisAdvancedClusterAsyncCommands<byte[], byte[]> redis;
  private final int keys;
  private final int valueSize;
  private final double readRatio;
  private final Recorder latency = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
  private final LongAdder ops = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private volatile boolean stopped;

  private RedisClusterLoad(
      RedisAdvancedClusterAsyncCommands<byte[], byte[]> redis,
      int keys,
      int valueSize,
      double readRatio) {
    this.redis = redis;
    this.keys = keys;
    this.valueSize = valueSize;
    this.readRatio = readRatio;
  }

  // Lettuce 7 deprecates adaptive refresh triggers; they are still what follows MOVED and ASK at
  // once.
  @SuppressWarnings("deprecation")
  public static void main(String[] args) throws InterruptedException {
    Map<String, String> options = options(args);
    String seed = options.getOrDefault("seed", "127.0.0.1:30101");
    int threads = Integer.parseInt(options.getOrDefault("threads", "16"));
    int keys = Integer.parseInt(options.getOrDefault("keys", "100000"));
    int valueSize = Integer.parseInt(options.getOrDefault("value-size", "100"));
    double readRatio = Double.parseDouble(options.getOrDefault("read-ratio", "0.5"));
    double duration = Double.parseDouble(options.getOrDefault("duration", "60"));

    String[] hostPort = seed.split(":", 2);
    RedisClusterClient cluster =
        RedisClusterClient.create(RedisURI.create(hostPort[0], Integer.parseInt(hostPort[1])));
    cluster.setOptions(
        ClusterClientOptions.builder()
            .topologyRefreshOptions(
                ClusterTopologyRefreshOptions.builder().enableAllAdaptiveRefreshTriggers().build())
            // A master added after the client started is reached through a redirection to it.
            .validateClusterNodeMembership(false)
            .build());
    try (StatefulRedisClusterConnection<byte[], byte[]> connection =
        cluster.connect(ByteArrayCodec.INSTANCE)) {
      RedisClusterLoad load = new RedisClusterLoad(connection.async(), keys, valueSize, readRatio);
      load.preload();
      load.run(threads, duration);
    } finally {
      cluster.shutdown();
    }
  }

  private static final Set<String> OPTIONS =
      Set.of("seed", "threads", "keys", "value-size", "read-ratio", "duration");

  private static Map<String, String> options(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < args.length; i += 2) {
      String name = args[i].startsWith("--") ? args[i].substring(2) : "";
      if (!OPTIONS.contains(name) || i + 1 == args.length) {
        throw new IllegalArgumentException(
            "expected --name value pairs with names " + OPTIONS + ", got " + args[i]);
      }
      options.put(name, args[i + 1]);
    }
    return options;
  }

  private static byte[] key(int index) {
    return (PREFIX + index).getBytes(StandardCharsets.UTF_8);
  }

  /** Writes every key once, at most 256 commands in flight. */
  private void preload() throws InterruptedException {
    Semaphore window = new Semaphore(256);
    SplittableRandom random = new SplittableRandom(1);
    for (int i = 0; i < keys; i++) {
      window.acquire();
      redis.set(key(i), value(random)).whenComplete((ok, failure) -> window.release());
    }
    window.acquire(256);
  }

  private void run(int threads, double duration) throws InterruptedException {
    for (int t = 0; t < threads; t++) {
      next(new SplittableRandom(t * 7919L + 17));
    }
    Histogram window = null;
    long end = System.nanoTime() + (long) (duration * 1e9);
    long last = System.nanoTime();
    long lastOps = 0;
    long lastErrors = 0;
    while (System.nanoTime() < end) {
      TimeUnit.NANOSECONDS.sleep(Math.max(0, last + 1_000_000_000L - System.nanoTime()));
      window = latency.getIntervalHistogram(window);
      long now = System.nanoTime();
      long opsNow = ops.sum();
      long errorsNow = errors.sum();
      System.out.printf(
          Locale.ROOT,
          "{\"time_ms\":%d,\"ops_per_sec\":%.1f,\"p99_ms\":%.3f,\"errors\":%d}%n",
          System.currentTimeMillis(),
          (opsNow - lastOps) / ((now - last) / 1e9),
          window.getValueAtPercentile(99) / 1e6,
          errorsNow - lastErrors);
      System.out.flush();
      last = now;
      lastOps = opsNow;
      lastErrors = errorsNow;
    }
    stopped = true;
  }

  private void next(SplittableRandom random) {
    if (stopped) {
      return;
    }
    long start = System.nanoTime();
    byte[] key = key(random.nextInt(keys));
    CompletionStage<?> command =
        random.nextDouble() < readRatio ? redis.get(key) : redis.set(key, value(random));
    command.whenComplete(
        (ok, failure) -> {
          if (failure == null) {
            latency.recordValue(Math.min(System.nanoTime() - start, TimeUnit.SECONDS.toNanos(60)));
            ops.increment();
            next(random);
          } else {
            errors.increment();
            // Do not spin on a failing cluster.
            CompletableFuture.delayedExecutor(10, TimeUnit.MILLISECONDS)
                .execute(() -> next(random));
          }
        });
  }

  private byte[] value(SplittableRandom random) {
    byte[] value = new byte[valueSize];
    random.nextBytes(value);
    return value;
  }
}
