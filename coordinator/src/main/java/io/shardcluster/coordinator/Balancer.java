package io.shardcluster.coordinator;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.shardcluster.proto.v1.BalancerState;
import io.shardcluster.proto.v1.DirectoryEntryLoad;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.proto.v1.RangeLoad;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RangeMap;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.logging.Logger;

/**
 * Load balancing: each node's load (keys, or reads + writes per second) from its heartbeats, the
 * plan that evens it out, and the automatic balancer's decisions, with their hysteresis: splitting
 * and spreading the ranges of range keyspaces, and moving ring slices and directory entries from
 * the most to the least loaded nodes. It decides, and returns its moves as a {@link Plan}; the
 * {@link Rebalancer} runs them. (Named for what it balances, not to be confused with gRPC's
 * client-side LoadBalancer.)
 */
final class Balancer {
  // The automatic balancer leaves a node alone unless it is this far above the mean (in keys, or
  // in reads + writes per second): see worthBalancing.
  static final double MIN_EXCESS_KEYS = 1_000;
  static final double MIN_EXCESS_OPS = 100;

  private static final Logger logger = Logger.getLogger(Balancer.class.getName());

  private final Cluster cluster;
  private final Liveness liveness;
  private final CoordinatorConfig config;
  private final Clock clock;
  private long imbalancedSinceMs = -1;
  private long quietUntilMs;
  // Ranges made by a load split, by first key, and when: not load-split again within the balance
  // window, so a load that moves on (the tail of increasing keys) does not split on every count.
  private final Map<RangeSlot, Long> loadSplitAtMs = new HashMap<>();

  Balancer(Cluster cluster, Liveness liveness, CoordinatorConfig config, Clock clock) {
    this.cluster = cluster;
    this.liveness = liveness;
    this.config = config;
    this.clock = clock;
  }

  /** The node's load by {@code metric} ("keys" or "ops"), from its last heartbeat. */
  double nodeLoad(String node, String metric) {
    NodeStats stats =
        liveness
            .lastHeartbeat(node)
            .map(Liveness.Heartbeat::stats)
            .orElse(NodeStats.getDefaultInstance());
    return metric.equals("ops")
        ? stats.getReadsPerSec() + stats.getWritesPerSec()
        : stats.getKeys();
  }

  /** A directory entry's load on its node, from the node's last heartbeat; 0 if unreported. */
  double entryLoad(String node, String keyspace, DirectoryEntry entry, String metric) {
    NodeStats stats =
        liveness
            .lastHeartbeat(node)
            .map(Liveness.Heartbeat::stats)
            .orElse(NodeStats.getDefaultInstance());
    for (DirectoryEntryLoad load : stats.getDirectoryLoadList()) {
      if (load.getKeyspace().equals(keyspace)
          && load.getKey().equals(entry.key())
          && load.getPrefix() == entry.prefix()) {
        return metric.equals("ops") ? load.getOpsPerSec() : load.getKeys();
      }
    }
    return 0;
  }

  /** The plan that would even out the load now, among UP nodes. */
  LoadPlanner.Plan plan(double target) {
    ClusterState state = cluster.state();
    String metric = config.balanceBy();
    Map<String, Double> loads = new LinkedHashMap<>();
    for (MemberRecord member : state.members().values()) {
      if (member.getState() == NodeStateProto.UP && liveness.isUp(member.getId())) {
        loads.put(member.getId(), nodeLoad(member.getId(), metric));
      }
    }
    Keyspace keyspace = state.routing().keyspace(Keyspace.DEFAULT);
    List<LoadPlanner.EntryLoad> entries = new ArrayList<>();
    for (DirectoryEntry entry : keyspace.directory().entries()) {
      entries.add(
          new LoadPlanner.EntryLoad(
              entry, entryLoad(entry.owner(), Keyspace.DEFAULT, entry, metric)));
    }
    if (loads.size() < 2) {
      return new LoadPlanner.Plan(List.of(), loads, loads);
    }
    return LoadPlanner.plan(keyspace, loads, entries, target);
  }

  /**
   * The automatic balancer's settings and what it makes of a plan: whether the load is over its
   * threshold now, and whether the loads the plan was made from are current.
   */
  BalancerState state(LoadPlanner.Plan plan) {
    return BalancerState.newBuilder()
        .setEnabled(config.balancerEnabled())
        .setThreshold(config.balanceThreshold())
        .setWindowMs(config.balanceWindow().toMillis())
        .setOverThreshold(worthBalancing(plan, config.balanceThreshold(), config.balanceBy()))
        .setLoadsCurrent(loadsCurrent(cluster.state()))
        .build();
  }

