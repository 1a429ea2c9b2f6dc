package io.shardcluster.node;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.rpc.HostPort;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.ProcessDefaults;
import io.shardcluster.server.DataDirRole;
import io.shardcluster.server.Failpoints;
import io.shardcluster.server.ProcessTempDir;
import io.shardcluster.server.ServerStartup;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Command line of a shard node process. */
@Command(
    name = "shard-node",
    mixinStandardHelpOptions = true,
    version = "shardcluster shard-node 0.1.0",
    description = "Runs a shardcluster shard node: one partition of the data, stored in RocksDB.")
public final class ShardNodeMain implements Callable<Integer> {
  @Option(
      names = "--id",
      description = "Node id; required the first time a data dir is used, then read from it.")
  private String id;

  @Option(
      names = "--host",
      defaultValue = "127.0.0.1",
      description = "Address to listen on and advertise (default: ${DEFAULT-VALUE}).")
  private String host;

  @Option(
      names = "--port",
      defaultValue = "7401",
      description = "Port to listen on; 0 picks a free one (default: ${DEFAULT-VALUE}).")
  private int port;

  @Option(
      names = "--data-dir",
      required = true,
      description = "Where the partition and the node identity are kept.")
  private Path dataDir;

  @Option(
      names = "--coordinator",
      defaultValue = "127.0.0.1:7400",
      description = "Coordinator address HOST:PORT (default: ${DEFAULT-VALUE}).")
  private String coordinator;

  @Option(
      names = "--fsync",
      description =
          "Fsync every write batch before acknowledging it (group commit). Default: off; writes still reach the write-ahead log first, so they survive a process crash.")
  private boolean fsync;

  @Option(
      names = "--heartbeat-interval-ms",
      defaultValue = "500",
      description = "Time between heartbeats in ms (default: ${DEFAULT-VALUE}).")
  private long heartbeatIntervalMs;

  @Option(
      names = "--threads",
      defaultValue = "16",
      description =
          "Threads serving requests when --fsync is on or the node has a replica group (--replica); otherwise requests run on the I/O threads (default: ${DEFAULT-VALUE}).")
  private int threads;

  @Option(
      names = "--count-interval-ms",
      defaultValue = "10000",
      description =
          "Time between full counts of the owned keys, which the balancer plans with, while keys are written (default: ${DEFAULT-VALUE}).")
  private long countIntervalMs;

  @Option(
      names = "--copy-p99-factor",
      defaultValue = "" + ShardNodeConfig.DEFAULT_COPY_P99_FACTOR,
      description =
          "Keys copied away to another node slow down while this node's request p99 is above this"
              + " many times its p99 before the move, and speed up again below it; 0 turns that"
              + " off (default: ${DEFAULT-VALUE}).")
  private double copyP99Factor;

  @Option(
      names = "--replica",
      description =
          "This process's id in its shard's replica group (with --peer): every process of the group runs with the same --id and --peer list, each with its own --replica. Writes are acknowledged once a majority of the group has them; only the leader serves.")
  private String replica = "";

  @Option(
      names = "--peer",
      paramLabel = "ID@HOST:PORT/RAFTPORT",
      description =
          "A process of the replica group (this one included): its replica id, the address it serves clients on, and its Raft port. Repeatable.")
  private List<String> peers = new ArrayList<>();

  @Option(
      names = "--zone",
      paramLabel = "NAME",
      description =
          "Where this replica runs (a rack, a data centre), shown by shardctl nodes; shardctl health warns when one zone holds a majority of a group's replicas, and a spare from a zone the group lacks is taken first. Only with --replica or --spare.")
  private String zone = "";

  @Option(
      names = "--spare",
      description =
          "Start as a spare: no shard of its own until the coordinator adopts it in place of a replica of a group that stayed down past the coordinator's --replace-after. It then installs the group's data and runs as that replica, also after a restart (no --id, --replica or --peer).")
  private boolean spare;

