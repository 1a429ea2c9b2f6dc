package io.shardcluster.coordinator;

// Over 500 lines: copy slots, runner threads, operator controls (pause, resume, cancel) and the
// live progress of every migration.

import static java.util.Objects.requireNonNull;

import com.google.common.base.Ticker;
import com.google.protobuf.ByteString;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.BalancerState;
import io.shardcluster.proto.v1.DirectoryChangeResponse;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.server.Failpoints;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs migrations. Each tick it asks the planners in turn ({@link MembershipChanges} for joins,
 * drains and their retries, {@link DirectoryChanges}, the {@link Balancer}), records the first
 * {@link Plan} that holds, and starts a {@link MigrationRunner} for each migration (at most {@code
 * maxMigrations} copying at a time); operators pause, resume and cancel them here. Operator
 * commands that move data (drain, directory changes, rebalance) plan through the same planners.
 */
final class Rebalancer implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(Rebalancer.class.getName());
  private static final long TICK_MS = 250;

  private final Cluster cluster;
  private final Liveness liveness;
  private final MigrationNodes nodes;
  private final CoordinatorConfig config;
  private final Failpoints failpoints;
  private final Clock clock;
  // Elapsed time for the runners (held-up cutovers, fence times).
  private final Ticker nanoTicker;
  private final Map<String, MigrationControl> controls = new ConcurrentHashMap<>();
  private final Set<String> running = ConcurrentHashMap.newKeySet();
  private final CommitGroups commitGroups = new CommitGroups();
  private final ExecutorService runners =
      Executors.newCachedThreadPool(DaemonThreads.numbered("migration-"));
  private final ScheduledExecutorService ticker =
      Executors.newSingleThreadScheduledExecutor(DaemonThreads.numbered("rebalancer-"));
  private final Balancer balancer;
  private final MembershipChanges members;
  private final DirectoryChanges directory;

  Rebalancer(
      Cluster cluster,
      Liveness liveness,
      MigrationNodes nodes,
      CoordinatorConfig config,
      Clock clock,
      Ticker nanoTicker) {
    this.cluster = cluster;
    this.liveness = liveness;
    this.nodes = nodes;
    this.config = config;
    this.failpoints = config.failpoints();
    this.clock = clock;
    this.nanoTicker = nanoTicker;
    this.balancer = new Balancer(cluster, liveness, config, clock);
    this.members = new MembershipChanges(cluster, liveness, config, clock, balancer);
    this.directory = new DirectoryChanges(cluster, liveness, clock);
  }

  void start() {
    var unused = ticker.scheduleWithFixedDelay(this::tick, 0, TICK_MS, TimeUnit.MILLISECONDS);
    cluster.addMembershipListener(() -> ticker.execute(this::tick));
  }

  private synchronized void tick() {
    try {
      rollBackCopiesToDownTargets(cluster.state());
      startRunners(cluster.state());
      apply(members.settleMembers(cluster.state()));
      ClusterState state = cluster.state();
      if (state.activeMigrations().isEmpty()) {
        // The first planner with something to do (or waiting for its turn) plans this turn.
        Plan plan = members.retryRolledBack(state);
        if (!plan.holds()) {
          plan = directory.retry(state);
        }
        if (!plan.holds()) {
          plan = members.planNextJoin(state);
        }
        if (!plan.holds()) {
          plan = balancer.splitOrSpreadRanges(state);
        }
        if (!plan.holds()) {
          plan = balancer.balanceIfNeeded(state);
        }
        apply(plan);
      }
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "rebalancer tick failed", e);
    }
  }

  private void startRunners(ClusterState state) {
    long copying =
        running.stream()
            .map(state.migrations()::get)
            .filter(m -> m != null && holdsCopySlot(m))
            .count();
    for (Migration migration : state.activeMigrations()) {
      if (running.contains(migration.getId())) {
        continue;
      }
      if (holdsCopySlot(migration)) {
        if (copying >= config.maxMigrations()) {
          continue;
        }
        copying++;
      }
      if (running.add(migration.getId())) {
        MigrationControl control =
            controls.computeIfAbsent(migration.getId(), id -> new MigrationControl());
        runners.execute(
            () -> {
              try {
                new MigrationRunner(
                        migration.getId(),
                        cluster,
                        nodes,
                        failpoints,
                        control,
                        config.throttleBytesPerSec(),
                        clock,
                        nanoTicker,
                        this::tickSoon,
                        commitGroups,
                        config.cutoverTimeout())
                    .run();
              } finally {
                running.remove(migration.getId());
                ticker.execute(this::tick);
              }
            });
      }
    }
  }

  /**
   * Rolls back the migrations whose target has been DOWN for the target down timeout before their
   * cutover: their copy cannot go on, and each holds a copy slot and makes its source log every
   * write to its keys. A join, drain or directory change tries them again ({@link
   * RollbackRetries}).
   */
  private void rollBackCopiesToDownTargets(ClusterState state) {
    for (Migration migration : state.activeMigrations()) {
      boolean beforeCutover =
          switch (migration.getPhase()) {
            case PLANNED, COPYING, CATCHING_UP -> true;
            default -> false;
          };
      if (!beforeCutover
          || liveness.silentFor(migration.getTarget()).compareTo(config.targetDownTimeout()) < 0) {
        continue;
      }
      String why =
          String.format(
              "its target %s was DOWN for over %.0f s before the cutover; rolled back to free its"
                  + " copy slot",
              migration.getTarget(), config.targetDownTimeout().toMillis() / 1000.0);
      MigrationControl control =
          controls.computeIfAbsent(migration.getId(), id -> new MigrationControl());
      if (control.cancelRequested()) {
        continue;
      }
      logger.warning("migration " + migration.getId() + ": " + why);
      if (running.contains(migration.getId())) {
        // Its runner rolls it back, telling both nodes.
        control.requestRollBack(why);
      } else {
        cancelNow(migration.getId(), why);
      }
    }
  }

  /** Runs a tick now rather than at the next period; nothing once the rebalancer is closed. */
  private void tickSoon() {
    try {
      ticker.execute(this::tick);
    } catch (RejectedExecutionException e) {
      // Closed: no more ticks.
    }
  }

  /**
   * Whether a migration takes one of the {@code maxMigrations} copy slots: while it is about to
   * copy or copying keys. One with nothing to copy (a keyspace the source holds no keys of), or
   * past its copy (fencing, committing, cleaning up), leaves its slot to the next.
   */
  static boolean holdsCopySlot(Migration migration) {
    return switch (migration.getPhase()) {
      case PLANNED -> true;
      case COPYING, CATCHING_UP -> migration.getEstimatedKeys() > 0;
      default -> false;
    };
  }

  /** Records the migrations of one round, with one creation time (see {@link RollbackRetries}). */
  void create(List<Migration> migrations) {
    apply(Plan.of(migrations));
  }

  /**
   * Records a plan: its migrations, with one creation time (see {@link RollbackRetries}), and the
   * member states that go with them, in one update; then runs what it started.
   */
  private void apply(Plan plan) {
    if (plan.migrations().isEmpty() && plan.memberStates().isEmpty()) {
      return;
    }
    long now = clock.millis();
    cluster.update(state -> plan.applyTo(state, now));
    if (!plan.migrations().isEmpty()) {
      tickSoon();
    }
  }

  /**
   * Moves the keys a directory entry places to another node with one migration; the entry switches
   * to that node at the migration's commit, so there is never an entry without its keys or keys
   * without their entry. Returns the migration.
   */
  synchronized Migration moveDirectoryEntry(
      String keyspaceName, ByteString key, boolean prefix, String target) {
    Migration migration = directory.planMove(keyspaceName, key, prefix, target, 1);
    create(List.of(migration));
    return migration;
  }

  /**
   * Places a key or prefix of a hash keyspace on a node. Keys it covers that other nodes own move
   * there with one migration from each (see {@link Cluster#setDirectoryEntry}); they commit
   * together, and their commit sets the entry, so the entry and its keys switch at one epoch. See
   * {@link #change} for when this returns.
   */
  DirectoryChangeResponse setDirectoryEntry(String keyspaceName, DirectoryEntry entry) {
    return change(
        keyspaceName, () -> cluster.directory().setDirectoryEntry(keyspaceName, entry), false);
  }

  /**
   * Removes a directory entry of a hash keyspace. Keys it places that belong to other nodes without
   * it move there with one migration to each (see {@link Cluster#removeDirectoryEntry}); their
   * commit removes the entry. See {@link #change} for when this returns.
   */
  DirectoryChangeResponse removeDirectoryEntry(
      String keyspaceName, ByteString key, boolean prefix) {
    return change(
        keyspaceName,
        () -> cluster.directory().removeDirectoryEntry(keyspaceName, key, prefix),
        true);
  }

  /**
   * Makes a directory change: at once, or by migrations that commit together. When no key it covers
   * was stored, they carry only writes that raced with the change: this waits until they are done
   * (committed and cleaned up, so that the next directory change need not wait for them), and the
   * change is in effect when it returns (unless they take longer than the caller's deadline allows,
   * see {@link CallerDeadline}). Otherwise it returns at once, naming them.
   */
  private DirectoryChangeResponse change(
      String keyspaceName, Supplier<DirectoryPlacement.Placement> plan, boolean removal) {
    String reason = removal ? "directory remove" : "directory set";
    DirectoryChanges.Placing placing = start(keyspaceName, plan, reason, removal, 1);
    List<String> ids = placing.migrations().stream().map(Migration::getId).toList();
    if (ids.isEmpty() || placing.placement().keysStored()) {
      return placing.response(cluster.state());
    }
    // Within the caller's deadline, so that it hears about the migrations even if they are slow.
    long waitMs = CallerDeadline.waitMs();
    ClusterState state;
    try {
      state =
          cluster.awaitState(
              s -> ids.stream().map(s.migrations()::get).allMatch(Rebalancer::ended), waitMs);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ShardClusterException(ErrorCode.CANCELLED, "interrupted: " + reason);
    }
    for (String id : ids) {
      Migration migration = state.migrations().get(id);
      if (migration != null && migration.getPhase() == MigrationPhase.CANCELLED) {
        throw ShardClusterException.failedPrecondition(
            reason
                + " of "
                + DirectoryPlacement.describe(placing.placement().entry())
                + " was rolled back: migration "
                + id
                + " "
                + migration.getLastError()
                + (migration.getRetryable()
                    ? "; the coordinator tries it again by itself (watch with `shardctl"
                        + " migrations`)"
                    : ""));
      }
    }
    return placing.response(state);
  }

  private static boolean ended(Migration migration) {
    return migration == null || ClusterState.isFinished(migration);
  }

  /** Plans a directory change and records its migrations, under the rebalancer's lock. */
  private synchronized DirectoryChanges.Placing start(
      String keyspaceName,
      Supplier<DirectoryPlacement.Placement> plan,
      String reason,
      boolean removal,
      int attempt) {
    DirectoryChanges.Placing placing = directory.plan(keyspaceName, plan, reason, removal, attempt);
    create(placing.migrations());
    return placing;
  }

  /**
   * Records the migration CANCELLED at once, as rolled back by a failure, and stops its runner; the
   * nodes roll back by themselves when their heartbeats no longer list it.
   */
  void cancelNow(String id, String reason) {
    controls.computeIfAbsent(id, x -> new MigrationControl()).requestCancel();
    cluster.update(
        s -> {
          Migration current = s.migrations().get(id);
          if (current == null
              || ClusterState.isFinished(current)
              || current.getPhase() == MigrationPhase.COMMITTED) {
            return s;
          }
          return s.withMigration(
              current.toBuilder()
                  .setPhase(MigrationPhase.CANCELLED)
                  .setLastError(reason)
                  .setRetryable(true)
                  .setFinishedMs(clock.millis())
                  .build());
        });
  }

  // ---- membership changes: see MembershipChanges ----

  /**
   * Starts moving every key of the node to the others, then marks it REMOVED; see {@link
   * MembershipChanges#drain}.
   */
  synchronized List<Migration> drain(String node) {
    Plan plan = members.drain(node);
    apply(plan);
    return plan.migrations();
  }

  /**
   * Removes a node gone for good without its data, after cancelling its migrations; see {@link
   * MembershipChanges#removeForce}.
   */
  synchronized MembershipChanges.RemovedNode removeForce(String node, boolean force) {
    members.checkRemovable(node, force);
    for (Migration migration : cluster.state().activeMigrations()) {
      if (migration.getSource().equals(node) || migration.getTarget().equals(node)) {
        cancelNow(migration.getId(), "node " + node + " was removed");
      }
    }
    return members.removeForce(node);
  }

  /** What a JOINING or DRAINING node waits for; see {@link MembershipChanges#waitingFor}. */
  Optional<MembershipChanges.Waiting> waitingFor(String node) {
    return members.waitingFor(node);
  }

  // ---- load balancing: see Balancer ----

  /** Plans (and unless {@code dryRun}, starts) moves that bring every node near the mean. */
  synchronized Rebalance rebalance(boolean dryRun) {
    LoadPlanner.Plan plan = balancer.plan(config.balanceTarget());
    List<Migration> started = List.of();
    if (!dryRun && !plan.moves().isEmpty()) {
      Cluster.requireNoMigrations(cluster.state());
      Plan moves = balancer.moves(cluster.state(), plan, "rebalance");
      apply(moves);
      started = moves.migrations();
    }
    return new Rebalance(config.balanceBy(), plan, balancer.state(plan), started);
  }

  /** A rebalance plan, what the automatic balancer makes of it, and the migrations started. */
  record Rebalance(
      String metric, LoadPlanner.Plan plan, BalancerState balancer, List<Migration> started) {}

  // ---- operator control of migrations ----

  synchronized Migration pause(String id) {
    Migration migration = existing(id);
    if (migration.getPhase() == MigrationPhase.CUTOVER
        || migration.getPhase() == MigrationPhase.COMMITTED) {
      throw ShardClusterException.failedPrecondition(
          "migration "
              + id
              + " is in "
              + migration.getPhase()
              + " and finishes shortly; it cannot be paused");
    }
    Migration paused = update(id, m -> m.toBuilder().setPaused(true).build());
    controls.computeIfAbsent(id, x -> new MigrationControl()).interrupt();
    return paused;
  }

  synchronized Migration resume(String id) {
    existing(id);
    Migration resumed = update(id, m -> m.toBuilder().setPaused(false).build());
    controls.computeIfAbsent(id, x -> new MigrationControl()).wake();
    return resumed;
  }

  synchronized Migration cancel(String id) {
    Migration migration = existing(id);
    if (migration.getPhase() == MigrationPhase.COMMITTED) {
      throw ShardClusterException.failedPrecondition(
          "migration " + id + " has committed; it can only finish");
    }
    Migration cancelling = update(id, m -> m.toBuilder().setPaused(false).build());
    controls.computeIfAbsent(id, x -> new MigrationControl()).requestCancel();
    ticker.execute(this::tick);
    return cancelling;
  }

  private Migration existing(String id) {
    Migration migration = cluster.state().migrations().get(id);
    if (migration == null) {
      throw ShardClusterException.notFound("no migration " + id);
    }
    if (ClusterState.isFinished(migration)) {
      throw ShardClusterException.failedPrecondition(
          "migration " + id + " has already ended (" + migration.getPhase() + ")");
    }
    return migration;
  }

  private Migration update(String id, UnaryOperator<Migration> change) {
    // Only for a migration existing() found: migrations are never deleted.
    return requireNonNull(
        cluster
            .update(s -> s.withMigration(change.apply(requireNonNull(s.migrations().get(id)))))
            .migrations()
            .get(id));
  }

  /** Migrations with their live progress; ended ones only if {@code all}. */
  List<Migration> migrations(boolean all) {
    ClusterState state = cluster.state();
    Set<String> latestOfEntry = RollbackRetries.latestDirectoryChangeIds(state);
    List<Migration> list = new ArrayList<>();
    for (Migration migration : state.migrations().values()) {
      if (!all && ClusterState.isFinished(migration)) {
        continue;
      }
      MigrationControl control = controls.get(migration.getId());
      Migration.Builder shown =
          migration.toBuilder().setLatestOfEntry(latestOfEntry.contains(migration.getId()));
      if (control != null && !ClusterState.isFinished(migration)) {
        MigrationControl.Progress progress = control.snapshot();
        shown
            .setKeysCopied(progress.keysCopied())
            .setBytesCopied(progress.bytesCopied())
            .setChangesApplied(progress.changesApplied())
            .setKeysPerSec(progress.keysPerSec())
            .setBytesPerSec(progress.bytesPerSec())
            .setCopyRateLimit(progress.copyRateLimit())
            .setPace(progress.pace())
            .setLastError(progress.lastError());
        long left = migration.getEstimatedKeys() - progress.keysCopied();
        shown.setEtaSeconds(
            progress.keysPerSec() > 0 && left >= 0 ? left / progress.keysPerSec() : -1);
      }
      list.add(shown.build());
    }
    return list;
  }

  /** Ids of the migrations that have not ended and involve the node. */
  List<String> activeFor(String node) {
    return cluster.state().activeMigrations().stream()
        .filter(m -> m.getSource().equals(node) || m.getTarget().equals(node))
        .map(Migration::getId)
        .toList();
  }

  @Override
  public void close() {
    ticker.shutdownNow();
    runners.shutdownNow();
    try {
      // Runners persist state; let them notice the interrupt before the store goes away.
      if (!runners.awaitTermination(5, TimeUnit.SECONDS)) {
        logger.warning("migration runners did not stop within 5 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
