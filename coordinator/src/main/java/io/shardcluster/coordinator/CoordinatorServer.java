package io.shardcluster.coordinator;

import com.google.common.base.Ticker;
import io.grpc.ManagedChannel;
import io.grpc.ServerBuilder;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.server.DataDirRole;
import io.shardcluster.server.ServerLifecycle;
import io.shardcluster.server.ServerStartup;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.rocksdb.RocksDBException;

/** The coordinator process's lifecycle: metadata store, gRPC services, failure detection. */
public final class CoordinatorServer {
  private static final Logger logger = Logger.getLogger(CoordinatorServer.class.getName());

  private final CoordinatorConfig config;
  private final ServerBuilder<?> serverBuilder;
  private final Clock clock;
  private final Function<String, ManagedChannel> channels;
  private final ServerLifecycle lifecycle = new ServerLifecycle();
  private final Map<String, NodeStateProto> reportedStates = new HashMap<>();

  // Set by start(), before anything can use it.
  @SuppressWarnings("NullAway.Init")
  private Cluster cluster;

  /**
   * A coordinator that will serve on the given builder (Netty in production, in-process in tests).
   */
  public CoordinatorServer(CoordinatorConfig config, ServerBuilder<?> serverBuilder, Clock clock) {
    this(config, serverBuilder, clock, NodeChannels::plaintext);
  }

  /** As above, reaching shard nodes through channels from {@code channels} (tests: in-process). */
  public CoordinatorServer(
      CoordinatorConfig config,
      ServerBuilder<?> serverBuilder,
      Clock clock,
      Function<String, ManagedChannel> channels) {
    this.config = config;
    this.serverBuilder = serverBuilder;
    this.clock = clock;
    this.channels = channels;
  }

  /** Opens the metadata, starts serving and starts failure detection. */
  public CoordinatorServer start() {
    ServerStartup.prepareDataDir(config.dataDir(), DataDirRole.COORDINATOR);
    MetadataStore store;
    try {
      store = lifecycle.closeOnStop(MetadataStore.open(config.dataDir().resolve("metadata")));
    } catch (RocksDBException e) {
      throw ShardClusterException.unavailable(
          "cannot open coordinator metadata in " + config.dataDir() + ": " + describe(e));
    }
    Rebalancer rebalancer;
    Repairs repairs;
    LeaderPins leaderPins;
    try {
      Liveness liveness = new Liveness(clock, config.heartbeatTimeout());
      NodeDataProbe probe =
          lifecycle.closeOnStop(
              new NodeDataProbe(new NodeChannels(channels), Duration.ofSeconds(5)));
      cluster = Cluster.open(store, liveness, probe, config.recoverFromNodes());
      // One pool of channels to the nodes for everything the coordinator asks of them.
      NodeChannels nodeChannels = lifecycle.closeOnStop(new NodeChannels(channels));
      rebalancer =
          lifecycle.closeOnStop(
              new Rebalancer(
                  cluster,
                  liveness,
                  new GrpcMigrationNodes(nodeChannels),
                  config,
                  clock,
                  Ticker.systemTicker()));
      Spares spares = new Spares(clock, config.heartbeatTimeout());
      repairs =
          lifecycle.closeOnStop(
              new Repairs(
                  cluster.membership(),
                  spares,
                  nodeChannels,
                  clock,
                  config.replaceAfter(),
                  config.heartbeatTimeout()));
      leaderPins = lifecycle.closeOnStop(new LeaderPins(cluster.membership(), nodeChannels, clock));
      serverBuilder
          .addService(new MembershipService(cluster, rebalancer, spares))
          .addService(new RoutingService(cluster))
          .addService(new AdminService(cluster, rebalancer, liveness, config.vnodes(), repairs));
      lifecycle.serve(serverBuilder, config.host(), config.port());
    } catch (RuntimeException e) {
      lifecycle.stop();
      throw e;
    }
    rebalancer.start();
    repairs.start();
    leaderPins.start();
    ScheduledExecutorService ticker =
        lifecycle.shutDownOnStop(
            Executors.newSingleThreadScheduledExecutor(
                DaemonThreads.named("coordinator-failure-detector")));
    long period = Math.max(50, config.heartbeatTimeout().toMillis() / 4);
    var unused =
        ticker.scheduleAtFixedRate(this::reportStateChanges, period, period, TimeUnit.MILLISECONDS);
    return this;
  }

  /** The port the server listens on (useful with port 0). */
  public int port() {
    return lifecycle.port();
  }

  /** The current epoch. */
  public long epoch() {
    return cluster.routing().epoch();
  }

  private void reportStateChanges() {
    try {
      for (Membership.Member member : cluster.membership().members()) {
        NodeStateProto previous = reportedStates.put(member.id(), member.state());
        if (previous != null && previous != member.state()) {
          logger.info("node " + member.id() + " at " + member.address() + " is " + member.state());
        }
      }
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "failure detection tick failed", e);
    }
  }

  /** Stops serving, then the failure detector and the rebalancer, and closes the metadata. */
  public void stop() {
    lifecycle.stop();
  }

  /** Waits until the server terminates. */
  public void blockUntilShutdown() throws InterruptedException {
    lifecycle.blockUntilShutdown();
  }

  static String describe(RocksDBException e) {
    String message = e.getMessage() == null ? e.toString() : e.getMessage();
    if (message.contains("lock") || message.contains("LOCK")) {
      return "it is in use by another process (" + message + ")";
    }
    return message;
  }
}
