package io.shardcluster.shardctl;

import com.fasterxml.jackson.databind.JsonNode;
import io.shardcluster.client.QueryOptions;
import io.shardcluster.client.QueryResult;
import io.shardcluster.client.ShardClient;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "query",
    description =
        "Runs a SQL query across the shards: SELECT * | fields | COUNT(*), SUM, AVG, MIN, MAX FROM"
            + " keyspace [WHERE ...] [GROUP BY ...] [ORDER BY ...] [LIMIT n].",
    mixinStandardHelpOptions = true,
    subcommands = QueryBenchCommand.class)
final class QueryCommand extends ClusterCommand {
  @Parameters(index = "0", paramLabel = "SQL", arity = "0..1")
  String sql;

  @Option(names = "--json", description = "Print one JSON object per row.")
  boolean json;

  @Option(
      names = "--allow-partial",
      description = "If nodes do not answer, print the other nodes' rows and name the missing.")
  boolean allowPartial;

  @Option(names = "--explain", description = "Print the plan instead of running the query.")
  boolean explain;

  @Option(
      names = "--node-timeout",
      defaultValue = "30",
      paramLabel = "SECONDS",
      description = "How long each node may take to answer (default: ${DEFAULT-VALUE}).")
  double nodeTimeoutSeconds;

  @Override
  void checkUsage() {
    requireUsage(nodeTimeoutSeconds > 0, "--node-timeout must be positive");
  }

  @Override
  int run(ShardClient client) {
    if (sql == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "Missing required parameter: 'SQL'");
    }
    if (explain) {
      client.explain(sql).describe().forEach(out()::println);
      return 0;
    }
    QueryOptions options =
        QueryOptions.DEFAULTS
            .withAllowPartial(allowPartial)
            .withShardTimeout(Duration.ofMillis((long) (nodeTimeoutSeconds * 1000)));
    try (QueryResult result = client.query(sql, options)) {
      PrintWriter out = bufferedOut();
      try {
        if (json) {
          long printed = 0;
          for (List<JsonNode> row : result) {
            out.println(result.toObject(row));
            // A reader that went away (`| head`) ends the query instead of reading it all.
            if (++printed % 1024 == 0 && (out.checkError() || out().checkError())) {
              break;
            }
          }
        } else {
          table(result, out);
        }
      } finally {
        out.flush();
      }
      if (!result.isComplete()) {
        err()
            .println(
                "shardctl: partial result: no answer from "
                    + String.join(", ", result.missingNodes()));
      }
    }
    return 0;
  }

  private static void table(QueryResult result, PrintWriter out) {
    List<Map<String, JsonNode>> objects = new ArrayList<>();
    Set<String> columns = new LinkedHashSet<>();
    for (List<JsonNode> row : result) {
      Map<String, JsonNode> object = new LinkedHashMap<>();
      result.toObject(row).properties().forEach(f -> object.put(f.getKey(), f.getValue()));
      columns.addAll(object.keySet());
      objects.add(object);
    }
    if (!result.star()) {
      columns = new LinkedHashSet<>(result.columns());
    }
    List<List<String>> rows = new ArrayList<>();
    for (Map<String, JsonNode> object : objects) {
      List<String> cells = new ArrayList<>();
      for (String column : columns) {
        JsonNode value = object.get(column);
        cells.add(
            value == null || value.isNull()
                ? "NULL"
                : value.isTextual() ? value.textValue() : value.toString());
      }
      rows.add(cells);
    }
    Output.table(out, List.copyOf(columns), rows);
    out.println("(" + rows.size() + (rows.size() == 1 ? " row)" : " rows)"));
  }
}
