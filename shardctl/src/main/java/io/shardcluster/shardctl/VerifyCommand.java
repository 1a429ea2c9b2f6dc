package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "verify",
    description =
        "Reads back the keys `load` wrote and counts ok, missing and wrong values; exits 1 unless all are ok.",
    mixinStandardHelpOptions = true)
final class VerifyCommand extends DataCommand {
  private static final int SHOWN_PROBLEMS = 10;

  @Mixin GeneratedKeys generated = new GeneratedKeys();

  @Option(
      names = "--threads",
      defaultValue = "8",
      description = "Reader threads (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(
      names = "--batch",
      defaultValue = "100",
      description = "Keys per multi-get (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--json", description = "Print the counts as JSON.")
  boolean json;

  @Override
  void checkUsage() {
    requireKeyRange(generated.count, generated.valueSize, threads, batch);
  }

  @Override
  int run(ShardClient client) throws InterruptedException {
    AtomicLong ok = new AtomicLong();
    AtomicLong missing = new AtomicLong();
    AtomicLong wrong = new AtomicLong();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    try (Progress progress = new Progress("verify", generated.count, "keys")) {
      KeyRangeWorkers.run(
          generated.count,
          batch,
          threads,
          (from, to) -> {
            List<byte[]> keys = new ArrayList<>((int) (to - from));
            for (long i = from; i < to; i++) {
              keys.add(Values.key(generated.prefix, i));
            }
            List<Optional<byte[]>> values = client.multiGet(keys);
            for (int j = 0; j < keys.size(); j++) {
              String key = new String(keys.get(j), StandardCharsets.UTF_8);
              if (values.get(j).isEmpty()) {
                missing.incrementAndGet();
                problems.add("missing " + key);
              } else if (!Arrays.equals(
                  values.get(j).get(), Values.forKey(keys.get(j), generated.valueSize))) {
                wrong.incrementAndGet();
                problems.add("wrong value for " + key);
              } else {
                ok.incrementAndGet();
              }
            }
            progress.stepBy(to - from);
          });
    }
    if (json) {
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("ok", ok.get());
      result.put("missing", missing.get());
      result.put("wrong", wrong.get());
      Output.json(out(), result);
    } else {
      problems.stream().limit(SHOWN_PROBLEMS).forEach(p -> err().println("  " + p));
      out().println("ok=" + ok.get() + " missing=" + missing.get() + " wrong=" + wrong.get());
    }
    return missing.get() + wrong.get() == 0 ? 0 : ShardctlMain.EXIT_NO;
  }
}
