package io.shardcluster.benchmarks;

import io.shardcluster.query.Query;
import io.shardcluster.query.QueryParser;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Parsing and checking one query, which client and node each do for every query: most of a small
 * query's cost, such as one pruned to a single key. {@code parse} gives it a text not seen before
 * (the number in it counts up; formatting it costs about a microsecond), {@code parseAgain} the
 * same text each time, which the parser keeps.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class QueryParseBenchmark {
  @Param({
    "SELECT * FROM docs WHERE _key = 'doc%d'",
    "SELECT g, COUNT(*) AS n, AVG(x) FROM docs WHERE (y > %d OR g LIKE 'a%%') AND NOT z IS NULL"
        + " GROUP BY g ORDER BY n DESC LIMIT 10"
  })
  String template;

  private long next;

  @Benchmark
  public Query parse() {
    return QueryParser.parse(String.format(Locale.ROOT, template, next++));
  }

  @Benchmark
  public Query parseAgain() {
    return QueryParser.parse(String.format(Locale.ROOT, template, 1));
  }
}
