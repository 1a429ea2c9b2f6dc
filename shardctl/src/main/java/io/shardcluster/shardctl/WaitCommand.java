package io.shardcluster.shardctl;

import io.shardcluster.client.ClusterAdmin;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.ShardClient;
import io.shardcluster.client.ShardClusterException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "wait",
    description = "Waits until at least N nodes are UP (for scripts); exits 1 on timeout.",
    mixinStandardHelpOptions = true)
final class WaitCommand extends ClusterCommand {
  @Option(names = "--nodes", required = true, description = "How many nodes must be UP.")
  int nodes;

  @Option(
      names = "--timeout",
      defaultValue = "60",
      description = "Seconds to wait (default: ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  @Override
  int run(ShardClient client) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
    String last = "no answer from the coordinator";
    while (System.nanoTime() < deadline) {
      try {
        ClusterAdmin.Nodes members = client.admin().nodes();
        long up = members.nodes().stream().filter(n -> n.state() == NodeState.UP).count();
        if (up >= nodes) {
          out().println(up + " nodes UP (epoch " + members.epoch() + ")");
          return 0;
        }
        last = up + " of " + nodes + " nodes UP";
      } catch (ShardClusterException e) {
        last = e.getMessage();
      }
      Thread.sleep(200);
    }
    err().println("shardctl: timed out after " + timeoutSeconds + " s: " + last);
    return ShardctlMain.EXIT_NO;
  }
}
