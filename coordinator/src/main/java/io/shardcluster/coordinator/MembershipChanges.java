package io.shardcluster.coordinator;

// Over 500 lines: joins, drains, their retries and forced removals share the computation of who
// takes which share.

import static java.util.Objects.requireNonNull;

import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.routing.RangeAllocator;
import io.shardcluster.routing.RangeMap;
import io.shardcluster.routing.TokenAllocator;
import io.shardcluster.rpc.RoutingTables;
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
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * Membership changes as moves of data: a joining node gets its share from the current owners, a
 * drained node's keys go to the others, and a node gone for good is removed without its data.
 * Members go from JOINING to UP and from DRAINING to REMOVED as their migrations end, and a join or
 * drain tries again what failures rolled back ({@link RollbackRetries}). It plans: each method
 * returns a {@link Plan}, which the {@link Rebalancer} records and runs.
 */
final class MembershipChanges {
  private static final Logger logger = Logger.getLogger(MembershipChanges.class.getName());

  private final Cluster cluster;
  private final Liveness liveness;
  private final CoordinatorConfig config;
  private final Clock clock;
  private final Balancer balancer;
  // Draining nodes whose retries ran out, logged once.
  private final Set<String> gaveUp = ConcurrentHashMap.newKeySet();

  MembershipChanges(
      Cluster cluster,
      Liveness liveness,
      CoordinatorConfig config,
      Clock clock,
      Balancer balancer) {
    this.cluster = cluster;
    this.liveness = liveness;
    this.config = config;
    this.clock = clock;
    this.balancer = balancer;
  }

