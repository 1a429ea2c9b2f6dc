package io.shardcluster.shardctl;

import io.shardcluster.client.ClusterHealth;
import io.shardcluster.client.ShardClient;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "health",
    description =
        "Checks the cluster: the coordinator answers, no node is DOWN, every node answers from"
            + " here, every key's owner is up, no migration waits for an operator. Exits 1 if a"
            + " check failed.",
    mixinStandardHelpOptions = true)
final class HealthCommand extends ClusterCommand {
  @Option(names = "--json", description = "Print as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    ClusterHealth health = client.admin().health();
    if (json) {
      List<Map<String, Object>> checks =
          health.checks().stream()
              .map(
                  c -> {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("name", c.name());
                    row.put("status", c.status().toString());
                    row.put("detail", c.detail());
                    return row;
                  })
              .toList();
      Output.json(
          out(), Map.of("healthy", health.healthy(), "epoch", health.epoch(), "checks", checks));
    } else {
      Output.table(
          out(),
          List.of("CHECK", "STATUS", "DETAIL"),
          health.checks().stream()
              .map(c -> List.of(c.name(), c.status().toString(), c.detail()))
              .toList());
      int failed = health.failed().size();
      out().println(failed == 0 ? "healthy" : "unhealthy: " + failed + " check(s) failed");
    }
    return health.healthy() ? 0 : 1;
  }
}
