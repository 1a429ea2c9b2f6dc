package io.shardcluster.shardctl;

import io.shardcluster.client.ClusterAdmin;
import io.shardcluster.client.ShardClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "repairs",
    description =
        "Lists the replicas of replica groups that the coordinator replaced by spares after they"
            + " stayed down past its --replace-after (latest first, since it started), and the"
            + " spares on offer (shard-node --spare).",
    mixinStandardHelpOptions = true)
final class RepairsCommand extends ClusterCommand {
  @Option(names = "--json", description = "Print JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    ClusterAdmin.Repairs repairs = client.admin().repairs();
    if (json) {
      List<Map<String, Object>> rows = new ArrayList<>();
      for (ClusterAdmin.RepairInfo repair : repairs.repairs()) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("node", repair.node());
        row.put("dead_replica", repair.deadReplica());
        row.put("new_replica", repair.newReplica());
        row.put("spare", repair.spareAddress());
        row.put("phase", repair.phase());
        row.put("error", repair.error());
        row.put("started", repair.started().toString());
        row.put("ended", repair.ended().map(Instant::toString).orElse(""));
        row.put("lag", repair.lag());
        rows.add(row);
      }
      List<Map<String, Object>> spares = new ArrayList<>();
      for (ClusterAdmin.SpareInfo spare : repairs.spares()) {
        spares.add(
            Map.of(
                "address", spare.address(),
                "zone", spare.zone(),
                "millis_since_heard", spare.sinceHeard().toMillis()));
      }
      Output.json(
          out(),
          Map.of(
              "replace_after_seconds",
              repairs.replaceAfter().toSeconds(),
              "repairs",
              rows,
              "spares",
              spares));
      return 0;
    }
    out()
        .println(
            repairs.replaceAfter().isZero()
                ? "replicas that stay down are not replaced (coordinator --replace-after 0)"
                : "replicas down over "
                    + repairs.replaceAfter().toSeconds()
                    + " s are replaced by a spare");
    if (repairs.repairs().isEmpty()) {
      out().println("no repairs since the coordinator started");
    } else {
      List<List<String>> rows = new ArrayList<>();
      for (ClusterAdmin.RepairInfo repair : repairs.repairs()) {
        Duration took = Duration.between(repair.started(), repair.ended().orElse(Instant.now()));
        rows.add(
            List.of(
                repair.node(),
                repair.deadReplica(),
                repair.newReplica() + "@" + repair.spareAddress(),
                repair.phase()
                    + (repair.phase().equals("CATCHING_UP") ? " (lag " + repair.lag() + ")" : ""),
                String.format(Locale.ROOT, "%.1fs", took.toMillis() / 1000.0),
                repair.error()));
      }
      Output.table(out(), List.of("NODE", "DOWN", "REPLACED BY", "PHASE", "TOOK", "ERROR"), rows);
    }
    out().println();
    if (repairs.spares().isEmpty()) {
      out().println("no spares on offer");
    } else {
      List<List<String>> rows = new ArrayList<>();
      for (ClusterAdmin.SpareInfo spare : repairs.spares()) {
        rows.add(
            List.of(
                spare.address(),
                spare.zone().isEmpty() ? "-" : spare.zone(),
                String.format(Locale.ROOT, "%.1fs ago", spare.sinceHeard().toMillis() / 1000.0)));
      }
      Output.table(out(), List.of("SPARE", "ZONE", "HEARD"), rows);
    }
    return 0;
  }
}
