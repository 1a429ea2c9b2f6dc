package io.shardcluster.node;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServiceDescriptor;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.DirectoryEntryLoad;
import io.shardcluster.proto.v1.IdentifyResponse;
import io.shardcluster.proto.v1.KeyMigrationGrpc;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.proto.v1.RangeLoad;
import io.shardcluster.proto.v1.ReplicaStatus;
import io.shardcluster.proto.v1.ReplicasGrpc;
import io.shardcluster.proto.v1.RoutingTableProto;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.proto.v1.TransactionsGrpc;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.rpc.GroupOwners;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingCache;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.server.DataDirRole;
import io.shardcluster.server.ServerLifecycle;
import io.shardcluster.server.ServerStartup;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;
import org.rocksdb.RocksDBException;

/** A shard node process's lifecycle: identity, storage, gRPC services, coordinator link. */
public final class ShardNodeServer {
  private static final Logger logger = Logger.getLogger(ShardNodeServer.class.getName());
  private static final Duration ROUTING_FETCH_TIMEOUT = Duration.ofSeconds(2);
  // Directory-keyspace group entries kept; a miss asks the coordinator.
  private static final long GROUP_CACHE_ENTRIES = 1_000_000;
  // Concurrent writers' batches share a replica group log entry up to this size.
  private static final int MAX_LOG_ENTRY_BYTES = 1 << 20;

  private final ShardNodeConfig config;
  private final ServerBuilder<?> serverBuilder;
  private final Function<String, ManagedChannel> channels;
  private final ServerLifecycle lifecycle = new ServerLifecycle();
  private final AtomicReference<NodeStats> lastStats =
      new AtomicReference<>(NodeStats.getDefaultInstance());
  private final AtomicReference<@Nullable ShardClusterException> fatal = new AtomicReference<>();
  private final Supplier<NodeChannels> lookupChannelFactory;

  // Set by start(), before any request, heartbeat or count can use them.
  @SuppressWarnings("NullAway.Init")
  private NodeIdentity identity;

  @SuppressWarnings("NullAway.Init")
  private LocalStore store;

  @SuppressWarnings("NullAway.Init")
  private RoutingCache routing;

  @SuppressWarnings("NullAway.Init")
  private LeaderServices services;

  @SuppressWarnings("NullAway.Init")
  private LeaderStack.Shared shared;

  // Set while this process leads its shard (always, for a shard of one process).
  private volatile @Nullable LeaderStack stack;
  private volatile @Nullable ReplicaGroup group;
  private volatile @Nullable CoordinatorLink link;
  private volatile boolean stopping;
  private volatile String address = "";
  // Opens and closes the leader stack as the group's leadership changes, one change at a time.
  private final ExecutorService leadership =
      Executors.newSingleThreadExecutor(DaemonThreads.named("leadership"));

  @SuppressWarnings("NullAway.Init")
  private NodeMetrics metrics;

  /**
   * A node that serves on the given builder and reaches the coordinator through channels from
   * {@code channels} (Netty in production; in-process in tests).
   */
  public ShardNodeServer(
      ShardNodeConfig config,
      ServerBuilder<?> serverBuilder,
      Function<String, ManagedChannel> channels) {
    this(config, serverBuilder, channels, () -> new NodeChannels(channels));
  }

  private ShardNodeServer(
      ShardNodeConfig config,
      ServerBuilder<?> serverBuilder,
      Function<String, ManagedChannel> channels,
      Supplier<NodeChannels> lookupChannels) {
    this.config = config;
    this.serverBuilder = serverBuilder;
    this.channels = channels;
    this.lookupChannelFactory = lookupChannels;
  }

  /**
   * A node on Netty. Group lookups at the coordinator get an I/O thread of their own: a request
   * handler on a server I/O thread may wait for one, which must not need that thread to answer.
   */
  public ShardNodeServer(ShardNodeConfig config, ServerBuilder<?> serverBuilder) {
    this(config, serverBuilder, NodeChannels::plaintext, () -> NodeChannels.netty(1));
  }

