package io.shardcluster.benchmarks;

import io.shardcluster.query.Query;
import io.shardcluster.query.QueryParser;
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
 * query's cost, such as one pruned to a single key.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class QueryParseBenchmark {
  @Param({
    "SELECT * FROM docs WHERE _key = 'doc1'",
    "SELECT g, COUNT(*) AS n, AVG(x) FROM docs WHERE (y > 10 OR g LIKE 'a%') AND NOT z IS NULL"
        + " GROUP BY g ORDER BY n DESC LIMIT 10"
  })
  String sql;

  @Benchmark
  public Query parse() {
    return QueryParser.parse(sql);
  }
}
