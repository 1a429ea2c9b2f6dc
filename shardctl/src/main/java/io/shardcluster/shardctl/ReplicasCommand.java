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
    subcommands = {ReplicasCommand.Replace.class})
final class ReplicasCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "missing subcommand: replace");
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
}