  /**
   * Opens storage, starts serving and registers with the coordinator. Fails if the data dir is
   * unusable, the port is taken, or the coordinator refuses the node; an unreachable coordinator is
   * not fatal (the node serves with the routing table it last saw and keeps trying).
   */
  public ShardNodeServer start() {
    Path dataDir = ServerStartup.prepareDataDir(config.dataDir(), DataDirRole.SHARD_NODE);
    identity =
        NodeIdentity.loadOrCreate(
            dataDir, config.nodeId(), config.replication().groupInstance(config.nodeId()));
    // This process's own id, new at every start: the coordinator tells a restart from a copy of
    // the data directory started while this process still runs.
    String session = UUID.randomUUID().toString();
    try {
      store = lifecycle.closeOnStop(LocalStore.open(dataDir.resolve("db"), config.syncWrites()));
    } catch (RocksDBException e) {
      throw ShardClusterException.unavailable(
          "cannot open storage in " + dataDir + ": " + describe(e));
    }
    try {
      startServing(dataDir, session);
    } catch (RuntimeException e) {
      stop();
      throw e;
    }
    return this;
  }

  private void startServing(Path dataDir, String session) {
    String nodeId = identity.nodeId();
    ScheduledExecutorService scheduler =
        lifecycle.shutDownOnStop(
            Executors.newScheduledThreadPool(1, DaemonThreads.named(nodeId + "-scheduler")));
    String coordinatorAddress = config.coordinator().toString();
    ManagedChannel coordinatorChannel =
        lifecycle.shutDownOnStop(channels.apply(coordinatorAddress));
    routing =
        lifecycle.closeOnStop(
            new RoutingCache(
                coordinatorChannel, coordinatorAddress, ROUTING_FETCH_TIMEOUT, scheduler));
    byte[] saved = store.loadRouting();
    if (saved != null) {
      try {
        routing.offer(RoutingTables.fromProto(RoutingTableProto.parseFrom(saved)));
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        logger.warning("ignoring the saved routing table: " + e.getMessage());
      }
    }
    routing.addListener(table -> store.saveRouting(RoutingTables.toProto(table).toByteArray()));

    CopyPacer pacer = new CopyPacer(config.copyP99Factor());
    var unusedPacing =
        scheduler.scheduleAtFixedRate(
            pacer::tick, CopyPacer.TICK_MILLIS, CopyPacer.TICK_MILLIS, TimeUnit.MILLISECONDS);
    metrics = new NodeMetrics(System::nanoTime, pacer::record);
    NodeChannels migrationChannels = lifecycle.closeOnStop(new NodeChannels(channels));
    NodeChannels lookupChannels = lifecycle.closeOnStop(lookupChannelFactory.get());
    Ownership ownership =
        new Ownership(
            new GroupOwners(
                lookupChannels, coordinatorAddress, ROUTING_FETCH_TIMEOUT, GROUP_CACHE_ENTRIES));
    boolean replicated = config.replication().replicated();
    if (config.syncWrites() || replicated) {
      // A write waits for its fsync (or its replicas): run handlers on a pool so the waits
      // overlap (group commit) without stalling the I/O threads.
      serverBuilder.executor(
          lifecycle.shutDownOnStop(
              Executors.newFixedThreadPool(
                  config.threads(), DaemonThreads.numbered(nodeId + "-rpc-"))));
    } else {
      // Without fsync a request is a few microseconds of RocksDB work: serve it on the I/O thread
      // and save two thread hops per request (about 1.5x the throughput on two cores).
      serverBuilder.directExecutor();
    }
    // Requests that needed a group lookup run again here once it is in (rarely waiting again).
    ExecutorService lookupExecutor =
        lifecycle.shutDownOnStop(
            Executors.newCachedThreadPool(DaemonThreads.numbered(nodeId + "-lookup-")));
    ExecutorService queryExecutor =
        lifecycle.shutDownOnStop(
            Executors.newFixedThreadPool(
                Math.max(2, Runtime.getRuntime().availableProcessors()),
                DaemonThreads.numbered(nodeId + "-query-")));
    List<ServiceDescriptor> leaderServices =
        new ArrayList<>(
            List.of(
                ShardNodeGrpc.getServiceDescriptor(),
                TransactionsGrpc.getServiceDescriptor(),
                KeyMigrationGrpc.getServiceDescriptor()));
    if (replicated) {
      leaderServices.add(ReplicasGrpc.getServiceDescriptor());
    }
    services = new LeaderServices(leaderServices, this::notLeader);
    serverBuilder.fallbackHandlerRegistry(services);
    Server server = lifecycle.serve(serverBuilder, config.host(), config.port());

    // An in-process server has no port; it is reached by the name host:port of its config.
    address = config.host() + ":" + (server.getPort() > 0 ? server.getPort() : config.port());
    if (replicated) {
      group =
          lifecycle.closeOnStop(
              ReplicaGroup.start(
                  nodeId,
                  config.replication().replicaId(),
                  config.replication().peers(),
                  dataDir.resolve("raft"),
                  store,
                  migrationChannels,
                  leads -> leadership.execute(this::followLeadership)));
      store.writeThrough(new GroupCommit(group, MAX_LOG_ENTRY_BYTES));
    }
    shared =
        new LeaderStack.Shared(
            nodeId,
            store,
            routing,
            this::tableFor,
            this::tableAtLeast,
            ownership,
            metrics,
            pacer,
            migrationChannels,
            queryExecutor,
            lookupExecutor,
            IdentifyResponse.newBuilder()
                .setNodeId(nodeId)
                .setInstanceId(identity.instanceId())
                .setSessionId(session)
                .build(),
            lastStats::get,
            config.countInterval(),
            config.failpoints(),
            group,
            group == null ? null : LeaderServices.confirmedBy(group));
    lifecycle.closeOnStop(this::closeStack);
    if (group == null) {
      openStack();
    }
    link =
        new CoordinatorLink(
            identity,
            dataDir,
            session,
            address,
            coordinatorAddress,
            coordinatorChannel,
            routing,
            this::closeStatsWindow,
            this::replicaStatus,
            config.heartbeatInterval(),
            scheduler,
            this::failFatally,
            active -> {
              LeaderStack current = stack;
              if (current != null) {
                current.reconcile(active);
              }
            });
    link.start();
    logger.info(
        nodeId
            + " serving on "
            + address
            + " (data dir "
            + config.dataDir()
            + ", fsync "
            + (config.syncWrites() ? "on" : "off")
            + (replicated ? ", replica " + config.replication().replicaId() : "")
            + ")");
  }

