package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "put",
    description =
        "Sets a key's value: plain text, or a JSON document (--json) that queries can read.",
    mixinStandardHelpOptions = true)
final class PutCommand extends DataCommand {
  @Parameters(index = "0", paramLabel = "KEY")
  String key;

  @Parameters(index = "1", paramLabel = "VALUE", arity = "0..1")
  String value;

  @Option(
      names = "--json",
      paramLabel = "DOCUMENT",
      description = "Store this JSON object as the value, e.g. '{\"name\":\"ada\",\"age\":36}'.")
  String document;

  @Override
  void checkUsage() {
    requireUsage((value == null) != (document == null), "give either VALUE or --json DOCUMENT");
  }

  @Override
  int run(ShardClient client) {
    if (document != null) {
      client.putDocument(key, document);
    } else {
      client.put(key, value);
    }
    out().println("OK");
    return 0;
  }
}
