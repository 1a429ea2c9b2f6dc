package io.shardcluster.coordinator;

import com.google.protobuf.ByteString;
import io.shardcluster.client.ErrorCode;
import io.shardcluster.client.ShardClusterException;
import io.shardcluster.client.internal.NodeChannels;
import io.shardcluster.proto.v1.DirectoryChangeResponse;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.proto.v1.NodeState;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.routing.RangeAllocator;
import io.shardcluster.routing.TokenAllocator;
import io.shardcluster.wire.Failpoints;
import io.shardcluster.wire.RoutingTables;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.logging.Logger;

/**
 * Decides what data moves where, and runs the migrations that move it. Joins, drains and load
 * balancing all become migrations of key sets between nodes; this class plans them, starts a {@link
 * MigrationRunner} for each (at most {@code maxMigrations} copying at a time), and moves members
 * through JOINING, UP, DRAINING and REMOVED as their migrations finish. What load balancing moves,
 * the {@link LoadBalancer} decides.
 */
final class Rebalancer implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(Rebalancer.class.getName());
  private static final long TICK_MS = 250;

  private final Cluster cluster;
  private final Liveness liveness;
  private final NodeChannels channels;
  private final CoordinatorConfig config;
  private final Failpoints failpoints;
  private final Clock clock;
  private final Map<String, MigrationControl> controls = new ConcurrentHashMap<>();
  private final Set<String> running = ConcurrentHashMap.newKeySet();
  private final CommitGroups commitGroups = new CommitGroups();
  private final ExecutorService runners = Executors.newCachedThreadPool(daemon("migration-"));
  private final ScheduledExecutorService ticker =
      Executors.newSingleThreadScheduledExecutor(daemon("rebalancer-"));
  private final LoadBalancer balancer;
  // Draining nodes whose retries ran out, logged once.
  private final Set<String> gaveUp = ConcurrentHashMap.newKeySet();

  Rebalancer(
      Cluster cluster,
      Liveness liveness,
      NodeChannels channels,
      CoordinatorConfig config,
      Clock clock) {
    this.cluster = cluster;
    this.liveness = liveness;
    this.channels = channels;
    this.config = config;
    this.failpoints = config.failpoints();
    this.clock = clock;
    this.balancer = new LoadBalancer(cluster, liveness, config, clock, this::startMoves);
  }

  private static ThreadFactory daemon(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, prefix + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }

  void start() {
    ticker.scheduleWithFixedDelay(this::tick, 0, TICK_MS, TimeUnit.MILLISECONDS);
    cluster.addMembershipListener(() -> ticker.execute(this::tick));
  }

  private synchronized void tick() {
    try {
      ClusterState state = cluster.state();
      rollBackCopiesToDownTargets(state);
      startRunners(cluster.state());
      state = settleMembers(cluster.state());
      if (state.activeMigrations().isEmpty()) {
        if (!retryRolledBack(state)
            && !planNextJoin(state)
            && !balancer.splitOrSpreadRanges(state)) {
          balancer.balanceIfNeeded(state);
        }
      }
    } catch (RuntimeException e) {
      logger.warning("rebalancer tick failed: " + e);
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
                        channels,
                        failpoints,
                        control,
                        config.throttleBytesPerSec(),
                        clock,
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
   * write to its keys. A join or drain tries them again ({@link #retryRolledBack}).
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
      if (control.failure().isPresent() || control.cancelRequested()) {
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

  /** Moves members on once their migrations are over: JOINING to UP, DRAINING to REMOVED. */
  private ClusterState settleMembers(ClusterState state) {
    for (MemberRecord member : state.members().values()) {
      String id = member.getId();
      List<Migration> active = state.activeMigrations();
      if (member.getState() == NodeState.JOINING
          && active.stream().noneMatch(m -> m.getTarget().equals(id))
          && joinPlanned(state, id)
          && joinRetries(state, id).isEmpty()) {
        state = setState(id, NodeState.UP);
        logger.info(id + " has joined: it is UP");
      } else if (member.getState() == NodeState.DRAINING
          && active.stream().noneMatch(m -> m.getSource().equals(id))
          && !ownsAnything(state, id)) {
        state = setState(id, NodeState.REMOVED);
        logger.info(id + " is drained: REMOVED");
      }
    }
    return state;
  }

  private ClusterState setState(String node, NodeState next) {
    return cluster.update(
        s ->
            s.member(node)
                .map(
                    m ->
                        m.getState() == next
                            ? s
                            : s.withMember(m.toBuilder().setState(next).build()))
                .orElse(s));
  }

  private static boolean joinPlanned(ClusterState state, String node) {
    String reason = "join " + node;
    return state.migrations().values().stream().anyMatch(m -> m.getReason().equals(reason));
  }

  private boolean ownsAnything(ClusterState state, String node) {
    return state.routing().keyspaces().values().stream()
        .anyMatch(
            k ->
                k.isDirectory()
                    ? cluster.groups().groupsPerOwner(k.name()).getOrDefault(node, 0L) > 0
                    : k.isOwner(node));
  }

  /** Plans the migrations of the first JOINING node that has none yet; false if there is none. */
  private boolean planNextJoin(ClusterState state) {
    for (MemberRecord member : state.members().values()) {
      if (member.getState() != NodeState.JOINING || joinPlanned(state, member.getId())) {
        continue;
      }
      String node = member.getId();
      List<Migration> planned = new ArrayList<>();
      // Every keyspace gives the new node its share: one migration per keyspace and donor.
      for (Keyspace keyspace : state.routing().keyspaces().values()) {
        if (keyspace.isDirectory()) {
          // Existing groups stay; new ones go to the node with the fewest, the new one.
          continue;
        }
        if (keyspace.isRange()) {
          // Whole ranges, from the nodes with the most.
          for (var taken : RangeAllocator.join(keyspace.ranges(), node).entrySet()) {
            planned.add(
                migration(
                    state,
                    planned.size(),
                    taken.getKey(),
                    node,
                    MovingSet.ofKeyRanges(keyspace.name(), keyRanges(keyspace, taken.getValue())),
                    "join " + node));
          }
          continue;
        }
        HashRing ring = keyspace.ring();
        HashRing after = TokenAllocator.join(ring, node, config.vnodes());
        for (String donor : ring.shares().keySet()) {
          List<PositionRange> ranges = ring.movedTo(after, donor, node);
          if (!ranges.isEmpty()) {
            planned.add(
                migration(
                    state,
                    planned.size(),
                    donor,
                    node,
                    new MovingSet(keyspace.name(), ranges, List.of()),
                    "join " + node));
          }
        }
      }
      create(planned);
      logger.info(node + " joins: " + planned.size() + " migration(s) planned");
      return true;
    }
    return false;
  }

  private Migration migration(
      ClusterState state,
      int offset,
      String source,
      String target,
      MovingSet moving,
      String reason) {
    long next =
        state.migrations().keySet().stream()
                .mapToLong(id -> Long.parseLong(id.substring(1)))
                .max()
                .orElse(0)
            + 1
            + offset;
    return Migration.newBuilder()
        .setId(String.format("m%06d", next))
        .setSource(source)
        .setTarget(target)
        .setMoving(RoutingTables.toProto(moving))
        .setPhase(MigrationPhase.PLANNED)
        .setReason(reason)
        .setAttempt(1)
        .setCreatedMs(clock.millis())
        .setShare(moving.share())
        .setEtaSeconds(-1)
        .build();
  }

  /** Records the migrations of one round, with one creation time (see {@link RollbackRetries}). */
  private void create(List<Migration> migrations) {
    long now = clock.millis();
    cluster.update(
        state -> {
          ClusterState next = state;
          for (Migration migration : migrations) {
            next = next.withMigration(migration.toBuilder().setCreatedMs(now).build());
          }
          return next;
        });
    ticker.execute(this::tick);
  }

  /**
   * Starts moving every key of the node to the others (balanced by ring share, directory entries to
   * the least loaded), then marks it REMOVED. Returns the migrations.
   */
  synchronized List<Migration> drain(String node) {
    ClusterState state = cluster.state();
    MemberRecord member =
        state
            .member(node)
            .filter(m -> m.getState() != NodeState.REMOVED)
            .orElseThrow(() -> ShardClusterException.notFound("no node named " + node));
    Cluster.requireNoMigrations(state);
    List<Migration> planned = planDrain(state, member, 1);
    gaveUp.remove(node);
    create(planned);
    logger.info(node + " is draining: " + planned.size() + " migration(s) planned");
    return planned;
  }

  /**
   * Marks the node DRAINING and plans the moves of everything it owns to the other nodes that are
   * UP and answering; the caller creates them. Refused while the node is DOWN or joining, or when
   * no other node could take its keys.
   */
  private List<Migration> planDrain(ClusterState state, MemberRecord member, int attempt) {
    String node = member.getId();
    if (!liveness.isUp(node)) {
      // A drain copies from the node itself: from a DOWN node it would wait until it is back.
      throw ShardClusterException.failedPrecondition(
          "cannot drain "
              + node
              + ": it is DOWN and a drain copies its keys from it; start it again, or remove it"
              + " with --force if it is gone for good (its keys are then lost)");
    }
    List<String> members =
        state.members().values().stream()
            .filter(m -> m.getState() == NodeState.UP && !m.getId().equals(node))
            .map(MemberRecord::getId)
            .toList();
    if (members.isEmpty()) {
      throw ShardClusterException.failedPrecondition(
          "cannot drain " + node + ": it is the last node; there is nowhere to move its keys");
    }
    // Only to nodes that answer: a move to a DOWN node would wait until that node is back.
    List<String> others = members.stream().filter(liveness::isUp).toList();
    if (others.isEmpty()) {
      throw ShardClusterException.failedPrecondition(
          "cannot drain " + node + ": every other node is DOWN; there is nowhere to move its keys");
    }
    if (member.getState() == NodeState.JOINING) {
      throw ShardClusterException.failedPrecondition(
          "cannot drain " + node + " while it is joining");
    }
    Map<String, Map<String, Plan>> plans = new LinkedHashMap<>();
    for (String keyspace : state.routing().keyspaces().keySet()) {
      plans.put(keyspace, drainPlans(state, keyspace, node, others));
    }
    state = setState(node, NodeState.DRAINING);
    List<Migration> planned = new ArrayList<>();
    for (var keyspace : plans.entrySet()) {
      for (var entry : keyspace.getValue().entrySet()) {
        MovingSet moving = entry.getValue().moving(keyspace.getKey());
        if (!moving.isEmpty()) {
          planned.add(
              migration(state, planned.size(), node, entry.getKey(), moving, "drain " + node)
                  .toBuilder()
                  .setAttempt(attempt)
                  .build());
        }
      }
    }
    return planned;
  }

  // ---- trying again what failures rolled back ----

  /**
   * Starts the next round of a join or drain whose last round a failure rolled back, once its delay
   * is over (see {@link RollbackRetries}), and its nodes answer. True if it did, or if one waits
   * for its delay: nothing else is planned meanwhile.
   */
  private boolean retryRolledBack(ClusterState state) {
    boolean waiting = false;
    for (MemberRecord member : state.members().values()) {
      String node = member.getId();
      if (member.getState() == NodeState.JOINING) {
        List<Migration> retries = joinRetries(state, node);
        if (retries.isEmpty()) {
          continue;
        }
        RollbackRetries.Round round = RollbackRetries.latest(state, "join " + node).orElseThrow();
        if (clock.millis() < round.retryAtMs()) {
          waiting = true;
          continue;
        }
        if (!liveness.isUp(node)) {
          // Tried once it is back (or never, if it is removed).
          continue;
        }
        List<Migration> planned = new ArrayList<>();
        for (Migration failed : retries) {
          planned.add(
              migration(
                      state,
                      planned.size(),
                      failed.getSource(),
                      node,
                      RoutingTables.fromProto(failed.getMoving()),
                      failed.getReason())
                  .toBuilder()
                  .setAttempt(round.attempt() + 1)
                  .build());
        }
        create(planned);
        logger.info(
            String.format(
                "%s joins: trying again %d move(s) a failure rolled back (attempt %d of %d)",
                node, planned.size(), round.attempt() + 1, RollbackRetries.MAX_ATTEMPTS));
        return true;
      }
      if (member.getState() == NodeState.DRAINING && ownsAnything(state, node)) {
        Optional<RollbackRetries.Round> round = RollbackRetries.latest(state, "drain " + node);
        if (round.isEmpty() || !round.get().retries()) {
          if (round.isPresent() && round.get().gaveUp() && gaveUp.add(node)) {
            logger.warning(
                node
                    + " stays DRAINING: failures rolled its moves back "
                    + RollbackRetries.MAX_ATTEMPTS
                    + " times; run `shardctl drain "
                    + node
                    + "` to try again");
          }
          continue;
        }
        if (clock.millis() < round.get().retryAtMs()) {
          waiting = true;
          continue;
        }
        List<Migration> planned;
        try {
          planned = planDrain(state, member, round.get().attempt() + 1);
        } catch (ShardClusterException e) {
          // The node or every receiver is DOWN: tried once they answer.
          continue;
        }
        create(planned);
        logger.info(
            String.format(
                "%s drains: %d migration(s) planned again after a failure rolled its moves back"
                    + " (attempt %d of %d)",
                node, planned.size(), round.get().attempt() + 1, RollbackRetries.MAX_ATTEMPTS));
        return true;
      }
    }
    return waiting;
  }

  /** What a JOINING or DRAINING node waits for; {@code stopped} for a drain stopped until rerun. */
  record Waiting(String note, boolean stopped) {}

  /**
   * What a JOINING or DRAINING node with no migration running waits for: a failed round's delay,
   * nodes to answer, or an operator to run its drain again. Empty for other nodes, and while its
   * migrations run.
   */
  Optional<Waiting> waitingFor(String node) {
    ClusterState state = cluster.state();
    MemberRecord member = state.member(node).orElse(null);
    if (member == null
        || (member.getState() != NodeState.JOINING && member.getState() != NodeState.DRAINING)
        || state.activeMigrations().stream()
            .anyMatch(m -> m.getSource().equals(node) || m.getTarget().equals(node))) {
      return Optional.empty();
    }
    boolean joining = member.getState() == NodeState.JOINING;
    Optional<RollbackRetries.Round> latest =
        RollbackRetries.latest(state, (joining ? "join " : "drain ") + node);
    if (latest.isEmpty()) {
      return Optional.of(new Waiting("its moves are not planned yet", false));
    }
    RollbackRetries.Round round = latest.get();
    int next = round.attempt() + 1;
    if (joining ? !joinRetries(state, node).isEmpty() : round.retries()) {
      long inMs = round.retryAtMs() - clock.millis();
      String when =
          inMs > 0
              ? String.format(Locale.ROOT, "in %.0f s", Math.ceil(inMs / 1000.0))
              : "once its nodes answer";
      return Optional.of(
          new Waiting(
              String.format(
                  Locale.ROOT,
                  "a failure rolled back its moves; trying again %s (attempt %d of %d)",
                  when,
                  next,
                  RollbackRetries.MAX_ATTEMPTS),
              false));
    }
    if (joining || !ownsAnything(state, node)) {
      return Optional.empty();
    }
    String why =
        round.gaveUp()
            ? "failures rolled back its moves " + RollbackRetries.MAX_ATTEMPTS + " times"
            : round.cancelledByAnOperator()
                ? "an operator cancelled one of its moves"
                : "it owns keys its drain did not move";
    return Optional.of(
        new Waiting(
            "drain stopped: " + why + "; run `shardctl drain " + node + "` to go on", true));
  }

  /**
   * The moves of the node's join to try again: those of its latest round that a failure rolled
   * back, when the round may be retried, and whose source still owns all they move. Empty
   * otherwise.
   */
  private static List<Migration> joinRetries(ClusterState state, String node) {
    return RollbackRetries.latest(state, "join " + node)
        .filter(RollbackRetries.Round::retries)
        .map(round -> round.rolledBack().stream().filter(m -> sourceStillOwns(state, m)).toList())
        .orElse(List.of());
  }

  /** Whether the migration's source still owns everything it would move, and nothing else does. */
  private static boolean sourceStillOwns(ClusterState state, Migration migration) {
    MovingSet moving = RoutingTables.fromProto(migration.getMoving());
    Keyspace keyspace = state.routing().keyspaces().get(moving.keyspace());
    if (keyspace == null || keyspace.isDirectory()) {
      return false;
    }
    try {
      // Refused when a range moved has been split or merged since.
      moving.applyTo(keyspace, migration.getTarget());
    } catch (ShardClusterException e) {
      return false;
    }
    return keyspace.ownersOf(moving).equals(Set.of(migration.getSource()));
  }

  /**
   * Moves the keys a directory entry places to another node with one migration; the entry switches
   * to that node at the migration's commit, so there is never an entry without its keys or keys
   * without their entry. Returns the migration.
   */
  synchronized Migration moveDirectoryEntry(
      String keyspaceName, ByteString key, boolean prefix, String target) {
    ClusterState state = cluster.state();
    Keyspace keyspace = state.routing().keyspace(keyspaceName);
    if (keyspace.isDirectory()) {
      return moveGroup(state, keyspaceName, key, target);
    }
    String what = (prefix ? "prefix '" : "key '") + key.toStringUtf8() + "'";
    DirectoryEntry entry = keyspace.directory().existing(key, prefix);
    requireUpTarget(state, what, target);
    if (entry.owner().equals(target)) {
      throw ShardClusterException.failedPrecondition(what + " is already on " + target);
    }
    Cluster.requireNoMigrations(state);
    Migration migration =
        migration(
            state,
            0,
            entry.owner(),
            target,
            new MovingSet(keyspaceName, List.of(), List.of(entry)),
            "directory move");
    create(List.of(migration));
    logger.info("moving " + what + " from " + entry.owner() + " to " + target);
    return migration;
  }

  /**
   * Places a key or prefix of a hash keyspace on a node. Keys it covers that other nodes own move
   * there with one migration from each (see {@link Cluster#setDirectoryEntry}); they commit
   * together, and their commit sets the entry, so the entry and its keys switch at one epoch. See
   * {@link #change} for when this returns.
   */
  DirectoryChangeResponse setDirectoryEntry(String keyspaceName, DirectoryEntry entry) {
    return change(() -> cluster.setDirectoryEntry(keyspaceName, entry), false);
  }

  /**
   * Removes a directory entry of a hash keyspace. Keys it places that belong to other nodes without
   * it move there with one migration to each (see {@link Cluster#removeDirectoryEntry}); their
   * commit removes the entry. See {@link #change} for when this returns.
   */
  DirectoryChangeResponse removeDirectoryEntry(
      String keyspaceName, ByteString key, boolean prefix) {
    return change(() -> cluster.removeDirectoryEntry(keyspaceName, key, prefix), true);
  }

  /**
   * Makes a directory change: at once, or by migrations that commit together. When no key it covers
   * was stored, they carry only writes that raced with the change: this waits until they are done
   * (committed and cleaned up, so that the next directory change need not wait for them), and the
   * change is in effect when it returns (unless they take longer than the caller's deadline allows,
   * see {@link CallerDeadline}). Otherwise it returns at once, naming them.
   */
  private DirectoryChangeResponse change(Supplier<Cluster.Placement> plan, boolean removal) {
    String reason = removal ? "directory remove" : "directory set";
    Placing placing = start(plan, reason, removal);
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
                + Cluster.describe(placing.placement().entry())
                + " was rolled back: migration "
                + id
                + " "
                + migration.getLastError());
      }
    }
    return placing.response(state);
  }

  private static boolean ended(Migration migration) {
    return migration == null || ClusterState.isFinished(migration);
  }

  /** A directory change started: its migrations (none if it was made at once). */
  private record Placing(Cluster.Placement placement, List<Migration> migrations) {
    /** The response, with the migrations as the state has them (and their commit's epoch). */
    DirectoryChangeResponse response(ClusterState state) {
      DirectoryChangeResponse.Builder response = DirectoryChangeResponse.newBuilder();
      long epoch = placement.epoch();
      for (Migration started : migrations) {
        Migration now = state.migrations().getOrDefault(started.getId(), started);
        response.addMigrations(now);
        epoch = Math.max(epoch, now.getCommittedEpoch());
      }
      return response.setEpoch(epoch).build();
    }
  }

  private synchronized Placing start(
      Supplier<Cluster.Placement> plan, String reason, boolean removal) {
    Cluster.requireNoMigrations(cluster.state());
    Cluster.Placement placement = plan.get();
    DirectoryEntry entry = placement.entry();
    if (placement.moves().isEmpty()) {
      return new Placing(placement, List.of());
    }
    ClusterState state = cluster.state();
    String what = Cluster.describe(entry);
    for (Cluster.Move move : placement.moves()) {
      requireUpTarget(state, what, move.target());
    }
    List<Migration> migrations = new ArrayList<>();
    for (Cluster.Move move : placement.moves()) {
      migrations.add(
          migration(state, migrations.size(), move.source(), move.target(), move.moving(), reason)
              .toBuilder()
              .addAllRemoves(removal ? List.of(RoutingTables.toProto(entry)) : List.of())
              .build());
    }
    if (migrations.size() > 1) {
      String group = migrations.get(0).getId();
      migrations.replaceAll(m -> m.toBuilder().setGroup(group).build());
    }
    create(migrations);
    logger.info(
        reason
            + " "
            + what
            + ": "
            + String.join(
                ", ",
                placement.moves().stream().map(m -> m.source() + " -> " + m.target()).toList())
            + (placement.keysStored() ? "" : " (no key stored yet)"));
    return new Placing(placement, migrations);
  }

  private Migration moveGroup(
      ClusterState state, String keyspaceName, ByteString group, String target) {
    String what = "group '" + group.toStringUtf8() + "' of " + keyspaceName;
    String owner = cluster.groups().owner(keyspaceName, group);
    if (owner == null) {
      throw ShardClusterException.notFound(
          what + " has no entry: it has never been written (its first write places it)");
    }
    requireUpTarget(state, what, target);
    if (owner.equals(target)) {
      throw ShardClusterException.failedPrecondition(what + " is already on " + target);
    }
    Cluster.requireNoMigrations(state);
    Migration migration =
        migration(
            state,
            0,
            owner,
            target,
            MovingSet.ofGroups(keyspaceName, List.of(group), List.of()),
            "directory move");
    create(List.of(migration));
    logger.info("moving " + what + " from " + owner + " to " + target);
    return migration;
  }

  private static void requireUpTarget(ClusterState state, String what, String target) {
    MemberRecord member =
        state
            .member(target)
            .filter(m -> m.getState() != NodeState.REMOVED)
            .orElseThrow(() -> ShardClusterException.notFound("no node named " + target));
    if (member.getState() != NodeState.UP) {
      throw ShardClusterException.failedPrecondition(
          "cannot move " + what + " to " + target + ": it is " + member.getState());
    }
  }

  private static List<KeyRange> keyRanges(Keyspace keyspace, List<Integer> indexes) {
    return indexes.stream().sorted().map(i -> keyspace.ranges().range(i)).toList();
  }

  /**
   * What each receiver gets of a leaving node: ring ranges and directory entries, or whole key
   * ranges of a range keyspace.
   */
  private static final class Plan {
    final List<PositionRange> ranges = new ArrayList<>();
    final List<DirectoryEntry> entries = new ArrayList<>();
    final List<KeyRange> keyRanges = new ArrayList<>();

    MovingSet moving(String keyspace) {
      return new MovingSet(keyspace, ranges, entries, keyRanges);
    }
  }

  private Map<String, Plan> drainPlans(
      ClusterState state, String keyspaceName, String node, List<String> receivers) {
    Keyspace keyspace = state.routing().keyspace(keyspaceName);
    Map<String, Plan> plans = new LinkedHashMap<>();
    receivers.forEach(r -> plans.put(r, new Plan()));
    if (keyspace.isDirectory()) {
      // The node's groups, split between the receivers by the hash of the group.
      if (cluster.groups().groupsPerOwner(keyspaceName).getOrDefault(node, 0L) > 0) {
        long step = Long.divideUnsigned(-1L, receivers.size());
        for (int i = 0; i < receivers.size(); i++) {
          long end = i == receivers.size() - 1 ? 0 : step * (i + 1);
          plans.get(receivers.get(i)).ranges.add(new PositionRange(step * i, end));
        }
      }
      return plans;
    }
    if (keyspace.isRange()) {
      RangeAllocator.leave(keyspace.ranges(), node, receivers)
          .forEach(
              (receiver, given) ->
                  plans.get(receiver).keyRanges.addAll(keyRanges(keyspace, given)));
      return plans;
    }
    HashRing ring = keyspace.ring();
    if (ring.shares().containsKey(node)) {
      HashRing after = TokenAllocator.remove(ring, node, receivers);
      for (String receiver : receivers) {
        plans.get(receiver).ranges.addAll(ring.movedTo(after, node, receiver));
      }
    }
    // Directory entries, largest first, each to the receiver with the least load so far.
    Map<String, Double> load = new LinkedHashMap<>();
    receivers.forEach(r -> load.put(r, balancer.nodeLoad(r, "keys")));
    Map<DirectoryEntry, Double> sizes = new LinkedHashMap<>();
    for (DirectoryEntry entry : keyspace.directory().entries()) {
      if (entry.owner().equals(node)) {
        sizes.put(entry, balancer.entryLoad(node, keyspaceName, entry, "keys"));
      }
    }
    sizes.entrySet().stream()
        .sorted(Map.Entry.<DirectoryEntry, Double>comparingByValue().reversed())
        .forEach(
            sized -> {
              String receiver = Collections.min(load.keySet(), Comparator.comparing(load::get));
              plans.get(receiver).entries.add(sized.getKey());
              load.merge(receiver, sized.getValue(), Double::sum);
            });
    return plans;
  }

  /**
   * Gives a node that is gone for good its intervals and directory entries to the others at once,
   * without moving data: what it held is lost. Cancels its migrations.
   */
  synchronized RemovedNode removeForce(String node, boolean force) {
    ClusterState state = cluster.state();
    state
        .member(node)
        .filter(m -> m.getState() != NodeState.REMOVED)
        .orElseThrow(() -> ShardClusterException.notFound("no node named " + node));
    if (!force) {
      throw ShardClusterException.failedPrecondition(
          "removing "
              + node
              + " without draining loses the keys it holds; use drain, or"
              + " --force if the node is gone for good");
    }
    List<String> others =
        state.members().values().stream()
            .filter(m -> m.getState() != NodeState.REMOVED && !m.getId().equals(node))
            .map(MemberRecord::getId)
            .toList();
    if (others.isEmpty() && ownsAnything(state, node)) {
      throw ShardClusterException.failedPrecondition(
          "cannot remove " + node + ": it is the last node; nothing could take its keys");
    }
    for (Migration migration : state.activeMigrations()) {
      if (migration.getSource().equals(node) || migration.getTarget().equals(node)) {
        cancelNow(migration.getId(), "node " + node + " was removed");
      }
    }
    ClusterState before = cluster.state();
    double lost =
        before.routing().keyspace(Keyspace.DEFAULT).ring().shares().getOrDefault(node, 0.0);
    Map<String, Map<String, Plan>> plans = new LinkedHashMap<>();
    if (!others.isEmpty()) {
      for (String keyspace : before.routing().keyspaces().keySet()) {
        plans.put(keyspace, drainPlans(before, keyspace, node, others));
      }
    }
    int entries =
        plans.values().stream()
            .flatMap(p -> p.values().stream())
            .mapToInt(p -> p.entries.size())
            .sum();
    List<GroupDirectory.Move> groupMoves = new ArrayList<>();
    plans.forEach(
        (keyspace, receivers) ->
            receivers.forEach(
                (receiver, plan) ->
                    groupMoves.add(
                        new GroupDirectory.Move(plan.moving(keyspace), node, receiver))));
    cluster.update(
        s -> {
          ClusterState next = s;
          for (var keyspacePlans : plans.entrySet()) {
            Keyspace original = s.routing().keyspace(keyspacePlans.getKey());
            Keyspace current = original;
            for (var plan : keyspacePlans.getValue().entrySet()) {
              current =
                  plan.getValue().moving(keyspacePlans.getKey()).applyTo(current, plan.getKey());
            }
            if (!current.equals(original)) {
              next = next.withKeyspace(current);
            }
          }
          MemberRecord member = next.member(node).orElseThrow();
          return next.withMember(member.toBuilder().setState(NodeState.REMOVED).build());
        },
        groupMoves);
    logger.warning(
        node
            + " was removed by force: its "
            + String.format("%.1f%%", lost * 100)
            + " of the ring and "
            + entries
            + " directory entries went to the others, without their data");
    return new RemovedNode(cluster.state().epoch(), lost, entries);
  }

  /** The outcome of a forced removal. */
  record RemovedNode(long epoch, double shareLost, int entriesReassigned) {}

  /**
   * Records the migration CANCELLED at once, as rolled back by a failure, and stops its runner; the
   * nodes roll back by themselves when their heartbeats no longer list it.
   */
  private void cancelNow(String id, String reason) {
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

  // ---- load balancing: see LoadBalancer ----

  /** Plans (and unless {@code dryRun}, starts) moves that bring every node near the mean. */
  synchronized Rebalance rebalance(boolean dryRun) {
    LoadPlanner.Plan plan = balancer.plan(config.balanceTarget());
    List<Migration> started = List.of();
    if (!dryRun && !plan.moves().isEmpty()) {
      Cluster.requireNoMigrations(cluster.state());
      started = balancer.start(plan, "rebalance");
    }
    return new Rebalance(config.balanceBy(), plan, started);
  }

  /** A rebalance plan and the migrations started for it. */
  record Rebalance(String metric, LoadPlanner.Plan plan, List<Migration> started) {}

  /** Creates one migration per move, for the balancer. */
  private List<Migration> startMoves(List<LoadPlanner.Move> moves, String reason) {
    ClusterState state = cluster.state();
    List<Migration> planned = new ArrayList<>();
    for (LoadPlanner.Move move : moves) {
      planned.add(
          migration(state, planned.size(), move.source(), move.target(), move.moving(), reason));
    }
    create(planned);
    return planned;
  }

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
    return cluster
        .update(s -> s.withMigration(change.apply(s.migrations().get(id))))
        .migrations()
        .get(id);
  }

  /** Migrations with their live progress; ended ones only if {@code all}. */
  List<Migration> migrations(boolean all) {
    List<Migration> list = new ArrayList<>();
    for (Migration migration : cluster.state().migrations().values()) {
      if (!all && ClusterState.isFinished(migration)) {
        continue;
      }
      MigrationControl control = controls.get(migration.getId());
      Migration.Builder shown = migration.toBuilder();
      if (control != null && !ClusterState.isFinished(migration)) {
        MigrationControl.Progress progress = control.snapshot();
        shown
            .setKeysCopied(progress.keysCopied())
            .setBytesCopied(progress.bytesCopied())
            .setChangesApplied(progress.changesApplied())
            .setKeysPerSec(progress.keysPerSec())
            .setBytesPerSec(progress.bytesPerSec())
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
