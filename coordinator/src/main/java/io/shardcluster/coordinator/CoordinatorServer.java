package io.shardcluster.coordinator;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.rpc.Limits;
import io.shardcluster.rpc.NodeChannels;
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
  private final HealthStatusManager health = new HealthStatusManager();
  private final ScheduledExecutorService ticker =
      Executors.newSingleThreadScheduledExecutor(
          DaemonThreads.named("coordinator-failure-detector"));
  private final Map<String, NodeStateProto> reportedStates = new HashMap<>();
  private MetadataStore store;
  private NodeDataProbe probe;
  private Cluster cluster;
  private Rebalancer rebalancer;
  private NodeChannels migrationChannels;
  private Liveness liveness;
  private Server server;

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
    ServerStartup.prepareDataDir(config.dataDir());
    try {
      store = MetadataStore.open(config.dataDir().resolve("metadata"));
    } catch (RocksDBException e) {
      throw ShardClusterException.unavailable(
          "cannot open coordinator metadata in " + config.dataDir() + ": " + describe(e));
    }
    try {
      liveness = new Liveness(clock, config.heartbeatTimeout());
      probe = new NodeDataProbe(new NodeChannels(channels), Duration.ofSeconds(5));
      cluster = Cluster.open(store, liveness, probe);
      migrationChannels = new NodeChannels(channels);
      rebalancer = new Rebalancer(cluster, liveness, migrationChannels, config, clock);
      serverBuilder
          .addService(new MembershipService(cluster, rebalancer))
          .addService(new RoutingService(cluster))
          .addService(new AdminService(cluster, rebalancer, liveness, config.vnodes()))
          .addService(health.getHealthService())
          .addService(ProtoReflectionServiceV1.newInstance())
          .maxInboundMessageSize(Limits.MAX_MESSAGE_BYTES);
      server = ServerStartup.start(serverBuilder, config.host(), config.port());
    } catch (RuntimeException e) {
      closeResources();
      throw e;
    }
    health.setStatus("", ServingStatus.SERVING);
    rebalancer.start();
    long period = Math.max(50, config.heartbeatTimeout().toMillis() / 4);
    ticker.scheduleAtFixedRate(this::reportStateChanges, period, period, TimeUnit.MILLISECONDS);
    return this;
  }

  /** The port the server listens on (useful with port 0). */
  public int port() {
    return server.getPort();
  }

  /** The current epoch. */
  public long epoch() {
    return cluster.routing().epoch();
  }

  private void reportStateChanges() {
    try {
      for (Cluster.Member member : cluster.members()) {
        NodeStateProto previous = reportedStates.put(member.id(), member.state());
        if (previous != null && previous != member.state()) {
          logger.info("node " + member.id() + " at " + member.address() + " is " + member.state());
        }
      }
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "failure detection tick failed", e);
    }
  }

  /** Stops serving and closes the metadata store. */
  public void stop() {
    health.enterTerminalState();
    ticker.shutdownNow();
    if (server != null) {
      server.shutdown();
      try {
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
          server.shutdownNow();
        }
      } catch (InterruptedException e) {
        server.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    closeResources();
  }

  private void closeResources() {
    if (rebalancer != null) {
      rebalancer.close();
    }
    if (migrationChannels != null) {
      migrationChannels.close();
    }
    if (probe != null) {
      probe.close();
    }
    if (store != null) {
      store.close();
      store = null;
    }
  }

  /** Waits until the server terminates. */
  public void blockUntilShutdown() throws InterruptedException {
    if (server != null) {
      server.awaitTermination();
    }
  }

  static String describe(RocksDBException e) {
    String message = e.getMessage() == null ? e.toString() : e.getMessage();
    if (message.contains("lock") || message.contains("LOCK")) {
      return "it is in use by another process (" + message + ")";
    }
    return message;
  }
}
