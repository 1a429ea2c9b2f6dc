package io.shardcluster.coordinator;

import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.rpc.ProcessDefaults;
import io.shardcluster.server.Failpoints;
import io.shardcluster.server.ProcessTempDir;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Command line of the coordinator process. */
@Command(
    name = "coordinator",
    mixinStandardHelpOptions = true,
    version = "shardcluster coordinator 0.1.0",
    description =
        "Runs the shardcluster coordinator: membership, routing tables, directory, epoch.")
public final class CoordinatorMain implements Callable<Integer> {
  @Option(
      names = "--host",
      defaultValue = "127.0.0.1",
      description = "Address to listen on (default: ${DEFAULT-VALUE}).")
  private String host;

  @Option(
      names = "--port",
      defaultValue = "7400",
      description = "Port to listen on; 0 picks a free one (default: ${DEFAULT-VALUE}).")
  private int port;

  @Option(
      names = "--data-dir",
      defaultValue = "data/coordinator",
      description = "Where metadata is kept (default: ${DEFAULT-VALUE}).")
  private Path dataDir;

  @Option(
      names = "--vnodes",
      defaultValue = "16",
      description =
          "Fewest nodes a joining node takes ring pieces from (default: ${DEFAULT-VALUE}).")
  private int vnodes;

  @Option(
      names = "--heartbeat-timeout-ms",
      defaultValue = "3000",
      description = "Silence after which a node is DOWN, in ms (default: ${DEFAULT-VALUE}).")
  private long heartbeatTimeoutMs;

  @Option(
      names = "--max-migrations",
      defaultValue = "4",
      description = "Migrations that copy data at the same time (default: ${DEFAULT-VALUE}).")
  private int maxMigrations;

  @Option(
      names = "--handover-steps",
      defaultValue = "" + CoordinatorConfig.DEFAULT_HANDOVER_STEPS,
      description =
          "Migrations a joining node takes each donor's share of a hash keyspace in, each"
              + " committed on its own, so that its traffic arrives a piece at a time (default:"
              + " ${DEFAULT-VALUE}).")
  private int handoverSteps;

  @Option(
      names = "--throttle-bytes",
      defaultValue = "67108864",
      description =
          "Copy rate limit per migration in bytes/s; 0 for none (default: ${DEFAULT-VALUE}, 64 MiB/s).")
  private long throttleBytes;

  @Option(
      names = "--cutover-timeout-ms",
      defaultValue = "10000",
      description =
          "A migration whose cutover is held up this long (a node not answering, a member of its"
              + " group not ready) is rolled back, so its keys are writable again (default:"
              + " ${DEFAULT-VALUE}).")
  private long cutoverTimeoutMs;

  @Option(
      names = "--target-down-timeout-ms",
      defaultValue = "60000",
      description =
          "A migration whose target node has been DOWN this long before the cutover is rolled"
              + " back, freeing its copy slot; a join, drain or directory change tries it again (default:"
              + " ${DEFAULT-VALUE}).")
  private long targetDownTimeoutMs;

  @Option(
      names = "--balancer",
      defaultValue = "on",
      description = "Automatic load balancing: on or off (default: ${DEFAULT-VALUE}).")
  private String balancer;

  @Option(
      names = "--balance-by",
      defaultValue = "keys",
      description =
          "Load the balancer evens out: keys (stored keys) or ops (reads+writes/s) (default: ${DEFAULT-VALUE}).")
  private String balanceBy;

  @Option(
      names = "--balance-threshold",
      defaultValue = "0.2",
      description =
          "The balancer acts when the most loaded node is this far above the mean, and at least 1,000 keys or 100 ops/s (default: ${DEFAULT-VALUE}, 20%%).")
  private double balanceThreshold;

  @Option(
      names = "--balance-target",
      defaultValue = "0.05",
      description =
          "... and moves load until every node is within this of the mean (default: ${DEFAULT-VALUE}).")
  private double balanceTarget;

