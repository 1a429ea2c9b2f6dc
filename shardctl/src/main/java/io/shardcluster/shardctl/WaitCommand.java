package io.shardcluster.shardctl;

import io.shardcluster.client.ClusterAdmin;
import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.NodeInfo;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.RolledBackDirectoryChange;
import io.shardcluster.client.ShardClient;
import io.shardcluster.errors.ShardClusterException;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * Waits for a condition of the cluster, polling from this one process (for scripts: a loop that
 * started a JVM per check would compete for the CPU with the cluster it watches).
 */
@Command(
    name = "wait",
    description =
        "Waits until at least N nodes are UP, given nodes are in a state, and/or no migration is"
            + " running (for scripts); exits 1 on timeout.",
    mixinStandardHelpOptions = true)
final class WaitCommand extends ClusterCommand {
  @Option(names = "--nodes", description = "How many nodes must be UP.")
  Integer nodes;

  @Option(
      names = "--node",
      split = ",",
      paramLabel = "NODE",
      description = "A node that must be in --state; several, comma-separated, for all of them.")
  List<String> node;

  @Option(
      names = "--state",
      split = ",",
      paramLabel = "STATE",
      description =
          "The state --node must reach: ${COMPLETION-CANDIDATES} (default: UP); several,"
              + " comma-separated, for any of them (JOINING,UP: the node has registered).")
  List<NodeState> states;

  @Option(
      names = "--migrations-done",
      description =
          "Wait until no migration is running (every one is DONE or CANCELLED) and no join or"
              + " drain is about to plan more (a node's first moves, or a retry of moves a"
              + " failure rolled back), nor a directory change a failure rolled back is about to"
              + " be tried again; a stopped drain does not hold it, nor a try again that waits"
              + " for a DOWN node.")
  boolean migrationsDone;

  @Option(
      names = "--timeout",
      defaultValue = "60",
      description = "Seconds to wait (default: ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  @Override
  void checkUsage() {
    requireUsage(timeoutSeconds >= 1, "--timeout must be at least 1 second");
  }

  @Override
  int run(ShardClient client) throws InterruptedException {
    if (nodes == null && node == null && !migrationsDone) {
      throw new ParameterException(
          spec.commandLine(), "say what to wait for: --nodes, --node or --migrations-done");
    }
    if (states != null && node == null) {
      throw new ParameterException(spec.commandLine(), "--state needs --node");
    }
    List<NodeState> wanted = states == null ? List.of(NodeState.UP) : states;
    long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
    String last = "no answer from the coordinator";
    while (System.nanoTime() < deadline) {
      try {
        Optional<String> unmet = unmet(client.admin(), wanted);
        if (unmet.isEmpty()) {
          out().println("ok (epoch " + client.admin().nodes().epoch() + ")");
          return 0;
        }
        last = unmet.get();
      } catch (ShardClusterException e) {
        last = e.getMessage();
      }
      Thread.sleep(100);
    }
    err().println("shardctl: timed out after " + timeoutSeconds + " s: " + last);
    return ShardctlMain.EXIT_NO;
  }

  /** What is not true yet, if anything. */
  private Optional<String> unmet(ClusterAdmin admin, List<NodeState> wanted) {
    // One look at the nodes for every question, taken before the migrations: a round of a join or
    // drain, or a try again, that starts in between is running, not missed.
    List<NodeInfo> members = admin.nodes().nodes();
    if (nodes != null || node != null) {
      long up = members.stream().filter(n -> n.state() == NodeState.UP).count();
      if (nodes != null && up < nodes) {
        return Optional.of(up + " of " + nodes + " nodes UP");
      }
      for (String id : node == null ? List.<String>of() : node) {
        Optional<NodeState> current =
            members.stream().filter(n -> n.id().equals(id)).map(NodeInfo::state).findFirst();
        if (current.isEmpty() || !wanted.contains(current.get())) {
          return Optional.of(
              id
                  + " is "
                  + current.map(NodeState::name).orElse("not a member")
                  + ", not "
                  + wanted.stream().map(NodeState::name).collect(Collectors.joining(" or ")));
        }
      }
    }
    if (migrationsDone) {
      List<MigrationInfo> migrations = admin.migrations(true);
      long running = migrations.stream().filter(m -> !m.ended()).count();
      if (running > 0) {
        return Optional.of(running + " migrations still running");
      }
      Optional<String> pending =
          MigrationsCommand.changingNodes(members).stream()
              .filter(n -> !n.note().isEmpty() && !n.stopped())
              .findFirst()
              .map(MigrationsCommand::waitingFor)
              .or(
                  () ->
                      RolledBackDirectoryChange.all(migrations, members).stream()
                          .filter(RolledBackDirectoryChange::retryComing)
                          .findFirst()
                          .map(c -> "waiting for " + MigrationsCommand.waitingFor(c)));
      if (pending.isPresent()) {
        return pending;
      }
    }
    return Optional.empty();
  }
}
