package io.shardcluster.benchmarks;

import io.shardcluster.query.Query;
import io.shardcluster.query.QueryParser;
import io.shardcluster.query.ShardQuery;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A node's per-row cost of its part of a query (filter, field reads, partial aggregates, top-k)
 * over documents like those of {@code shardctl query bench}, without storage or network.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ShardQueryBenchmark {
  private static final int ROWS = 1 << 12;

  @Param({
    "SELECT COUNT(*) FROM docs",
    "SELECT g, SUM(x) FROM docs GROUP BY g",
    "SELECT _key, y FROM docs WHERE y < 1000 ORDER BY y DESC, _key LIMIT 10"
  })
  String sql;

  private Query query;
  private byte[][] keys;
  private byte[][] values;

  @Setup
  public void setUp() {
    query = QueryParser.parse(sql);
    SplittableRandom random = new SplittableRandom(1);
    keys = new byte[ROWS][];
    values = new byte[ROWS][];
    for (int i = 0; i < ROWS; i++) {
      keys[i] = String.format("doc%08d", i).getBytes(StandardCharsets.UTF_8);
      values[i] =
          String.format(
                  Locale.ROOT,
                  "{\"g\":\"g%d\",\"x\":%d,\"y\":%d,\"pad\":\"%s\"}",
                  i % 100,
                  i % 1000,
                  random.nextInt(1_000_000),
                  "p".repeat(40))
              .getBytes(StandardCharsets.UTF_8);
    }
  }

  /** One row offered to a query part (a fresh part per batch of rows; the SQL parsed once). */
  @Benchmark
  @org.openjdk.jmh.annotations.OperationsPerInvocation(ROWS)
  public Object perRow() {
    ShardQuery part = new ShardQuery(query);
    for (int i = 0; i < ROWS; i++) {
      part.add(keys[i], part.readsValues() ? values[i] : keys[i]);
    }
    return part.result();
  }
}
