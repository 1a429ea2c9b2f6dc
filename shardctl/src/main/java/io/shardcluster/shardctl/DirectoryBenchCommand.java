package io.shardcluster.shardctl;

import com.google.protobuf.ByteString;
import io.shardcluster.client.ShardClient;
import io.shardcluster.proto.v1.LookupGroupsRequest;
import io.shardcluster.proto.v1.LookupGroupsResponse;
import io.shardcluster.proto.v1.RoutingGrpc;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.UnaryFuture;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Phaser;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "bench",
    description =
        "Measures the coordinator's directory: places --groups groups in KEYSPACE (a directory"
            + " keyspace; groups it already has are kept), then sends lookups of random groups"
            + " from --threads closed-loop clients, bypassing client caches. Reports groups"
            + " placed/s, lookups/s and latency.",
    mixinStandardHelpOptions = true)
final class DirectoryBenchCommand extends ClusterCommand {
  @Parameters(index = "0", paramLabel = "KEYSPACE")
  String keyspace;

  @Option(
      names = "--groups",
      defaultValue = "1000000",
      description = "Groups in the directory (default: ${DEFAULT-VALUE}).")
  int groups;

  @Option(
      names = "--threads",
      defaultValue = "16",
      description = "Concurrent closed-loop clients (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(
      names = "--batch",
      defaultValue = "1",
      description = "Groups per lookup request (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(
      names = "--duration",
      defaultValue = "10",
      description = "Measured seconds (default: ${DEFAULT-VALUE}).")
  double duration;

  @Option(
      names = "--warmup",
      defaultValue = "3",
      description = "Unmeasured seconds first (default: ${DEFAULT-VALUE}).")
  double warmup;

  @Option(names = "--json", description = "Print the results as one JSON object.")
  boolean json;

  private static byte[] group(long i) {
    return ("g" + i).getBytes(StandardCharsets.UTF_8);
  }

  /**
   * One closed-loop client: sends a lookup of random groups, and the next when the answer comes.
   */
  private void lookupLoop(
      RoutingGrpc.RoutingStub stub,
      SplittableRandom random,
      Phaser inFlight,
      AtomicBoolean measuring,
      AtomicBoolean stopped,
      Recorder latency,
      LongAdder lookups,
      LongAdder errors) {
    if (stopped.get()) {
      inFlight.arriveAndDeregister();
      return;
    }
    LookupGroupsRequest.Builder request = LookupGroupsRequest.newBuilder().setKeyspace(keyspace);
    for (int i = 0; i < batch; i++) {
      request.addGroups(ByteString.copyFrom(group(random.nextInt(groups))));
    }
    long start = System.nanoTime();
    UnaryFuture<LookupGroupsResponse> call = new UnaryFuture<>();
    stub.withDeadlineAfter(10, TimeUnit.SECONDS).lookupGroups(request.build(), call);
    var unused =
        call.whenComplete(
            (response, failure) -> {
              if (measuring.get()) {
                if (failure == null) {
                  latency.recordValue(
                      Math.min(System.nanoTime() - start, TimeUnit.SECONDS.toNanos(60)));
                  lookups.add(batch);
                } else {
                  errors.increment();
                }
              }
              lookupLoop(stub, random, inFlight, measuring, stopped, latency, lookups, errors);
            });
  }

  @Override
  void checkUsage() {
    requireUsage(groups >= 1, "--groups must be at least 1");
    requireUsage(threads >= 1, "--threads must be at least 1");
    requireUsage(batch >= 1, "--batch must be at least 1");
    requireUsage(duration > 0, "--duration must be positive");
  }

  @Override
  int run(ShardClient client) throws InterruptedException {
    var admin = client.admin();
    long placeStart = System.nanoTime();
    KeyRangeWorkers.run(
        groups,
        1000,
        4,
        (from, to) -> {
          List<byte[]> names = new ArrayList<>();
          for (long i = from; i < to; i++) {
            names.add(group(i));
          }
          admin.lookupGroups(keyspace, names, true);
        });
    double placeSeconds = (System.nanoTime() - placeStart) / 1e9;

    Recorder latency = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
    LongAdder lookups = new LongAdder();
    LongAdder errors = new LongAdder();
    try (NodeChannels channels = NodeChannels.netty(1)) {
      RoutingGrpc.RoutingStub stub =
          RoutingGrpc.newStub(channels.channel(client.coordinatorAddress()));
      Phaser inFlight = new Phaser(1);
      AtomicBoolean measuring = new AtomicBoolean();
      AtomicBoolean stopped = new AtomicBoolean();
      for (int t = 0; t < threads; t++) {
        inFlight.register();
        lookupLoop(
            stub,
            new SplittableRandom(t * 31L + 7),
            inFlight,
            measuring,
            stopped,
            latency,
            lookups,
            errors);
      }
      TimeUnit.MILLISECONDS.sleep((long) (warmup * 1000));
      latency.reset();
      measuring.set(true);
      TimeUnit.MILLISECONDS.sleep((long) (duration * 1000));
      measuring.set(false);
      stopped.set(true);
      try {
        inFlight.awaitAdvanceInterruptibly(inFlight.arrive(), 30, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        // Requests still out are abandoned with the process.
      }
    }
    Histogram h = latency.getIntervalHistogram();
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("groups", groups);
    result.put("groups_placed_per_sec", groups / placeSeconds);
    result.put("threads", threads);
    result.put("batch", batch);
    result.put("lookups_per_sec", lookups.sum() / duration);
    result.put("requests_per_sec", lookups.sum() / (double) batch / duration);
    result.put("p50_ms", h.getValueAtPercentile(50) / 1e6);
    result.put("p99_ms", h.getValueAtPercentile(99) / 1e6);
    result.put("errors", errors.sum());
    if (json) {
      Output.json(out(), result);
      return errors.sum() == 0 ? 0 : ShardctlMain.EXIT_FAILED;
    }
    out()
        .printf(
            Locale.ROOT,
            "directory bench: %,d groups in %s (placed at %,.0f groups/s), %d threads, batch %d%n",
            groups,
            keyspace,
            groups / placeSeconds,
            threads,
            batch);
    out()
        .printf(
            Locale.ROOT,
            "  lookups/s   %,.0f  (%,.0f requests/s)%n",
            lookups.sum() / duration,
            lookups.sum() / (double) batch / duration);
    out()
        .printf(
            Locale.ROOT,
            "  latency ms  p50 %.3f  p99 %.3f%n",
            h.getValueAtPercentile(50) / 1e6,
            h.getValueAtPercentile(99) / 1e6);
    out().printf(Locale.ROOT, "  errors      %d%n", errors.sum());
    return errors.sum() == 0 ? 0 : ShardctlMain.EXIT_FAILED;
  }
}
