package io.shardcluster.benchmarks;

import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Interval;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.TokenAllocator;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Routing lookup on the coordinator's ring: which node owns a position (binary search over the
 * ring's intervals), which node owns a key (Murmur3 hash, then the same search), and, for
 * comparison, a linear scan over the ring's tokens.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class RoutingLookupBenchmark {
  private static final int SAMPLES = 1 << 14;

  @Param({"1000"})
  int nodes;

  @Param({"" + TokenAllocator.DEFAULT_VNODES})
  int vnodes;

  private HashRing ring;
  private Keyspace keyspace;
  private long[] tokens;
  private String[] owners;
  private long[] positions;
  private byte[][] keys;
  private int next;

  @Setup(Level.Trial)
  public void buildRing() {
    HashRing built = HashRing.empty();
    for (int i = 1; i <= nodes; i++) {
      built = TokenAllocator.join(built, "node-" + i, vnodes);
    }
    ring = built;
    keyspace = Keyspace.hash(Keyspace.DEFAULT).withRing(ring);
    List<Interval> intervals = ring.intervals();
    tokens = intervals.stream().mapToLong(Interval::start).toArray();
    owners = intervals.stream().map(Interval::owner).toArray(String[]::new);
    SplittableRandom random = new SplittableRandom(7);
    positions = new long[SAMPLES];
    keys = new byte[SAMPLES][];
    for (int i = 0; i < SAMPLES; i++) {
      positions[i] = random.nextLong();
      keys[i] = ("user:" + random.nextInt(100_000_000)).getBytes(StandardCharsets.UTF_8);
    }
    System.out.printf("%n%d nodes, vnodes %d: %d ring intervals%n", nodes, vnodes, tokens.length);
  }

  private int nextIndex() {
    next = (next + 1) & (SAMPLES - 1);
    return next;
  }

  /** The owner of a position, as every client and node looks it up. */
  @Benchmark
  public @Nullable String ownerOfPosition() {
    return ring.ownerOf(positions[nextIndex()]);
  }

  /** The owner of a key: its ring position (Murmur3) plus the lookup. */
  @Benchmark
  public @Nullable String ownerOfKey() {
    return keyspace.ownerOf(keys[nextIndex()]);
  }

  /** The owner of a position found by scanning the tokens in order: the baseline. */
  @Benchmark
  public String linearScan() {
    long position = positions[nextIndex()];
    int found = 0;
    for (int i = 1; i < tokens.length; i++) {
      if (Long.compareUnsigned(tokens[i], position) > 0) {
        break;
      }
      found = i;
    }
    return owners[found];
  }
}