  /**
   * Opens or closes the leader stack to match the replica group's leadership. Runs on one thread,
   * so openings and closings never interleave.
   */
  private void followLeadership() {
    ReplicaGroup replicas = group;
    if (replicas == null || stopping) {
      return;
    }
    if (!replicas.leads()) {
      if (stack != null) {
        logger.info(identity.nodeId() + " is no longer the leader of its group; serving nothing");
        closeStack();
      }
      return;
    }
    if (stack != null) {
      return;
    }
    try {
      // Every entry of earlier terms is applied once a read-index round succeeds: the stack is
      // then built from all that the group has committed.
      replicas.awaitLinearizable();
    } catch (RuntimeException e) {
      logger.info(identity.nodeId() + " could not confirm its leadership: " + e.getMessage());
      if (replicas.leads()) {
        leadership.execute(this::followLeadership);
      }
      return;
    }
    openStack();
    logger.info(
        identity.nodeId() + " leads its group now (replica " + replicas.status().replicaId() + ")");
    CoordinatorLink current = link;
    if (current != null) {
      current.heartbeatNow();
    }
  }

  private synchronized void openStack() {
    LeaderStack opened = new LeaderStack(shared);
    stack = opened;
    services.serve(opened.services());
  }

  private synchronized void closeStack() {
    LeaderStack current = stack;
    services.refuse();
    stack = null;
    if (current != null) {
      current.close();
    }
  }

  private ShardClusterException notLeader() {
    ReplicaGroup replicas = group;
    return replicas != null
        ? replicas.notLeader()
        : ShardClusterException.unavailable(identity.nodeId() + " is starting or stopping");
  }

  /** This replica's part in its group, for the coordinator; empty for a shard of one process. */
  private ReplicaStatus replicaStatus() {
    ReplicaGroup replicas = group;
    if (replicas == null) {
      return ReplicaStatus.getDefaultInstance();
    }
    ReplicaGroup.Status status = replicas.status();
    return ReplicaStatus.newBuilder()
        .setReplicaId(status.replicaId())
        .setAddress(address)
        .setLeader(status.leader() && stack != null)
        .setTerm(status.term())
        .setAppliedIndex(status.appliedIndex())
        .setLeaderId(status.leaderId() == null ? "" : status.leaderId())
        .putAllCommitIndexes(status.peerCommitIndexes())
        .addAllMembers(status.members().stream().map(GroupPeer::id).toList())
        .addAllPeers(status.members().stream().map(GroupPeer::toString).toList())
        .setZone(config.replication().zone())
        .build();
  }

