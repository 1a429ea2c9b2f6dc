package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "del",
    aliases = "delete",
    description = "Removes KEY (removing an absent key is not an error).",
    mixinStandardHelpOptions = true)
final class DeleteCommand extends DataCommand {
  @Parameters(index = "0", paramLabel = "KEY")
  String key;

  @Option(names = "--json", description = "Print the result as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    client.delete(key);
    if (json) {
      Output.json(out(), Map.of("key", key, "ok", true));
    } else {
      out().println("OK");
    }
    return 0;
  }
}
