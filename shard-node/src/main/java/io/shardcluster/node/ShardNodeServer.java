package io.shardcluster.node;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.shardcluster.client.ShardClusterException;
import io.shardcluster.client.internal.NodeChannels;
import io.shardcluster.client.internal.RoutingCache;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.wire.Limits;
import io.shardcluster.wire.RoutingTables;
import io.shardcluster.wire.ServerStartup;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.logging.Logger;
import org.rocksdb.RocksDBException;

/** A shard node process's lifecycle: identity, storage, gRPC services, coordinator link. */
public final class ShardNodeServer {
  private static final Logger logger = Logger.getLogger(ShardNodeServer.class.getName());
  private static final Duration ROUTING_FETCH_TIMEOUT = Duration.ofSeconds(2);

  private final ShardNodeConfig config;
  private final ServerBuilder<?> serverBuilder;
  private final Function<String, ManagedChannel> channels;
  private final HealthStatusManager health = new HealthStatusManager();
  private final AtomicReference<NodeStats> lastStats =
      new AtomicReference<>(NodeStats.getDefaultInstance());
  private final AtomicReference<ShardClusterException> fatal = new AtomicReference<>();
  private ScheduledExecutorService scheduler;
  private ExecutorService executor;
  private ManagedChannel coordinatorChannel;
  private RoutingCache routing;
  private LocalStore store;
  private NodeMetrics metrics;
  private NodeIdentity identity;
  private Server server;

  /**
   * A node that serves on the given builder and reaches the coordinator through channels from
   * {@code channels} (Netty in production; in-process in tests).
   */
  public ShardNodeServer(
      ShardNodeConfig config,
      ServerBuilder<?> serverBuilder,
      Function<String, ManagedChannel> channels) {
    this.config = config;
    this.serverBuilder = serverBuilder;
    this.channels = channels;
  }

  /** A node on Netty. */
  public ShardNodeServer(ShardNodeConfig config, ServerBuilder<?> serverBuilder) {
    this(config, serverBuilder, NodeChannels::plaintext);
  }

  /**
   * Opens storage, starts serving and registers with the coordinator. Fails if the data dir is
   * unusable, the port is taken, or the coordinator refuses the node; an unreachable coordinator is
   * not fatal (the node serves with the routing table it last saw and keeps trying).
   */
  public ShardNodeServer start() {
    Path dataDir = ServerStartup.prepareDataDir(config.dataDir());
    identity = NodeIdentity.loadOrCreate(dataDir, config.nodeId());
    try {
      store = LocalStore.open(dataDir.resolve("db"), config.syncWrites());
    } catch (RocksDBException e) {
      throw ShardClusterException.unavailable(
          "cannot open storage in " + dataDir + ": " + describe(e));
    }
    try {
      startServing();
    } catch (RuntimeException e) {
      stop();
      throw e;
    }
    return this;
  }

  private void startServing() {
    scheduler =
        Executors.newScheduledThreadPool(
            1,
            r -> {
              Thread thread = new Thread(r, identity.nodeId() + "-scheduler");
              thread.setDaemon(true);
              return thread;
            });
    String coordinatorAddress = config.coordinator().toString();
    coordinatorChannel = channels.apply(coordinatorAddress);
    routing =
        new RoutingCache(coordinatorChannel, coordinatorAddress, ROUTING_FETCH_TIMEOUT, scheduler);
    byte[] saved = store.loadRouting();
    if (saved != null) {
      try {
        routing.offer(
            RoutingTables.fromProto(io.shardcluster.proto.v1.RoutingTable.parseFrom(saved)));
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        logger.warning("ignoring the saved routing table: " + e.getMessage());
      }
    }
    routing.addListener(table -> store.saveRouting(RoutingTables.toProto(table).toByteArray()));

    metrics = new NodeMetrics(System::nanoTime);
    Shard shard = new Shard(identity.nodeId(), store, this::tableFor, metrics);
    if (config.syncWrites()) {
      // A write waits for its fsync: run handlers on a pool so the waits overlap (group commit)
      // without stalling the I/O threads.
      AtomicInteger threadCount = new AtomicInteger();
      executor =
          Executors.newFixedThreadPool(
              config.threads(),
              r -> {
                Thread thread =
                    new Thread(r, identity.nodeId() + "-rpc-" + threadCount.incrementAndGet());
                thread.setDaemon(true);
                return thread;
              });
      serverBuilder.executor(executor);
    } else {
      // Without fsync a request is a few microseconds of RocksDB work: serve it on the I/O thread
      // and save two thread hops per request (about 1.5x the throughput on two cores).
      serverBuilder.directExecutor();
    }
    serverBuilder
        .addService(new ShardNodeService(shard, lastStats::get))
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .maxInboundMessageSize(Limits.MAX_MESSAGE_BYTES);
    server = ServerStartup.start(serverBuilder, config.host(), config.port());
    health.setStatus("", ServingStatus.SERVING);

    String address = config.host() + ":" + server.getPort();
    CoordinatorLink link =
        new CoordinatorLink(
            identity,
            address,
            coordinatorAddress,
            coordinatorChannel,
            routing,
            this::closeStatsWindow,
            config.heartbeatInterval(),
            scheduler,
            this::failFatally);
    link.start();
    logger.info(
        identity.nodeId()
            + " serving on "
            + address
            + " (data dir "
            + config.dataDir()
            + ", fsync "
            + (config.syncWrites() ? "on" : "off")
            + ")");
  }

  private RoutingTable tableFor(long requestEpoch) {
    RoutingTable table = routing.cached();
    if (requestEpoch <= table.epoch()) {
      return table;
    }
    // The caller has seen a newer table: catch up before judging ownership.
    try {
      return routing.refresh().get(ROUTING_FETCH_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception unreachable) {
      return routing.cached();
    }
  }

  private NodeStats closeStatsWindow() {
    NodeMetrics.Window window = metrics.closeWindow();
    NodeStats stats =
        NodeStats.newBuilder()
            .setKeys(store.estimatedKeys())
            .setBytes(store.estimatedBytes())
            .setReadsPerSec(window.readsPerSec())
            .setWritesPerSec(window.writesPerSec())
            .setReadP99Ms(window.readP99Ms())
            .setWriteP99Ms(window.writeP99Ms())
            .setEpoch(routing.cached().epoch())
            .build();
    lastStats.set(stats);
    return stats;
  }

  private void failFatally(ShardClusterException e) {
    if (fatal.compareAndSet(null, e)) {
      logger.severe("the coordinator refused this node: " + e.getMessage() + "; shutting down");
      new Thread(this::stop, "fatal-shutdown").start();
    }
  }

  /** The id this node runs as. */
  public String nodeId() {
    return identity.nodeId();
  }

  /** The port the server listens on. */
  public int port() {
    return server.getPort();
  }

  /** The error that stopped the node, if it stopped because the coordinator refused it. */
  public ShardClusterException fatalError() {
    return fatal.get();
  }

  /** Stops serving and closes storage; acknowledged writes are already in the log. */
  public synchronized void stop() {
    health.enterTerminalState();
    if (server != null) {
      server.shutdown();
      try {
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
          server.shutdownNow();
          server.awaitTermination(2, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        server.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    if (scheduler != null) {
      scheduler.shutdownNow();
    }
    if (routing != null) {
      routing.close();
    }
    if (coordinatorChannel != null) {
      coordinatorChannel.shutdownNow();
    }
    if (executor != null) {
      executor.shutdownNow();
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
