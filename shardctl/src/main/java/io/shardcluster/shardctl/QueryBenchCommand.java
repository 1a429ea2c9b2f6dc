package io.shardcluster.shardctl;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import io.shardcluster.client.KeyValue;
import io.shardcluster.client.KeyValueIterator;
import io.shardcluster.client.QueryResult;
import io.shardcluster.client.ScanOptions;
import io.shardcluster.client.ShardClient;
import io.shardcluster.query.Query;
import io.shardcluster.query.QueryMerge;
import io.shardcluster.query.QueryParser;
import io.shardcluster.query.ShardQuery;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "bench",
    description =
        "Measures queries: optionally loads --load documents {g, x, y} into --keyspace, then runs"
            + " COUNT(*), a GROUP BY of --groups groups and a selective ORDER BY ... LIMIT 10, each"
            + " with pushdown to the shards and by fetching every row to the client, and checks"
            + " both give the same rows. Reports the median of --runs: time, rows scanned/s and"
            + " bytes from the shards.",
    mixinStandardHelpOptions = true)
final class QueryBenchCommand extends ClusterCommand {
  @Option(
      names = "--keyspace",
      defaultValue = "docs",
      description = "The keyspace queried (default: ${DEFAULT-VALUE}).")
  String keyspace;

  @Option(
      names = "--load",
      defaultValue = "0",
      description =
          "First create the keyspace (hash) if it is missing and store this many documents in it"
              + " (default: ${DEFAULT-VALUE}: query what is there).")
  int load;

  @Option(
      names = "--groups",
      defaultValue = "100",
      description = "Distinct values of g in loaded documents (default: ${DEFAULT-VALUE}).")
  int groups;

