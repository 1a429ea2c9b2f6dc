package io.shardcluster.shardctl;

import io.shardcluster.client.KeyValue;
import io.shardcluster.client.ShardClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "load",
    description = "Writes keys PREFIX0..PREFIX(N-1) with values derived from each key.",
    mixinStandardHelpOptions = true)
final class LoadCommand extends DataCommand {
  @Option(names = "--count", required = true, description = "Number of keys.")
  long count;

  @Option(
      names = "--prefix",
      defaultValue = "key",
      description = "Key prefix (default: ${DEFAULT-VALUE}).")
  String prefix;

  @Option(
      names = "--value-size",
      defaultValue = "100",
      description = "Value size in bytes (default: ${DEFAULT-VALUE}).")
  int valueSize;

  @Option(
      names = "--threads",
      defaultValue = "8",
      description = "Writer threads (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(
      names = "--batch",
      defaultValue = "100",
      description = "Keys per multi-put (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--json", description = "Print the summary as JSON.")
  boolean json;

  @Override
  void checkUsage() {
    requireKeyRange(count, valueSize, threads, batch);
  }

  @Override
  int run(ShardClient client) throws InterruptedException {
    long start = System.nanoTime();
    try (Progress progress = new Progress("load", count, "keys")) {
      KeyRangeWorkers.run(
          count,
          batch,
          threads,
          (from, to) -> {
            List<KeyValue> entries = new ArrayList<>((int) (to - from));
            for (long i = from; i < to; i++) {
              byte[] key = Values.key(prefix, i);
              entries.add(new KeyValue(key, Values.forKey(key, valueSize)));
            }
            client.multiPut(entries);
            progress.stepBy(to - from);
          });
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    if (json) {
      Output.json(
          out(), Map.of("keys", count, "seconds", seconds, "keys_per_sec", count / seconds));
    } else {
      out()
          .printf(
              Locale.ROOT,
              "loaded %,d keys in %.2f s (%,.0f keys/s)%n",
              count,
              seconds,
              count / seconds);
    }
    return 0;
  }
}
