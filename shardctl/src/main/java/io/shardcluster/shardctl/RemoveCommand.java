package io.shardcluster.shardctl;

import io.shardcluster.client.ClusterAdmin;
import io.shardcluster.client.ShardClient;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "remove",
    description =
        "Removes NODE that is gone for good: its ring intervals and directory entries go to the"
            + " other nodes without its data, which is lost. Requires --force; use drain for a"
            + " node that still runs.",
    mixinStandardHelpOptions = true)
final class RemoveCommand extends ClusterCommand {
  @Parameters(index = "0", paramLabel = "NODE")
  String node;

  @Option(names = "--force", description = "Confirm that the keys the node holds are lost.")
  boolean force;

  @Option(names = "--json", description = "Print the outcome as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    ClusterAdmin.RemovedNode removed = client.admin().removeNode(node, force);
    if (json) {
      Output.json(
          out(),
          Map.of(
              "node", node,
              "epoch", removed.epoch(),
              "share_lost", removed.shareLost(),
              "directory_entries_reassigned", removed.directoryEntriesReassigned()));
      return 0;
    }
    out()
        .printf(
            Locale.ROOT,
            "removed %s: its %.1f%% of the ring and %d directory entries now belong to other nodes;"
                + " the keys it held are lost (epoch %d)%n",
            node,
            removed.shareLost() * 100,
            removed.directoryEntriesReassigned(),
            removed.epoch());
    return 0;
  }
}
