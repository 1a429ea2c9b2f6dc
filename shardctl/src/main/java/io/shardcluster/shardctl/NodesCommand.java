package io.shardcluster.shardctl;

import io.shardcluster.client.ClusterAdmin;
import io.shardcluster.client.NodeInfo;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.ReplicaInfo;
import io.shardcluster.client.ShardClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "nodes",
    description = "Lists the member nodes with state, ring share and load.",
    mixinStandardHelpOptions = true)
final class NodesCommand extends ClusterCommand {
  @Option(names = "--json", description = "Print as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    ClusterAdmin.Nodes nodes = client.admin().nodes();
    if (json) {
      List<Map<String, Object>> list = new ArrayList<>();
      for (NodeInfo node : nodes.nodes()) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", node.id());
        row.put("address", node.address());
        row.put("state", node.state().toString());
        row.put("member_state", node.memberState().toString());
        row.put("share", node.share());
        row.put("intervals", node.intervals());
        row.put("keys", node.keys());
        row.put("bytes", node.bytes());
        row.put("keys_stale", node.keysStale());
        row.put("reads_per_sec", node.readsPerSec());
        row.put("writes_per_sec", node.writesPerSec());
        row.put("read_p99_ms", node.readP99Millis());
        row.put("write_p99_ms", node.writeP99Millis());
        row.put("millis_since_heartbeat", node.millisSinceHeartbeat());
        row.put("note", node.note());
        row.put("stopped", node.stopped());
        row.put("storage_faults", node.storageFaults());
        row.put("storage_fault", node.storageFault());
        row.put("write_fault", node.writeFault());
        List<Map<String, Object>> replicas = new ArrayList<>();
        for (ReplicaInfo replica : node.replicas()) {
          Map<String, Object> entry = new LinkedHashMap<>();
          entry.put("replica", replica.replicaId());
          entry.put("address", replica.address());
          entry.put("role", role(replica));
          entry.put("term", replica.term());
          entry.put("applied_index", replica.appliedIndex());
          entry.put("lag", replica.lag());
          entry.put("millis_since_heartbeat", replica.millisSinceHeartbeat());
          entry.put("heard", replica.heard());
          entry.put("zone", replica.zone());
          replicas.add(entry);
        }
        row.put("replicas", replicas);
        row.put("leader_zone", node.leaderZone());
        list.add(row);
      }
      Output.json(
          out(),
          Map.of(
              "epoch",
              nodes.epoch(),
              "cluster_id",
              nodes.clusterId(),
              "refused_registrations",
              nodes.refusedRegistrations(),
              "nodes",
              list));
      return 0;
    }
    out().println("epoch " + nodes.epoch() + ", cluster " + nodes.clusterId());
    List<List<String>> rows = new ArrayList<>();
    for (NodeInfo node : nodes.nodes()) {
      rows.add(
          List.of(
              node.id(),
              node.address(),
              node.state() == NodeState.DOWN && node.memberState() != NodeState.UP
                  ? "DOWN (" + node.memberState() + ")"
                  : node.state().toString(),
              String.format(Locale.ROOT, "%.1f%%", node.share() * 100),
              String.valueOf(node.intervals()),
              String.format(Locale.ROOT, "~%,d", node.keys())
                  + (node.keysStale() ? " (stale)" : ""),
              String.format(Locale.ROOT, "%.0f", node.readsPerSec()),
              String.format(Locale.ROOT, "%.0f", node.writesPerSec()),
              node.millisSinceHeartbeat() == 0
                  ? "none yet"
                  : String.format(Locale.ROOT, "%.1fs ago", node.millisSinceHeartbeat() / 1000.0)));
    }
    Output.table(
        out(),
        List.of(
            "ID",
            "ADDRESS",
            "STATE",
            "SHARE",
            "INTERVALS",
            "KEYS",
            "READS/S",
            "WRITES/S",
            "HEARTBEAT"),
        rows);
    for (NodeInfo node : nodes.nodes()) {
      if (!node.note().isEmpty()) {
        out().println(node.id() + ": " + node.note());
      }
    }
    List<List<String>> replicaRows = new ArrayList<>();
    for (NodeInfo node : nodes.nodes()) {
      for (ReplicaInfo replica : node.replicas()) {
        if (!replica.heard()) {
          replicaRows.add(
              List.of(
                  node.id(), replica.replicaId(), "-", "-", role(replica), "-", "-", "-", "never"));
          continue;
        }
        replicaRows.add(
            List.of(
                node.id(),
                replica.replicaId(),
                replica.address(),
                replica.zone().isEmpty() ? "-" : replica.zone(),
                role(replica),
                String.valueOf(replica.term()),
                String.valueOf(replica.appliedIndex()),
                replica.leader() ? "-" : String.valueOf(replica.lag()),
                String.format(Locale.ROOT, "%.1fs ago", replica.millisSinceHeartbeat() / 1000.0)));
      }
    }
    if (!replicaRows.isEmpty()) {
      out().println();
      Output.table(
          out(),
          List.of("NODE", "REPLICA", "ADDRESS", "ZONE", "ROLE", "TERM", "APPLIED", "LAG", "HEARD"),
          replicaRows);
      for (NodeInfo node : nodes.nodes()) {
        if (!node.leaderZone().isEmpty()) {
          out().println(node.id() + ": leader pinned to zone " + node.leaderZone());
        }
      }
    }
    return 0;
  }

  /** A member of the group's configuration that never reported is "unknown": it may not run. */
  private static String role(ReplicaInfo replica) {
    if (!replica.heard()) {
      return "unknown";
    }
    return replica.leader() ? "leader" : "follower";
  }
}
