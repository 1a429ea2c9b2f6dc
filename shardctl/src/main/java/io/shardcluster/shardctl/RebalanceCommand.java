package io.shardcluster.shardctl;

import io.shardcluster.client.RebalancePlan;
import io.shardcluster.client.ShardClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "rebalance",
    description =
        "Evens out the load (the coordinator's --balance-by: keys or ops) by moving keys from the"
            + " most to the least loaded nodes. --dry-run prints the plan and the predicted balance.",
    mixinStandardHelpOptions = true)
final class RebalanceCommand extends ClusterCommand {
  @Option(names = "--dry-run", description = "Only print the plan.")
  boolean dryRun;

  @Option(names = "--json", description = "Print the plan as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    RebalancePlan plan = client.admin().rebalance(dryRun);
    if (json) {
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("metric", plan.metric());
      result.put("max_over_mean_before", plan.maxOverMeanBefore());
      result.put("max_over_mean_after", plan.maxOverMeanAfter());
      List<Map<String, Object>> moves = new ArrayList<>();
      for (RebalancePlan.Move move : plan.moves()) {
        moves.add(
            Map.of(
                "source", move.source(),
                "target", move.target(),
                "what", move.what(),
                "load", move.load()));
      }
      result.put("moves", moves);
      result.put("load_before", plan.loadBefore());
      result.put("load_after", plan.loadAfter());
      result.put("started", plan.started());
      RebalancePlan.Balancer balancer = plan.balancer();
      result.put(
          "balancer",
          Map.of(
              "enabled", balancer.enabled(),
              "threshold", balancer.threshold(),
              "window_ms", balancer.window().toMillis(),
              "over_threshold", balancer.overThreshold(),
              "loads_current", balancer.loadsCurrent()));
      Output.json(out(), result);
      return 0;
    }
    out()
        .printf(
            Locale.ROOT,
            "load by %s: max/mean %.2f now, %.2f after %d move(s)%n",
            plan.metric(),
            plan.maxOverMeanBefore(),
            plan.maxOverMeanAfter(),
            plan.moves().size());
    RebalancePlan.Balancer balancer = plan.balancer();
    out()
        .printf(
            Locale.ROOT,
            "automatic balancer %s: acts when max/mean stays above %.2f for %d s%s%n",
            balancer.enabled() ? "on" : "off",
            1 + balancer.threshold(),
            balancer.window().toSeconds(),
            balancer.loadsCurrent()
                ? ""
                : " (key counts predate the last move; nodes count again within seconds)");
    List<List<String>> rows = new ArrayList<>();
    for (RebalancePlan.Move move : plan.moves()) {
      rows.add(
          List.of(
              move.source() + " -> " + move.target(),
              String.format(Locale.ROOT, "%,.0f", move.load()),
              move.what()));
    }
    if (!rows.isEmpty()) {
      Output.table(out(), List.of("MOVE", "LOAD", "WHAT"), rows);
    }
    List<List<String>> loads = new ArrayList<>();
    plan.loadBefore()
        .forEach(
            (node, before) ->
                loads.add(
                    List.of(
                        node,
                        String.format(Locale.ROOT, "%,.0f", before),
                        String.format(
                            Locale.ROOT, "%,.0f", plan.loadAfter().getOrDefault(node, before)))));
    Output.table(out(), List.of("NODE", "LOAD NOW", "LOAD AFTER"), loads);
    if (dryRun) {
      out().println("dry run: nothing moved");
    } else if (plan.started().isEmpty()) {
      out().println("balanced: nothing to move");
    } else {
      out()
          .println(
              "started "
                  + String.join(", ", plan.started())
                  + "; watch with: shardctl migrations --watch");
    }
    return 0;
  }
}
