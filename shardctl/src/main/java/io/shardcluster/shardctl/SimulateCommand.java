package io.shardcluster.shardctl;

import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.routing.TokenAllocator;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Shows what a sharding strategy costs, offline: no cluster is contacted. */
@Command(
    name = "simulate",
    description =
        "Places keys with a sharding strategy (the cluster's own routing code) and prints the load"
            + " balance and, with --add or --remove, the keys a membership change moves.",
    mixinStandardHelpOptions = true)
final class SimulateCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--strategy",
      required = true,
      description =
          "mod (position modulo N), ring-random (random virtual-node tokens), ring (the"
              + " coordinator's allocated ring) or range (ranges split at the keys' quantiles).")
  String strategy;

  @Option(names = "--nodes", required = true, description = "Nodes before the change.")
  int nodes;

  @Option(
      names = "--vnodes",
      defaultValue = "" + TokenAllocator.DEFAULT_VNODES,
      description =
          "ring-random: tokens per node; ring: fewest nodes a joining node takes pieces from;"
              + " range: ranges per node (default: ${DEFAULT-VALUE}).")
  int vnodes;

  @Option(
      names = "--keys",
      defaultValue = "1000000",
      description = "Keys to place (default: ${DEFAULT-VALUE}).")
  int keys;

  @Option(names = "--add", defaultValue = "0", description = "Nodes to add.")
  int add;

  @Option(names = "--remove", defaultValue = "0", description = "Nodes to remove (the last ones).")
  int remove;

  @Option(
      names = "--seed",
      defaultValue = "1",
      description = "Seed of ring-random's tokens (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--json", description = "Print as JSON.")
  boolean json;

  @Override
  public Integer call() {
    Simulation.Strategy chosen =
        Arrays.stream(Simulation.Strategy.values())
            .filter(s -> s.label.equals(strategy))
            .findFirst()
            .orElseThrow(
                () ->
                    new CommandLine.ParameterException(
                        spec.commandLine(),
                        "unknown strategy '"
                            + strategy
                            + "'; choose one of "
                            + Arrays.stream(Simulation.Strategy.values())
                                .map(s -> s.label)
                                .collect(Collectors.joining(", "))));
    Simulation.Result result;
    try {
      result = Simulation.run(chosen, nodes, vnodes, keys, add, remove, seed);
    } catch (ShardClusterException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      Output.json(out, toJson(result));
    } else {
      print(out, result);
    }
    return 0;
  }

  private static Map<String, Object> toJson(Simulation.Result r) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("strategy", r.strategy().label);
    json.put("nodes", r.nodes());
    json.put("vnodes", r.vnodes());
    json.put("keys", r.keys());
    json.put("added", r.added());
    json.put("removed", r.removed());
    json.put("before", balance(r.before()));
    Simulation.Balance after = r.after();
    if (after != null) {
      json.put("after", balance(after));
      json.put("moved_fraction", r.movedFraction());
      json.put("ideal_fraction", r.idealFraction());
      json.put("moved_over_ideal", r.movedFraction() / r.idealFraction());
      json.put("moved_between_stayers", r.movedBetweenStayers());
    }
    Simulation.Balance exactBefore = r.exactBefore();
    if (exactBefore != null) {
      json.put("ring_before", balance(exactBefore));
      Simulation.Balance exactAfter = r.exactAfter();
      if (exactAfter != null) {
        json.put("ring_after", balance(exactAfter));
        json.put("ring_moved_fraction", r.exactMovedFraction());
      }
    }
    return json;
  }

  private static Map<String, Object> balance(Simulation.Balance b) {
    return Map.of(
        "max_over_mean", b.maxOverMean(),
        "min_over_mean", b.minOverMean(),
        "stddev", b.stddev(),
        "mean", b.mean());
  }

  private static void print(PrintWriter out, Simulation.Result r) {
    String change =
        r.added() > 0 ? ", add " + r.added() : r.removed() > 0 ? ", remove " + r.removed() : "";
    out.printf(
        Locale.ROOT,
        "%s: %d nodes%s, %,d keys%s%n",
        r.strategy().label,
        r.nodes(),
        r.strategy() == Simulation.Strategy.MOD ? "" : ", vnodes " + r.vnodes(),
        r.keys(),
        change);
    List<String> header = r.changes() ? List.of("", "BEFORE", "AFTER") : List.of("", "BALANCE");
    String nodesAfter = r.changes() ? String.valueOf(r.nodes() + r.added() - r.removed()) : null;
    Simulation.Balance after = r.after();
    Output.table(
        out,
        header,
        rows(
            r.changes(),
            List.of(
                Arrays.asList("nodes", String.valueOf(r.nodes()), nodesAfter),
                Arrays.asList(
                    "max/mean",
                    f3(r.before().maxOverMean()),
                    after != null ? f3(after.maxOverMean()) : null),
                Arrays.asList(
                    "min/mean",
                    f3(r.before().minOverMean()),
                    after != null ? f3(after.minOverMean()) : null),
                Arrays.asList(
                    "stddev of shares",
                    stddev(r.before()),
                    after != null ? stddev(after) : null))));
    Simulation.Balance exactBefore = r.exactBefore();
    Simulation.Balance exactAfter = r.exactAfter();
    if (exactBefore != null) {
      out.printf(
          Locale.ROOT,
          "ring shares (exact, of the position space): max/mean %s%s%n",
          f3(exactBefore.maxOverMean()),
          exactAfter != null ? " -> " + f3(exactAfter.maxOverMean()) : "");
    }
    if (r.changes()) {
      out.printf(
          Locale.ROOT,
          "keys moved: %.2f%% (ideal %.2f%%, %.2fx)%s%n",
          100 * r.movedFraction(),
          100 * r.idealFraction(),
          r.movedFraction() / r.idealFraction(),
          r.exactBefore() != null
              ? String.format(
                  Locale.ROOT, "; of the position space: %.2f%%", 100 * r.exactMovedFraction())
              : "");
      out.printf(
          Locale.ROOT,
          "moved between nodes that stayed: %s%n",
          r.movedBetweenStayers() == 0
              ? "none"
              : String.format(Locale.ROOT, "%,d keys", r.movedBetweenStayers()));
    }
  }

  private static List<List<String>> rows(boolean changes, List<List<String>> rows) {
    return rows.stream().map(row -> changes ? row : row.subList(0, 2)).toList();
  }

  private static String f3(double value) {
    return String.format(Locale.ROOT, "%.3f", value);
  }

  private static String stddev(Simulation.Balance b) {
    return String.format(
        Locale.ROOT, "%.5f (%.1f%% of mean)", b.stddev(), 100 * b.stddev() / b.mean());
  }
}