  @Option(
      names = "--runs",
      defaultValue = "3",
      description =
          "Runs of each query each way; the median is reported (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(names = "--json", description = "Print the figures as JSON.")
  boolean json;

  private record Figures(long scanned, long bytes, int rows) {}

  @Override
  void checkUsage() {
    requireUsage(load >= 0, "--load must not be negative");
    requireUsage(groups >= 1, "--groups must be at least 1");
    requireUsage(runs >= 1, "--runs must be at least 1");
  }

  @Override
  int run(ShardClient client) throws Exception {
    if (load > 0) {
      load(client);
    }
    List<String> queries =
        List.of(
            "SELECT COUNT(*) FROM " + keyspace,
            "SELECT g, SUM(x) FROM " + keyspace + " GROUP BY g",
            "SELECT _key, y FROM " + keyspace + " WHERE y < 1000 ORDER BY y DESC, _key LIMIT 10");
    List<Map<String, Object>> results = new ArrayList<>();
    for (String sql : queries) {
      Figures pushdown = null;
      Figures fetchAll = null;
      List<Long> pushTimes = new ArrayList<>();
      List<Long> fetchTimes = new ArrayList<>();
      for (int run = 0; run < runs; run++) {
        long start = System.nanoTime();
        QueryResult result = client.query(sql);
        List<List<JsonNode>> rows = result.rows();
        pushTimes.add((System.nanoTime() - start) / 1_000_000);
        pushdown = new Figures(result.rowsScanned(), result.bytesReceived(), rows.size());
        start = System.nanoTime();
        fetchAll = fetchAll(client, sql, rows);
        fetchTimes.add((System.nanoTime() - start) / 1_000_000);
      }
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("query", sql);
      // --runs is at least 1: both were measured.
      row.put("rows", requireNonNull(pushdown).rows());
      row.put("pushdown", figures(median(pushTimes), pushdown));
      row.put("fetch_all", figures(median(fetchTimes), requireNonNull(fetchAll)));
      row.put(
          "speedup", Math.round(10.0 * median(fetchTimes) / Math.max(1, median(pushTimes))) / 10.0);
      results.add(row);
    }
    if (json) {
      Output.json(out(), Map.of("keyspace", keyspace, "queries", results));
      return 0;
    }
    List<List<String>> table = new ArrayList<>();
    for (Map<String, Object> row : results) {
      for (String path : List.of("pushdown", "fetch_all")) {
        @SuppressWarnings("unchecked")
        Map<String, Object> f = (Map<String, Object>) requireNonNull(row.get(path));
        table.add(
            List.of(
                path.equals("pushdown") ? (String) row.get("query") : "",
                path,
                f.get("millis") + " ms",
                String.format(
                    Locale.ROOT, "%,d", (long) requireNonNull(f.get("rows_scanned_per_sec"))),
                String.format(
                    Locale.ROOT, "%,d", (long) requireNonNull(f.get("bytes_from_shards"))),
                path.equals("pushdown") ? row.get("speedup") + "x" : ""));
      }
    }
    Output.table(
        out(),
        List.of("query", "path", "time", "rows scanned/s", "bytes from shards", "speedup"),
        table);
    return 0;
  }

  private static Map<String, Object> figures(long millis, Figures figures) {
    Map<String, Object> map = new LinkedHashMap<>();
    map.put("millis", millis);
    map.put("rows_scanned", figures.scanned());
    map.put("rows_scanned_per_sec", figures.scanned() * 1000 / Math.max(1, millis));
    map.put("bytes_from_shards", figures.bytes());
    return map;
  }

  private static long median(List<Long> values) {
    List<Long> sorted = values.stream().sorted().toList();
    return sorted.get(sorted.size() / 2);
  }

  /**
   * The same query by fetching every row to the client (one merged scan) and evaluating it there;
   * fails if it does not give the pushdown's rows.
   */
  private Figures fetchAll(ShardClient client, String sql, List<List<JsonNode>> expected) {
    Query query = QueryParser.parse(sql);
    ShardQuery local = new ShardQuery(query);
    long bytes = 0;
    try (KeyValueIterator rows = client.keyspace(keyspace).scan(ScanOptions.all())) {
      while (rows.hasNext()) {
        KeyValue row = rows.next();
        bytes += row.key().length + row.value().length;
        local.add(row.key(), row.value());
      }
    }
    List<List<JsonNode>> merged = QueryMerge.merge(query, List.of(local.result()));
    boolean same =
        query.orderBy().isEmpty()
            ? new HashSet<>(merged).equals(new HashSet<>(expected))
            : merged.equals(expected);
    if (!same) {
      throw new IllegalStateException("pushdown and fetch-all disagree on: " + sql);
    }
    return new Figures(local.scanned(), bytes, merged.size());
  }

  private void load(ShardClient client) throws Exception {
    if (client.admin().keyspaces().stream().noneMatch(k -> k.name().equals(keyspace))) {
      client.admin().createKeyspace(keyspace, "hash");
    }
    ShardClient target = client.keyspace(keyspace);
    int threads = 4;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> parts = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int first = t;
        parts.add(
            pool.submit(
                () -> {
                  SplittableRandom random = new SplittableRandom(first);
                  List<KeyValue> batch = new ArrayList<>();
                  for (int i = first; i < load; i += threads) {
                    String document =
                        String.format(
                            Locale.ROOT,
                            "{\"g\":\"g%d\",\"x\":%d,\"y\":%d,\"pad\":\"%s\"}",
                            i % groups,
                            i % 1000,
                            random.nextInt(1_000_000),
                            "p".repeat(40));
                    batch.add(
                        new KeyValue(
                            String.format("doc%08d", i).getBytes(StandardCharsets.UTF_8),
                            document.getBytes(StandardCharsets.UTF_8)));
                    if (batch.size() == 500) {
                      target.multiPut(batch);
                      batch.clear();
                    }
                  }
                  if (!batch.isEmpty()) {
                    target.multiPut(batch);
                  }
                  return null;
                }));
      }
      for (Future<?> part : parts) {
        part.get();
      }
    } finally {
      pool.shutdown();
    }
    err().println("loaded " + load + " documents into " + keyspace);
  }
}
