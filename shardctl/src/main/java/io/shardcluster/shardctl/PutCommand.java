package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "put", description = "Sets KEY to VALUE (UTF-8).", mixinStandardHelpOptions = true)
final class PutCommand extends DataCommand {
  @Parameters(index = "0", paramLabel = "KEY")
  String key;

  @Parameters(index = "1", paramLabel = "VALUE")
  String value;

  @Option(names = "--json", description = "Print the result as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    client.put(key, value);
    if (json) {
      Output.json(out(), Map.of("key", key, "ok", true));
    } else {
      out().println("OK");
    }
    return 0;
  }
}