  /**
   * The table to judge a request by. If the caller has seen a newer one, fetch it in the background
   * but do not wait: requests run on I/O threads, and answering from the table at hand is safe,
   * because a node that lost keys keeps them fenced until it has seen the new table.
   */
  private RoutingTable tableFor(long requestEpoch) {
    RoutingTable table = routing.cached();
    if (requestEpoch > table.epoch()) {
      var unused = routing.refresh();
    }
    return table;
  }

  /** The table once it is at least as new as {@code epoch}, waiting up to a timeout. */
  private RoutingTable tableAtLeast(long epoch) {
    RoutingTable table = routing.cached();
    if (epoch <= table.epoch()) {
      return table;
    }
    try {
      return routing.refresh().get(ROUTING_FETCH_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception unreachable) {
      return routing.cached();
    }
  }

  private NodeStats closeStatsWindow() {
    NodeMetrics.Window window = metrics.closeWindow();
    LeaderStack leading = stack;
    KeyCounts current = leading == null ? KeyCounts.NONE : leading.counts();
    NodeStats.Builder stats =
        NodeStats.newBuilder()
            .setKeys(current.keys())
            .setBytes(current.bytes())
            .setReadsPerSec(window.readsPerSec())
            .setWritesPerSec(window.writesPerSec())
            .setReadP99Ms(window.readP99Ms())
            .setWriteP99Ms(window.writeP99Ms())
            .setEpoch(routing.cached().epoch())
            .setCountedAtEpoch(current.epoch())
            .setKeysStale(leading == null || leading.countsStale(routing.cached().epoch()))
            .setStorageFaults(store.faults().count())
            .setStorageFault(store.faults().latest())
            .setWriteFault(store.faults().writeFault())
            .putAllKeyspaceKeys(current.keyspaceKeys());
    Map<KeyCounts.EntrySlot, long[]> entries = new HashMap<>(current.entries());
    window.entryOpsPerSec().keySet().forEach(slot -> entries.putIfAbsent(slot, new long[2]));
    entries.forEach(
        (slot, count) ->
            stats.addDirectoryLoad(
                DirectoryEntryLoad.newBuilder()
                    .setKeyspace(slot.keyspace())
                    .setKey(slot.key())
                    .setPrefix(slot.prefix())
                    .setKeys(count[0])
                    .setBytes(count[1])
                    .setOpsPerSec(window.entryOpsPerSec().getOrDefault(slot, 0.0))));
    Map<KeyCounts.RangeSlot, RangeLoad.Builder> ranges = new HashMap<>();
    current
        .ranges()
        .forEach(
            (slot, size) ->
                ranges.put(
                    slot,
                    RangeLoad.newBuilder()
                        .setKeyspace(slot.keyspace())
                        .setStart(slot.start())
                        .setKeys(size.keys)
                        .setBytes(size.bytes)
                        .setMedian(ByteString.copyFrom(size.median()))));
    window
        .rangeLoads()
        .forEach(
            (slot, load) ->
                ranges
                    .computeIfAbsent(
                        slot,
                        s -> RangeLoad.newBuilder().setKeyspace(s.keyspace()).setStart(s.start()))
                    .setOpsPerSec(load.opsPerSec())
                    .setLoadMedian(ByteString.copyFrom(load.median())));
    ranges.values().forEach(stats::addRangeLoad);
    NodeStats built = stats.build();
    lastStats.set(built);
    return built;
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
    return lifecycle.port();
  }

  /** The error that stopped the node, if it stopped because the coordinator refused it. */
  public @Nullable ShardClusterException fatalError() {
    return fatal.get();
  }

  /** Stops serving and closes storage; acknowledged writes are already in the log. */
  public synchronized void stop() {
    stopping = true;
    lifecycle.stop();
    leadership.shutdownNow();
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
