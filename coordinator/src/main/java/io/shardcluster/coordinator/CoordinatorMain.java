package io.shardcluster.coordinator;

import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.shardcluster.client.ShardClusterException;
import io.shardcluster.wire.ServerStartup;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
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
      description = "Most ring pieces a joining node takes (default: ${DEFAULT-VALUE}).")
  private int vnodes;

  @Option(
      names = "--heartbeat-timeout-ms",
      defaultValue = "3000",
      description = "Silence after which a node is DOWN, in ms (default: ${DEFAULT-VALUE}).")
  private long heartbeatTimeoutMs;

  @Override
  public Integer call() throws InterruptedException {
    CoordinatorConfig config =
        new CoordinatorConfig(host, port, dataDir, vnodes, Duration.ofMillis(heartbeatTimeoutMs));
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
    ServerStartup.configureProcess();
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
    if (e instanceof ShardClusterException) {
      return e.getMessage();
    }
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }
}
