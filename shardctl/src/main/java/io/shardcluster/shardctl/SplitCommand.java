package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "split",
    description =
        "Splits the range of a range keyspace that holds KEY there; both halves stay on its node"
            + " (the balancer and joins move whole ranges).",
    mixinStandardHelpOptions = true)
final class SplitCommand extends ClusterCommand {
  @Parameters(index = "0", paramLabel = "KEYSPACE")
  String keyspace;

  @Option(names = "--at", required = true, paramLabel = "KEY", description = "The split key.")
  String at;

  @Option(names = "--json", description = "Print the new epoch as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    long epoch = client.admin().splitRange(keyspace, at.getBytes(StandardCharsets.UTF_8));
    DirectoryCommand.printChange(this, json, epoch);
    return 0;
  }
}
