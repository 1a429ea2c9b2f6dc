package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "get",
    description = "Prints the value of KEY; exits 1 if it has none.",
    mixinStandardHelpOptions = true)
final class GetCommand extends DataCommand {
  @Parameters(index = "0", paramLabel = "KEY")
  String key;

  @Option(names = "--json", description = "Print {\"key\", \"found\", \"value\"} as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    Optional<String> value = client.get(key);
    if (json) {
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("key", key);
      result.put("found", value.isPresent());
      result.put("value", value.orElse(null));
      Output.json(out(), result);
    } else if (value.isPresent()) {
      out().println(value.get());
    } else {
      err().println("shardctl: key '" + key + "' not found");
    }
    return value.isPresent() ? 0 : ShardctlMain.EXIT_NO;
  }
}
