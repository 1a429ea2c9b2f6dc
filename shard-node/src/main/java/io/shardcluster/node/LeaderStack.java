package io.shardcluster.node;

import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.shardcluster.proto.v1.IdentifyResponse;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingCache;
import io.shardcluster.server.Failpoints;
import io.shardcluster.server.ServerLifecycle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * What serves a shard while this process leads it: the ownership checks, both ends of migrations,
 * transactions, the key counts and the gRPC services over them. Built from the store alone, as at a
 * restart, so a replica that takes over the leadership starts from what its group's log holds;
 * closed when the leadership is lost (its in-memory state may then be behind the log).
 */
final class LeaderStack implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(LeaderStack.class.getName());
  // How often a node settles what transactions left behind (records to resolve, expired locks).
  private static final Duration TXN_RESOLVE_INTERVAL = Duration.ofMillis(500);
  private static final Duration RECOUNT_CHECK = Duration.ofSeconds(1);
  private static final Duration RECOUNT_SETTLE = Duration.ofSeconds(3);

  /** What every leadership term of this process shares. */
  record Shared(
      String nodeId,
      LocalStore store,
      RoutingCache routing,
      LongFunction<RoutingTable> tableFor,
      LongFunction<RoutingTable> tableAtLeast,
      Ownership ownership,
      NodeMetrics metrics,
      CopyPacer pacer,
      NodeChannels migrationChannels,
      ExecutorService queryExecutor,
      ExecutorService lookupExecutor,
      IdentifyResponse identity,
      Supplier<NodeStats> lastStats,
      Duration countInterval,
      Failpoints failpoints,
      @Nullable ReplicaGroup replicaGroup,
      @Nullable ServerInterceptor leaderCheck) {}

  private final Shared shared;
  private final ServerLifecycle lifecycle = new ServerLifecycle();
  private final OutgoingMigrations outgoing;
  private final IncomingMigrations incoming;
  private final MigrationReconciler reconciler;
  private final CountSchedule countSchedule;
  private final List<ServerServiceDefinition> services = new ArrayList<>();
  private volatile KeyCounts counts = KeyCounts.NONE;

  LeaderStack(Shared shared) {
    this.shared = shared;
    String nodeId = shared.nodeId();
    LocalStore store = shared.store();
    RoutingCache routing = shared.routing();
    outgoing =
        new OutgoingMigrations(
            nodeId, store, routing::cached, shared.tableAtLeast(), shared.pacer());
    incoming =
        new IncomingMigrations(
            nodeId,
            store,
            routing::cached,
            shared.ownership(),
            shared.migrationChannels(),
            shared.failpoints());
    reconciler = new MigrationReconciler(outgoing, incoming, System::currentTimeMillis);
    ExecutorService migrationExecutor =
        lifecycle.shutDownOnStop(
            Executors.newCachedThreadPool(DaemonThreads.numbered(nodeId + "-migration-")));
    Shard shard =
        new Shard(
            nodeId,
            store,
            shared.tableFor()::apply,
            shared.metrics(),
            outgoing,
            shared.ownership());
    TxnPeers peers =
        new TxnPeers(
            nodeId,
            routing::cached,
            shared.tableAtLeast(),
            shared.ownership(),
            shared.migrationChannels());
    Transactions transactions =
        new Transactions(
            nodeId, store, shard, outgoing, peers, System::currentTimeMillis, shared.failpoints());
    peers.local(transactions);
    shard.guardWith(transactions);
    outgoing.drainTransactionsWith(transactions);
    ExecutorService txnExecutor =
        lifecycle.shutDownOnStop(
            Executors.newCachedThreadPool(DaemonThreads.numbered(nodeId + "-txn-")));
    ScheduledExecutorService background =
        lifecycle.shutDownOnStop(
            Executors.newScheduledThreadPool(2, DaemonThreads.numbered(nodeId + "-background-")));
    var unusedResolver =
        background.scheduleWithFixedDelay(
            () -> {
              try {
                transactions.resolveInBackground();
              } catch (RuntimeException e) {
                // A failed pass (storage closing, a peer away) is tried again at the next one.
                logger.log(Level.WARNING, "transaction resolver: " + e.getMessage(), e);
              }
            },
            TXN_RESOLVE_INTERVAL.toMillis(),
            TXN_RESOLVE_INTERVAL.toMillis(),
            TimeUnit.MILLISECONDS);
    countSchedule = new CountSchedule(shared.countInterval(), RECOUNT_SETTLE);
    var unusedCounter =
        background.scheduleWithFixedDelay(
            this::recount,
            0,
            Math.min(RECOUNT_CHECK.toMillis(), shared.countInterval().toMillis()),
            TimeUnit.MILLISECONDS);
    add(
        new ShardNodeService(
            shard,
            shared.ownership(),
            shared.identity(),
            shared.lastStats(),
            shared.queryExecutor(),
            shared.lookupExecutor(),
            shared.failpoints()));
    add(new TransactionService(transactions, shard, shared.ownership(), txnExecutor));
    add(
        new KeyMigrationService(
            outgoing,
            incoming,
            migrationExecutor,
            new MovingKeyEstimate(
                store, nodeId, routing::cached, () -> counts, shared.metrics()::writes)));
    ReplicaGroup replicaGroup = shared.replicaGroup();
    if (replicaGroup != null) {
      add(new ReplicasService(nodeId, store, replicaGroup));
    }
    Consumer<RoutingTable> dropped = this::deleteDroppedKeyspaces;
    routing.addListener(dropped);
    lifecycle.closeOnStop(() -> routing.removeListener(dropped));
    deleteDroppedKeyspaces(routing.cached());
  }

  private void add(io.grpc.BindableService service) {
    ServerInterceptor check = shared.leaderCheck();
    services.add(
        check == null
            ? service.bindService()
            : ServerInterceptors.intercept(service.bindService(), check));
  }

  /** The gRPC services to serve while this stack is open. */
  List<ServerServiceDefinition> services() {
    return List.copyOf(services);
  }

  /** The key counts of the last full count (none yet: zeros). */
  KeyCounts counts() {
    return counts;
  }

  /** Rolls back local state of migrations the coordinator no longer runs. */
  void reconcile(Set<String> activeMigrations) {
    reconciler.reconcile(activeMigrations);
  }

  /** Deletes what this node still holds of keyspaces the table says were dropped. */
  private void deleteDroppedKeyspaces(RoutingTable table) {
    for (String dropped : table.droppedKeyspaces()) {
      if (shared.store().dropKeyspace(dropped)) {
        logger.info("deleted the keys of dropped keyspace " + dropped);
      }
    }
  }

  /**
   * Counts the owned keys when {@link CountSchedule} says the count may have changed. A full count
   * reads every key: not while keys are moving, when it would be stale at once and would slow the
   * move.
   */
  private void recount() {
    RoutingTable table = shared.routing().cached();
    if (table.epoch() == 0 || !outgoing.isEmpty() || !incoming.specs().isEmpty()) {
      return;
    }
    long started = System.nanoTime();
    long sequence = shared.store().latestSequence();
    if (!countSchedule.due(started, table.epoch(), sequence)) {
      return;
    }
    try {
      counts = KeyCounts.count(shared.store(), table, shared.nodeId(), shared.metrics().writes());
      countSchedule.counted(table.epoch(), sequence, started, System.nanoTime());
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "counting keys failed", e);
    }
  }

  /** Whether the counts may be stale (keys written since, or a newer table). */
  boolean countsStale(long epoch) {
    return countSchedule.stale(epoch, shared.store().latestSequence());
  }

  @Override
  public void close() {
    lifecycle.stop();
  }
}