  /** Whether the loads are current: by ops always; by keys, while the counts are fresh. */
  private boolean loadsCurrent(ClusterState state) {
    return config.balanceBy().equals("ops") || countsFresh(state);
  }

  /** Whether every UP node has reported key counts made at the current epoch. */
  private boolean countsFresh(ClusterState state) {
    return state.members().values().stream()
        .filter(m -> m.getState() == NodeStateProto.UP)
        .allMatch(
            m ->
                liveness
                    .lastHeartbeat(m.getId())
                    .map(h -> h.stats().getCountedAtEpoch() == state.epoch())
                    .orElse(false));
  }

  /**
   * Range keyspaces, on fresh counts, one change per call: splits a range holding more than the
   * split size at its median key, or taking more than the split load at the key that halves its
   * requests (both halves stay on its node), or else moves one whole range from the node holding
   * the most of a keyspace's keys (or requests, when balancing by ops) to the one holding the
   * fewest, when the most is over the balancer's threshold above the mean and the move leaves the
   * receiver within it ({@link #rangeToSpread}). A new count follows every change, so the next
   * decision sees its effect. A split is made at once (it moves no data), and holds back the other
   * plans this turn as a spread's moves do.
   */
  Plan splitOrSpreadRanges(ClusterState state) {
    List<Keyspace> rangeKeyspaces =
        state.routing().keyspaces().values().stream().filter(Keyspace::isRange).toList();
    if (rangeKeyspaces.isEmpty() || !countsFresh(state)) {
      return Plan.NOTHING;
    }
    List<String> up =
        state.members().values().stream()
            .filter(m -> m.getState() == NodeStateProto.UP && liveness.isUp(m.getId()))
            .map(MemberRecord::getId)
            .toList();
    Map<RangeSlot, RangeLoad> loads = new HashMap<>();
    for (String node : up) {
      liveness
          .lastHeartbeat(node)
          .ifPresent(
              h ->
                  h.stats()
                      .getRangeLoadList()
                      .forEach(
                          load ->
                              loads.put(new RangeSlot(load.getKeyspace(), load.getStart()), load)));
    }
    long now = clock.millis();
    loadSplitAtMs.values().removeIf(at -> now - at >= config.balanceWindow().toMillis());
    boolean byOps = config.balanceBy().equals("ops");
    for (Keyspace keyspace : rangeKeyspaces) {
      RangeMap ranges = keyspace.ranges();
      long[] sizes = new long[ranges.size()];
      ByteString[] medians = new ByteString[ranges.size()];
      for (int i = 0; i < ranges.size(); i++) {
        RangeSlot slot = new RangeSlot(keyspace.name(), ByteString.copyFrom(ranges.start(i)));
        RangeLoad load = loads.get(slot);
        if (load == null) {
          continue;
        }
        sizes[i] = byOps ? Math.round(load.getOpsPerSec()) : load.getKeys();
        medians[i] = byOps ? load.getLoadMedian() : load.getMedian();
        if (config.rangeSplitKeys() > 0
            && load.getKeys() > config.rangeSplitKeys()
            && splitAt(keyspace, i, load.getMedian())) {
          logger.info(
              keyspace.name()
                  + ": split a range of "
                  + load.getKeys()
                  + " keys at its median "
                  + load.getMedian().toStringUtf8());
          return Plan.WAITING;
        }
        if (config.rangeSplitOps() > 0
            && load.getOpsPerSec() > config.rangeSplitOps()
            && !loadSplitAtMs.containsKey(slot)
            && splitAt(keyspace, i, load.getLoadMedian())) {
          loadSplitAtMs.put(slot, now);
          loadSplitAtMs.put(new RangeSlot(keyspace.name(), load.getLoadMedian()), now);
          logger.info(
              keyspace.name()
                  + String.format(
                      ": split a range taking %.0f ops/s at the key that halves them, ",
                      load.getOpsPerSec())
                  + load.getLoadMedian().toStringUtf8());
          return Plan.WAITING;
        }
      }
      if (config.balancerEnabled() && up.size() > 1) {
        Optional<Plan> spread = spreadRanges(state, keyspace, sizes, up);
        if (spread.isPresent()) {
          return spread.get();
        }
        double minimumExcess = byOps ? MIN_EXCESS_OPS : MIN_EXCESS_KEYS;
        OptionalInt split =
            rangeToSplit(ranges, sizes, up, config.balanceThreshold(), minimumExcess);
        if (split.isPresent()
            && medians[split.getAsInt()] != null
            && splitAt(keyspace, split.getAsInt(), medians[split.getAsInt()])) {
          logger.info(
              keyspace.name()
                  + ": split a range of "
                  + sizes[split.getAsInt()]
                  + (byOps ? " ops/s" : " keys")
                  + " too large to move within the threshold at "
                  + medians[split.getAsInt()].toStringUtf8());
          return Plan.WAITING;
        }
      }
    }
    return Plan.NOTHING;
  }

