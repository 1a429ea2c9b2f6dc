package io.shardcluster.shardctl;

import io.shardcluster.client.KeyValue;
import io.shardcluster.client.ShardClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "load",
    description = "Writes keys PREFIX0..PREFIX(N-1) with values derived from each key.",
    mixinStandardHelpOptions = true)
final class LoadCommand extends DataCommand {
  @Mixin GeneratedKeys generated = new GeneratedKeys();

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
    requireKeyRange(generated.count, generated.valueSize, threads, batch);
  }

  @Override
  int run(ShardClient client) throws InterruptedException {
    long start = System.nanoTime();
    try (Progress progress = new Progress("load", generated.count, "keys")) {
      KeyRangeWorkers.run(
          generated.count,
          batch,
          threads,
          (from, to) -> {
            List<KeyValue> entries = new ArrayList<>((int) (to - from));
            for (long i = from; i < to; i++) {
              byte[] key = Values.key(generated.prefix, i);
              entries.add(new KeyValue(key, Values.forKey(key, generated.valueSize)));
            }
            client.multiPut(entries);
            progress.stepBy(to - from);
          });
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    if (json) {
      Output.json(
          out(),
          Map.of(
              "keys",
              generated.count,
              "seconds",
              seconds,
              "keys_per_sec",
              generated.count / seconds));
    } else {
      out()
          .printf(
              Locale.ROOT,
              "loaded %,d keys in %.2f s (%,.0f keys/s)%n",
              generated.count,
              seconds,
              generated.count / seconds);
    }
    return 0;
  }
}