  /**
   * The members to move on now that their migrations are over: JOINING to UP, DRAINING to REMOVED.
   */
  Plan settleMembers(ClusterState state) {
    Plan plan = Plan.NOTHING;
    List<Migration> active = state.activeMigrations();
    for (MemberRecord member : state.members().values()) {
      String id = member.getId();
      if (member.getState() == NodeStateProto.JOINING
          && active.stream().noneMatch(m -> m.getTarget().equals(id))
          && joinPlanned(state, id)
          && joinRetries(state, id).isEmpty()) {
        plan = plan.withMemberState(id, NodeStateProto.UP);
        logger.info(id + " has joined: it is UP");
      } else if (member.getState() == NodeStateProto.DRAINING
          && active.stream().noneMatch(m -> m.getSource().equals(id))
          && !ownsAnything(state, id)) {
        plan = plan.withMemberState(id, NodeStateProto.REMOVED);
        logger.info(id + " is drained: REMOVED");
      }
    }
    return plan;
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

  /** The migrations of the first JOINING node that has none yet; nothing if there is none. */
  Plan planNextJoin(ClusterState state) {
    for (MemberRecord member : state.members().values()) {
      if (member.getState() != NodeStateProto.JOINING || joinPlanned(state, member.getId())) {
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
                state.newMigration(
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
          if (ranges.isEmpty()) {
            continue;
          }
          // A migration per step: the new node takes its traffic a piece at a time.
          for (List<PositionRange> step : HandoverSteps.split(ranges, config.handoverSteps())) {
            planned.add(
                state.newMigration(
                    planned.size(),
                    donor,
                    node,
                    new MovingSet(keyspace.name(), step, List.of()),
                    "join " + node));
          }
        }
      }
      logger.info(node + " joins: " + planned.size() + " migration(s) planned");
      return Plan.of(planned);
    }
    return Plan.NOTHING;
  }

  /**
   * Starts moving every key of the node to the others (balanced by ring share, directory entries to
   * the least loaded), then marks it REMOVED. Returns the migrations.
   */
  Plan drain(String node) {
    ClusterState state = cluster.state();
    MemberRecord member =
        state
            .member(node)
            .filter(m -> m.getState() != NodeStateProto.REMOVED)
            .orElseThrow(() -> ShardClusterException.notFound("no node named " + node));
    Cluster.requireNoMigrations(state);
    Plan planned = planDrain(state, member, 1);
    gaveUp.remove(node);
    logger.info(node + " is draining: " + planned.migrations().size() + " migration(s) planned");
    return planned;
  }

  /**
   * Marks the node DRAINING and plans the moves of everything it owns to the other nodes that are
   * UP and answering; the caller creates them. Refused while the node is DOWN or joining, or when
   * no other node could take its keys.
   */
  private Plan planDrain(ClusterState state, MemberRecord member, int attempt) {
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
            .filter(m -> m.getState() == NodeStateProto.UP && !m.getId().equals(node))
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
    if (member.getState() == NodeStateProto.JOINING) {
      throw ShardClusterException.failedPrecondition(
          "cannot drain " + node + " while it is joining");
    }
    Map<String, Map<String, Receiving>> plans = new LinkedHashMap<>();
    for (String keyspace : state.routing().keyspaces().keySet()) {
      plans.put(keyspace, drainPlans(state, keyspace, node, others));
    }
    List<Migration> planned = new ArrayList<>();
    for (var keyspace : plans.entrySet()) {
      for (var entry : keyspace.getValue().entrySet()) {
        MovingSet moving = entry.getValue().moving(keyspace.getKey());
        if (!moving.isEmpty()) {
          planned.add(
              state
                  .newMigration(planned.size(), node, entry.getKey(), moving, "drain " + node)
                  .toBuilder()
                  .setAttempt(attempt)
                  .build());
        }
      }
    }
    return Plan.of(planned).withMemberState(node, NodeStateProto.DRAINING);
  }

  /**
   * The next round of a join or drain whose last round a failure rolled back, once its delay is
   * over (see {@link RollbackRetries}) and its nodes answer. It holds back other plans while one
   * waits for its delay.
   */
  Plan retryRolledBack(ClusterState state) {
    boolean waiting = false;
    for (MemberRecord member : state.members().values()) {
      String node = member.getId();
      if (member.getState() == NodeStateProto.JOINING) {
        List<Retry> retries = joinRetries(state, node);
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
        for (Retry retry : retries) {
          planned.add(
              state
                  .newMigration(
                      planned.size(), retry.source(), node, retry.moving(), "join " + node)
                  .toBuilder()
                  .setAttempt(round.attempt() + 1)
                  .build());
        }
        logger.info(
            String.format(
                "%s joins: trying again %d move(s) a failure rolled back (attempt %d of %d)",
                node, planned.size(), round.attempt() + 1, RollbackRetries.MAX_ATTEMPTS));
        return Plan.of(planned);
      }
      if (member.getState() == NodeStateProto.DRAINING && ownsAnything(state, node)) {
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
        Plan planned;
        try {
          planned = planDrain(state, member, round.get().attempt() + 1);
        } catch (ShardClusterException e) {
          // The node or every receiver is DOWN: tried once they answer.
          continue;
        }
        logger.info(
            String.format(
                "%s drains: %d migration(s) planned again after a failure rolled its moves back"
                    + " (attempt %d of %d)",
                node,
                planned.migrations().size(),
                round.get().attempt() + 1,
                RollbackRetries.MAX_ATTEMPTS));
        return planned;
      }
    }
    return waiting ? Plan.WAITING : Plan.NOTHING;
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
        || (member.getState() != NodeStateProto.JOINING
            && member.getState() != NodeStateProto.DRAINING)
        || state.activeMigrations().stream()
            .anyMatch(m -> m.getSource().equals(node) || m.getTarget().equals(node))) {
      return Optional.empty();
    }
    boolean joining = member.getState() == NodeStateProto.JOINING;
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

  /** A move of a join to try again: what {@code source} owns of a move a failure rolled back. */
  record Retry(String source, MovingSet moving) {}

  /**
   * The moves of the node's join to try again, when its latest round may be retried: what a failure
   * rolled back of that round, from the nodes that own it now. Empty otherwise.
   */
  private static List<Retry> joinRetries(ClusterState state, String node) {
    return RollbackRetries.latest(state, "join " + node)
        .filter(RollbackRetries.Round::retries)
        .map(
            round ->
                round.rolledBack().stream()
                    .flatMap(failed -> fromOwnersNow(state, failed).stream())
                    .toList())
        .orElse(List.of());
  }

  /**
   * A rolled back join move, planned again from the nodes that own its keys now: the same move
   * while its source still owns all of it, split among the new owners where a drain or a forced
   * removal gave parts of it away since. A key range split since is tried again piece by piece.
   */
  static List<Retry> fromOwnersNow(ClusterState state, Migration failed) {
    MovingSet moving = RoutingTables.fromProto(failed.getMoving());
    Keyspace keyspace = state.routing().keyspaces().get(moving.keyspace());
    String node = failed.getTarget();
    if (keyspace == null || keyspace.isDirectory()) {
      return List.of();
    }
    List<Retry> retries = new ArrayList<>();
    if (keyspace.isRange()) {
      Map<String, List<KeyRange>> byOwner = new TreeMap<>();
      RangeMap ranges = keyspace.ranges();
      for (KeyRange range : moving.keyRanges()) {
        // The range as it was, or the pieces a split has made of it since (ranges never merge).
        for (int i = ranges.indexOfStart(range.start().toByteArray());
            i >= 0 && i < ranges.size() && range.contains(ranges.range(i));
            i++) {
          if (!ranges.owner(i).equals(node)) {
            byOwner.computeIfAbsent(ranges.owner(i), o -> new ArrayList<>()).add(ranges.range(i));
          }
        }
      }
      byOwner.forEach(
          (owner, owned) ->
              retries.add(new Retry(owner, MovingSet.ofKeyRanges(keyspace.name(), owned))));
      return retries;
    }
    HashRing ring = keyspace.ring();
    HashRing after = ring;
    for (PositionRange range : moving.ranges()) {
      after = after.assign(range, node);
    }
    for (String owner : ring.shares().keySet()) {
      List<PositionRange> owned = owner.equals(node) ? List.of() : ring.movedTo(after, owner, node);
      if (!owned.isEmpty()) {
        retries.add(new Retry(owner, new MovingSet(keyspace.name(), owned, List.of())));
      }
    }
    return retries;
  }

  private static List<KeyRange> keyRanges(Keyspace keyspace, List<Integer> indexes) {
    return indexes.stream().sorted().map(i -> keyspace.ranges().range(i)).toList();
  }

  /**
   * What each receiver gets of a leaving node: ring ranges and directory entries, or whole key
   * ranges of a range keyspace.
   */
  private static final class Receiving {
    final List<PositionRange> ranges = new ArrayList<>();
    final List<DirectoryEntry> entries = new ArrayList<>();
    final List<KeyRange> keyRanges = new ArrayList<>();

    MovingSet moving(String keyspace) {
      return new MovingSet(keyspace, ranges, entries, keyRanges);
    }
  }

  private Map<String, Receiving> drainPlans(
      ClusterState state, String keyspaceName, String node, List<String> receivers) {
    Keyspace keyspace = state.routing().keyspace(keyspaceName);
    Map<String, Receiving> plans = new LinkedHashMap<>();
    receivers.forEach(r -> plans.put(r, new Receiving()));
    if (keyspace.isDirectory()) {
      // The node's groups, split between the receivers by the hash of the group.
      if (cluster.groups().groupsPerOwner(keyspaceName).getOrDefault(node, 0L) > 0) {
        long step = Long.divideUnsigned(-1L, receivers.size());
        for (int i = 0; i < receivers.size(); i++) {
          long end = i == receivers.size() - 1 ? 0 : step * (i + 1);
          requireNonNull(plans.get(receivers.get(i))).ranges.add(new PositionRange(step * i, end));
        }
      }
      return plans;
    }
    if (keyspace.isRange()) {
      RangeAllocator.leave(keyspace.ranges(), node, receivers)
          .forEach(
              (receiver, given) ->
                  requireNonNull(plans.get(receiver)).keyRanges.addAll(keyRanges(keyspace, given)));
      return plans;
    }
    HashRing ring = keyspace.ring();
    if (ring.shares().containsKey(node)) {
      HashRing after = TokenAllocator.remove(ring, node, receivers);
      for (String receiver : receivers) {
        requireNonNull(plans.get(receiver)).ranges.addAll(ring.movedTo(after, node, receiver));
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
              requireNonNull(plans.get(receiver)).entries.add(sized.getKey());
              load.merge(receiver, sized.getValue(), Double::sum);
            });
    return plans;
  }

  /**
   * Refuses a forced removal that cannot be made: an unknown node, no {@code --force}, or the last
   * node holding keys.
   */
  void checkRemovable(String node, boolean force) {
    ClusterState state = cluster.state();
    if (state.member(node).filter(m -> m.getState() != NodeStateProto.REMOVED).isEmpty()) {
      throw ShardClusterException.notFound("no node named " + node);
    }
    if (!force) {
      throw ShardClusterException.failedPrecondition(
          "removing "
              + node
              + " without draining loses the keys it holds; use drain, or"
              + " --force if the node is gone for good");
    }
    List<String> others =
        state.members().values().stream()
            .filter(m -> m.getState() != NodeStateProto.REMOVED && !m.getId().equals(node))
            .map(MemberRecord::getId)
            .toList();
    if (others.isEmpty() && ownsAnything(state, node)) {
      throw ShardClusterException.failedPrecondition(
          "cannot remove " + node + ": it is the last node; nothing could take its keys");
    }
  }

  /**
   * Gives a node that is gone for good its intervals and directory entries to the others at once,
   * without moving data: what it held is lost. Call after {@link #checkRemovable}, with its
   * migrations cancelled.
   */
  RemovedNode removeForce(String node) {
    ClusterState before = cluster.state();
    List<String> others =
        before.members().values().stream()
            .filter(m -> m.getState() != NodeStateProto.REMOVED && !m.getId().equals(node))
            .map(MemberRecord::getId)
            .toList();
    double lost =
        before.routing().keyspace(Keyspace.DEFAULT).ring().shares().getOrDefault(node, 0.0);
    Map<String, Map<String, Receiving>> plans = new LinkedHashMap<>();
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
          return next.withMember(member.toBuilder().setState(NodeStateProto.REMOVED).build());
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
}