  /** Splits range {@code i} at {@code key} if the key lies strictly inside it. */
  private boolean splitAt(Keyspace keyspace, int i, ByteString key) {
    byte[] at = key.toByteArray();
    RangeMap ranges = keyspace.ranges();
    if (Arrays.compareUnsigned(at, ranges.start(i)) <= 0
        || ranges.indexOf(at) != i
        || ranges.indexOfStart(at) >= 0) {
      return false;
    }
    cluster.catalog().splitRange(keyspace.name(), at);
    return true;
  }

  /** A range of a range keyspace, by its first key. */
  private record RangeSlot(String keyspace, ByteString start) {}

  /** Moves one range of a keyspace from the node with the most keys to the one with the fewest. */
  private Optional<Plan> spreadRanges(
      ClusterState state, Keyspace keyspace, long[] sizes, List<String> up) {
    Optional<RangeMove> move =
        rangeToSpread(keyspace.ranges(), sizes, up, config.balanceThreshold());
    if (move.isEmpty()) {
      return Optional.empty();
    }
    RangeMove chosen = move.get();
    Plan plan =
        plan(
            state,
            List.of(
                new LoadPlanner.Move(
                    chosen.from(),
                    chosen.to(),
                    MovingSet.ofKeyRanges(
                        keyspace.name(), List.of(keyspace.ranges().range(chosen.range()))),
                    sizes[chosen.range()])),
            "spread " + keyspace.name());
    logger.info(
        keyspace.name()
            + ": moving a range of "
            + sizes[chosen.range()]
            + (config.balanceBy().equals("ops") ? " ops/s from " : " keys from ")
            + chosen.from()
            + " to "
            + chosen.to());
    return Optional.of(plan);
  }

  /**
   * The range to split, if any, when the node holding the most of a range keyspace is over {@code
   * threshold} above the mean by at least {@code minimumExcess} and no whole range of it can move
   * ({@link #rangeToSpread} finds none): its largest, whose halves can.
   */
  static OptionalInt rangeToSplit(
      RangeMap ranges, long[] sizes, List<String> up, double threshold, double minimumExcess) {
    Map<String, Long> perNode = perNode(ranges, sizes, up);
    long total = perNode.values().stream().mapToLong(Long::longValue).sum();
    if (total == 0 || rangeToSpread(ranges, sizes, up, threshold).isPresent()) {
      return OptionalInt.empty();
    }
    String most = Collections.max(perNode.keySet(), Comparator.comparing(perNode::get));
    double mean = (double) total / perNode.size();
    if (requireNonNull(perNode.get(most)) <= (1 + threshold) * mean
        || requireNonNull(perNode.get(most)) - mean < minimumExcess) {
      return OptionalInt.empty();
    }
    int largest = -1;
    for (int i = 0; i < ranges.size(); i++) {
      if (ranges.owner(i).equals(most)
          && sizes[i] > 1
          && (largest < 0 || sizes[i] > sizes[largest])) {
        largest = i;
      }
    }
    return largest < 0 ? OptionalInt.empty() : OptionalInt.of(largest);
  }

  /** Each UP node's sum of {@code sizes} over the ranges it owns. */
  private static Map<String, Long> perNode(RangeMap ranges, long[] sizes, List<String> up) {
    Map<String, Long> perNode = new LinkedHashMap<>();
    up.forEach(n -> perNode.put(n, 0L));
    for (int i = 0; i < ranges.size(); i++) {
      perNode.merge(ranges.owner(i), sizes[i], Long::sum);
    }
    perNode.keySet().retainAll(up);
    return perNode;
  }

  /** A move of range {@code range} of a range keyspace from one node to another. */
  record RangeMove(int range, String from, String to) {}

