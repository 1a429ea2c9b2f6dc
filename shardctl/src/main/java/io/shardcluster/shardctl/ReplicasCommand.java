package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "replicas",
    description = "Changes the processes of a node's replica group (see `nodes` for its replicas).",
    mixinStandardHelpOptions = true,
    subcommands = {
      ReplicasCommand.Replace.class,
      ReplicasCommand.Lead.class,
      ReplicasCommand.Pin.class,
      ReplicasCommand.Unpin.class
    })
final class ReplicasCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "missing subcommand: replace, lead, pin or unpin");
  }

  @Command(
      name = "replace",
      description =
          "Replaces replica OLD of NODE's group by a new process NEW (ID@HOST:PORT/RAFTPORT), a"
              + " Raft configuration change through the group's leader. Start NEW first, with the"
              + " group's new --peer list (OLD left out, NEW in): once the change commits it"
              + " installs the leader's store and catches up. OLD is no longer part of the group;"
              + " stop it if it still runs. The leader itself cannot be replaced: stop it first.",
      mixinStandardHelpOptions = true)
  static final class Replace extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Parameters(index = "1", paramLabel = "OLD")
    String oldReplica;

    @Parameters(index = "2", paramLabel = "NEW")
    String newPeer;

    @Option(names = "--json", description = "Print the group's members as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      List<String> members = client.admin().replaceReplica(node, oldReplica, newPeer);
      if (json) {
        Output.json(out(), Map.of("node", node, "members", members));
        return 0;
      }
      out()
          .println(
              node
                  + ": replica "
                  + oldReplica
                  + " replaced; its replicas are now "
                  + String.join(", ", members));
      return 0;
    }
  }

  @Command(
      name = "lead",
      description =
          "Hands the leadership of NODE's replica group to its replica REPLICA (a Raft leadership"
              + " transfer: the leader brings it up to date, then it starts an election at once)."
              + " Returns once it leads. A pinned leader (`replicas pin`) is moved back into its"
              + " zone within seconds.",
      mixinStandardHelpOptions = true)
  static final class Lead extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Parameters(index = "1", paramLabel = "REPLICA")
    String replica;

    @Override
    int run(ShardClient client) {
      client.admin().transferLeader(node, replica);
      out().println(node + ": replica " + replica + " leads");
      return 0;
    }
  }

  @Command(
      name = "pin",
      description =
          "Pins NODE's replica group's leader to ZONE: while a replica there (shard-node --zone) is"
              + " live and caught up, the coordinator hands it the leadership, and again after a"
              + " failover moved it away. Kept by the coordinator; shown by `nodes`.",
      mixinStandardHelpOptions = true)
  static final class Pin extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Parameters(index = "1", paramLabel = "ZONE")
    String zone;

    @Override
    int run(ShardClient client) {
      requireUsage(!zone.isEmpty(), "ZONE must not be empty (to unpin: replicas unpin NODE)");
      client.admin().pinLeader(node, zone);
      out().println(node + ": leader pinned to zone " + zone);
      return 0;
    }
  }

  @Command(
      name = "unpin",
      description = "Lets NODE's replica group's leader run in any zone again.",
      mixinStandardHelpOptions = true)
  static final class Unpin extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Override
    int run(ShardClient client) {
      client.admin().pinLeader(node, "");
      out().println(node + ": leader no longer pinned");
      return 0;
    }
  }
}
