package io.shardcluster.shardctl;

import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.ShardClient;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "drain",
    description =
        "Moves all of NODE's keys to the other nodes, online; NODE is then REMOVED and its process"
            + " may be stopped. Watch with `shardctl migrations --watch`.",
    mixinStandardHelpOptions = true)
final class DrainCommand extends ClusterCommand {
  @Parameters(index = "0", paramLabel = "NODE")
  String node;

  @Option(names = "--json", description = "Print the migrations started as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    List<MigrationInfo> started = client.admin().drain(node);
    if (json) {
      Output.json(out(), MigrationsCommand.toJson(started));
      return 0;
    }
    out().println("draining " + node + ": " + started.size() + " migration(s) started");
    MigrationsCommand.printTable(out(), started);
    out().println("watch with: shardctl migrations --watch");
    return 0;
  }
}