  /**
   * The range to move, if any, when the node holding the most of a range keyspace ({@code sizes}:
   * keys, or requests when balancing by ops, per range) is over {@code threshold} above the mean:
   * from it to the node holding the fewest, the range closest to half their gap among those that
   * leave the receiver within the threshold. A range that would put the receiver over it is not
   * moved: that only swaps which node is over, and with ranges of about the gap's size the next
   * look would move one back (they did, every few seconds, before this rule).
   */
  static Optional<RangeMove> rangeToSpread(
      RangeMap ranges, long[] sizes, List<String> up, double threshold) {
    Map<String, Long> perNode = perNode(ranges, sizes, up);
    long total = perNode.values().stream().mapToLong(Long::longValue).sum();
    if (total == 0) {
      return Optional.empty();
    }
    String most = Collections.max(perNode.keySet(), Comparator.comparing(perNode::get));
    String fewest = Collections.min(perNode.keySet(), Comparator.comparing(perNode::get));
    double limit = (1 + threshold) * total / perNode.size();
    if (requireNonNull(perNode.get(most)) <= limit) {
      return Optional.empty();
    }
    long gap = requireNonNull(perNode.get(most)) - requireNonNull(perNode.get(fewest));
    int best = -1;
    for (int i = 0; i < ranges.size(); i++) {
      if (ranges.owner(i).equals(most)
          && sizes[i] > 0
          && requireNonNull(perNode.get(fewest)) + sizes[i] <= limit
          && (best < 0 || Math.abs(sizes[i] - gap / 2) < Math.abs(sizes[best] - gap / 2))) {
        best = i;
      }
    }
    return best < 0 ? Optional.empty() : Optional.of(new RangeMove(best, most, fewest));
  }

  /**
   * The automatic balancer: when the most loaded node has been more than the threshold above the
   * mean for the whole window, on fresh counts, it moves load until every node is near the mean (a
   * much tighter target than the trigger, so it does not start again at once).
   */
  Plan balanceIfNeeded(ClusterState state) {
    long now = clock.millis();
    if (!config.balancerEnabled() || now < quietUntilMs) {
      return Plan.NOTHING;
    }
    if (!loadsCurrent(state)) {
      return Plan.NOTHING;
    }
    LoadPlanner.Plan plan = plan(config.balanceTarget());
    if (!worthBalancing(plan, config.balanceThreshold(), config.balanceBy())) {
      imbalancedSinceMs = -1;
      return Plan.NOTHING;
    }
    if (imbalancedSinceMs < 0) {
      imbalancedSinceMs = now;
      return Plan.NOTHING;
    }
    if (now - imbalancedSinceMs < config.balanceWindow().toMillis()) {
      return Plan.NOTHING;
    }
    imbalancedSinceMs = -1;
    quietUntilMs = now + config.balanceWindow().toMillis();
    return moves(state, plan, "rebalance");
  }

  /** The load plan's moves as migrations, made for {@code reason}. */
  Plan moves(ClusterState state, LoadPlanner.Plan plan, String reason) {
    Plan moves = plan(state, plan.moves(), reason);
    logger.info(
        reason
            + ": "
            + moves.migrations().size()
            + " migration(s), max/mean "
            + String.format(
                "%.2f -> %.2f (by %s)",
                plan.maxOverMeanBefore(), plan.maxOverMeanAfter(), config.balanceBy()));
    return moves;
  }

  /** One migration per move. */
  private static Plan plan(ClusterState state, List<LoadPlanner.Move> moves, String reason) {
    List<Migration> planned = new ArrayList<>();
    for (LoadPlanner.Move move : moves) {
      planned.add(
          state.newMigration(planned.size(), move.source(), move.target(), move.moving(), reason));
    }
    return Plan.of(planned);
  }

  /**
   * Whether the automatic balancer should act on the plan: the most loaded node is more than the
   * threshold above the mean, by at least {@link #MIN_EXCESS_KEYS} keys or {@link #MIN_EXCESS_OPS}
   * ops/s (below that, as with one node holding the only few keys of a new cluster, a move costs
   * more than it evens out), and there is something to move.
   */
  static boolean worthBalancing(LoadPlanner.Plan plan, double threshold, String balanceBy) {
    double minimumExcess = balanceBy.equals("keys") ? MIN_EXCESS_KEYS : MIN_EXCESS_OPS;
    return plan.maxOverMeanBefore() > 1 + threshold
        && plan.excessBefore() >= minimumExcess
        && !plan.moves().isEmpty();
  }
}
