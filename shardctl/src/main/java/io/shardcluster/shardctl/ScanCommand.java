package io.shardcluster.shardctl;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.shardcluster.client.KeyValue;
import io.shardcluster.client.KeyValueIterator;
import io.shardcluster.client.ScanOptions;
import io.shardcluster.client.ShardClient;
import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "scan",
    description =
        "Prints KEY<TAB>VALUE rows across all nodes in scan order (key order in a range"
            + " keyspace, hash position order otherwise), streamed.",
    mixinStandardHelpOptions = true)
final class ScanCommand extends DataCommand {
  @Option(names = "--from", defaultValue = "", description = "First key, inclusive.")
  String from;

  @Option(names = "--to", defaultValue = "", description = "End key, exclusive.")
  String to;

  @Option(names = "--limit", defaultValue = "0", description = "Most rows to print; 0 for all.")
  long limit;

  @Option(names = "--json", description = "Print a JSON array of {\"key\", \"value\"}.")
  boolean json;

  @Override
  void checkUsage() {
    requireUsage(limit >= 0, "--limit must not be negative");
  }

  @Override
  int run(ShardClient client) throws Exception {
    PrintWriter out = bufferedOut();
    try {
      ObjectMapper mapper = new ObjectMapper();
      ScanOptions options = ScanOptions.all().from(from).to(to).limit(limit);
      boolean first = true;
      if (json) {
        out.print("[");
      }
      try (KeyValueIterator rows = client.scan(options)) {
        while (rows.hasNext()) {
          KeyValue row = rows.next();
          if (json) {
            out.print(first ? "" : ",");
            out.print(
                mapper.writeValueAsString(
                    Map.of("key", row.keyString(), "value", row.valueString())));
          } else {
            out.println(row.keyString() + "\t" + row.valueString());
          }
          first = false;
        }
      }
      if (json) {
        out.println("]");
      }
    } finally {
      out.flush();
    }
    return 0;
  }
}