  @Option(
      names = "--raft-port",
      description =
          "With --spare: the port its Raft server will listen on once adopted (default: --port + 1000).")
  private int raftPort;

  @Option(
      names = "--failpoint",
      description =
          "For tests: NAME=crash|pause, where NAME is one of migration.mid-copy, migration.catch-up, query.mid-scan. Repeatable; also read from $SHARDCLUSTER_FAILPOINTS.")
  private List<String> failpoints = new ArrayList<>();

  @Override
  public Integer call() throws InterruptedException {
    ProcessTempDir.claim(dataDir);
    ShardNodeConfig.Replication replication;
    if (spare) {
      SpareAdoption adoption = adoptionOrWait();
      id = adoption.nodeId();
      replication = new ShardNodeConfig.Replication(adoption.replicaId(), adoption.peers(), zone);
    } else {
      replication =
          new ShardNodeConfig.Replication(
              replica, peers.stream().map(GroupPeer::parse).toList(), zone);
    }
    ShardNodeConfig config =
        new ShardNodeConfig(
            id,
            host,
            port,
            dataDir,
            HostPort.parse(coordinator),
            fsync,
            Duration.ofMillis(heartbeatIntervalMs),
            threads,
            Duration.ofMillis(countIntervalMs),
            copyP99Factor,
            Failpoints.fromConfiguration(failpoints),
            replication);
    ShardNodeServer server =
        new ShardNodeServer(
                config,
                NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), config.port())))
            .start();
    Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "shard-node-shutdown"));
    System.out.println(
        "shard-node " + server.nodeId() + " listening on " + config.host() + ":" + server.port());
    System.out.flush();
    server.blockUntilShutdown();
    if (server.fatalError() != null) {
      System.err.println("shard-node: " + server.fatalError().getMessage());
      return 1;
    }
    return 0;
  }

  /** The adoption saved by an earlier run, or the one the coordinator makes now. */
  private SpareAdoption adoptionOrWait() throws InterruptedException {
    if (id != null || !replica.isEmpty() || !peers.isEmpty()) {
      throw ShardClusterException.invalidArgument(
          "--spare takes no --id, --replica or --peer: the coordinator gives them when it adopts it");
    }
    Path dir = ServerStartup.prepareDataDir(dataDir, DataDirRole.SHARD_NODE);
    SpareAdoption saved = SpareAdoption.load(dir);
    if (saved != null) {
      return saved;
    }
    if (Files.exists(dir.resolve(NodeIdentity.FILE))) {
      throw ShardClusterException.invalidArgument(
          "data dir " + dir + " belongs to a node already: give a spare a new directory");
    }
    HostPort address = new HostPort(host, port);
    int raft = raftPort > 0 ? raftPort : port + 1000;
    requireArgument(port > 0, "a spare needs a fixed --port (its peers are told it)");
    requireArgument(raft <= 65535 && raft != port, "--raft-port %s is not usable", raft);
    ManagedChannel coordinatorChannel = NodeChannels.plaintext(coordinator);
    try {
      SpareNode spareNode =
          new SpareNode(
              address, raft, zone, dir, coordinatorChannel, Duration.ofMillis(heartbeatIntervalMs));
      System.out.println("shard-node spare listening on " + address + ", waiting to be adopted");
      System.out.flush();
      return spareNode.awaitAdoption(
          NettyServerBuilder.forAddress(new InetSocketAddress(host, port)));
    } finally {
      coordinatorChannel.shutdownNow();
    }
  }

  public static void main(String[] args) {
    ProcessDefaults.apply();
    System.exit(
        new CommandLine(new ShardNodeMain())
            .setExecutionExceptionHandler(
                (e, commandLine, parseResult) -> {
                  commandLine
                      .getErr()
                      .println(
                          "shard-node: "
                              + (e instanceof ShardClusterException
                                  ? e.getMessage()
                                  : e.getClass().getSimpleName() + ": " + e.getMessage()));
                  return 1;
                })
            .execute(args));
  }
}