  @Option(
      names = "--balance-window-ms",
      defaultValue = "30000",
      description =
          "How long the imbalance must last before the balancer acts (default: ${DEFAULT-VALUE}).")
  private long balanceWindowMs;

  @Option(
      names = "--range-split-keys",
      defaultValue = "" + CoordinatorConfig.DEFAULT_RANGE_SPLIT_KEYS,
      description =
          "Split a range of a range keyspace at its median key once it holds more keys than this; 0: never (default: ${DEFAULT-VALUE}).")
  private long rangeSplitKeys;

  @Option(
      names = "--range-split-ops",
      defaultValue = "" + CoordinatorConfig.DEFAULT_RANGE_SPLIT_OPS,
      description =
          "Split a range of a range keyspace at the key that halves its load once it takes more reads and writes per second than this; 0: never (default: ${DEFAULT-VALUE}).")
  private double rangeSplitOps;

  @Option(
      names = "--recover-from-nodes",
      description =
          "Only after the coordinator's metadata was lost, on an empty data dir: rebuild the"
              + " cluster's id, membership, routing and epoch from what its nodes hold, once every"
              + " node of the newest routing table they report has registered"
              + " (docs/operations.md).")
  private boolean recoverFromNodes;

  @Option(
      names = "--replace-after",
      defaultValue = "300",
      paramLabel = "SECONDS",
      description =
          "A replica of a replica group down longer than this is replaced by a spare (shard-node --spare) that installs the group's data; shardctl repairs shows the progress. 0: never (default: ${DEFAULT-VALUE}).")
  private long replaceAfterSeconds;

  @Option(
      names = "--failpoint",
      description =
          "For tests: NAME=crash|pause, where NAME is migration.before-fence,"
              + " migration.before-commit or migration.after-commit. Repeatable; also read from"
              + " $SHARDCLUSTER_FAILPOINTS.")
  private List<String> failpoints = new ArrayList<>();

  @Override
  public Integer call() throws InterruptedException {
    ProcessTempDir.claim(dataDir);
    if (!balancer.equals("on") && !balancer.equals("off")) {
      throw ShardClusterException.invalidArgument(
          "--balancer must be on or off, got '" + balancer + "'");
    }
    CoordinatorConfig config =
        new CoordinatorConfig(
            host,
            port,
            dataDir,
            vnodes,
            Duration.ofMillis(heartbeatTimeoutMs),
            maxMigrations,
            handoverSteps,
            throttleBytes,
            Duration.ofMillis(cutoverTimeoutMs),
            Duration.ofMillis(targetDownTimeoutMs),
            balancer.equals("on"),
            balanceBy,
            balanceThreshold,
            balanceTarget,
            Duration.ofMillis(balanceWindowMs),
            rangeSplitKeys,
            rangeSplitOps,
            recoverFromNodes,
            Duration.ofSeconds(replaceAfterSeconds),
            Failpoints.fromConfiguration(failpoints));
    CoordinatorServer server =
        new CoordinatorServer(
                config,
                NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), config.port())),
                Clock.systemUTC())
            .start();
    Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "coordinator-shutdown"));
    System.out.println(
        "coordinator listening on "
            + config.host()
            + ":"
            + server.port()
            + " (data dir "
            + config.dataDir().toAbsolutePath().normalize()
            + ", epoch "
            + server.epoch()
            + ")");
    System.out.flush();
    server.blockUntilShutdown();
    return 0;
  }

  public static void main(String[] args) {
    ProcessDefaults.apply();
    System.exit(
        new CommandLine(new CoordinatorMain())
            .setExecutionExceptionHandler(
                (e, commandLine, parseResult) -> {
                  commandLine.getErr().println("coordinator: " + message(e));
                  return 1;
                })
            .execute(args));
  }

  static String message(Exception e) {
    if (e instanceof ShardClusterException known) {
      return known.getMessage();
    }
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }
}
