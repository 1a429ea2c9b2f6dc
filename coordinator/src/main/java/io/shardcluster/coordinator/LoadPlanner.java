package io.shardcluster.coordinator;

import static java.util.Objects.requireNonNull;

import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.routing.TokenAllocator;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Plans moves that even out load between nodes. A node's load is the sum of its units: each
 * directory entry it owns (measured by the node) and its share of the hash ring (the rest of its
 * load, assumed spread evenly over its positions). The planner repeatedly moves load from the most
 * to the least loaded node (a whole directory entry, or a slice of hash positions cut to size)
 * until the largest load is within {@code target} of the mean, or no move narrows it: a slice too
 * small to matter (the last positions of a node whose load sits in a directory entry) is cut only
 * when it brings the node within the target. Pure: no I/O.
 */
final class LoadPlanner {
  private static final int MAX_STEPS = 64;
  // A slice carrying less than this share of the mean load is cut only when it brings the node
  // within the target: each move is a migration of its own, with its fence and commit.
  private static final double MIN_SLICE_OF_MEAN = 0.01;
  // A node giving away all its hash positions keeps this fraction of them, so that it stays on the
  // ring: a sliver that holds no key in practice, and that no later step cuts (see above).
  private static final double KEPT_OF_SHARE = 1e-6;

  private LoadPlanner() {}

  /** The measured load of one directory entry. */
  record EntryLoad(DirectoryEntry entry, double load) {}

  /** One move: what goes from {@code source} to {@code target}, and how much load it carries. */
  record Move(String source, String target, MovingSet moving, double load) {}

  /** The plan, with loads per node before and (predicted) after. */
  record Plan(List<Move> moves, Map<String, Double> before, Map<String, Double> after) {
    double maxOverMeanBefore() {
      return maxOverMean(before);
    }

    /** How far the most loaded node is above the mean, in load units; 0 without nodes. */
    double excessBefore() {
      return before.isEmpty() ? 0 : Collections.max(before.values()) - mean(before);
    }

    double maxOverMeanAfter() {
      return maxOverMean(after);
    }
  }

  static double maxOverMean(Map<String, Double> loads) {
    if (loads.isEmpty()) {
      return 1;
    }
    double mean = mean(loads);
    return mean <= 0 ? 1 : Collections.max(loads.values()) / mean;
  }

  private static double mean(Map<String, Double> loads) {
    return loads.values().stream().mapToDouble(Double::doubleValue).sum() / loads.size();
  }

  /**
   * Plans moves within one keyspace among {@code nodes}.
   *
   * @param keyspace the keyspace's routing
   * @param loads total load per node (nodes to balance between; others are left alone)
   * @param entries measured load of the directory entries of this keyspace
   * @param target stop when the largest load is at most (1 + target) times the mean
   */
  static Plan plan(
      Keyspace keyspace, Map<String, Double> loads, List<EntryLoad> entries, double target) {
    Map<String, Double> before = new LinkedHashMap<>(loads);
    Map<String, Double> load = new LinkedHashMap<>(loads);
    HashRing ring = keyspace.ring();
    Map<String, Double> shares = new LinkedHashMap<>(ring.shares());
    // Load each node carries on its hash positions (assumed even over them).
    Map<String, Double> hashLoad = new LinkedHashMap<>();
    List<EntryLoad> remaining = new ArrayList<>();
    for (EntryLoad entry : entries) {
      if (load.containsKey(entry.entry().owner())) {
        remaining.add(entry);
      }
    }
    for (String node : load.keySet()) {
      double entryLoad =
          remaining.stream()
              .filter(e -> e.entry().owner().equals(node))
              .mapToDouble(EntryLoad::load)
              .sum();
      hashLoad.put(node, Math.max(0, load.get(node) - entryLoad));
    }
    double mean = mean(load);
    Map<List<String>, MoveBuilder> moves = new LinkedHashMap<>();

    for (int step = 0; step < MAX_STEPS && mean > 0; step++) {
      String high = Collections.max(load.keySet(), Comparator.comparing(load::get));
      String low = Collections.min(load.keySet(), Comparator.comparing(load::get));
      if (requireNonNull(load.get(high)) <= mean * (1 + target) || high.equals(low)) {
        break;
      }
      double amount =
          Math.min(requireNonNull(load.get(high)) - mean, mean - requireNonNull(load.get(low)));
      // Option 1: a whole directory entry; the one that leaves the pair most even.
      EntryLoad bestEntry = null;
      double bestEntryPeak = requireNonNull(load.get(high));
      for (EntryLoad entry : remaining) {
        if (entry.entry().owner().equals(high) && entry.load() > 0) {
          double peak =
              Math.max(
                  requireNonNull(load.get(high)) - entry.load(),
                  requireNonNull(load.get(low)) + entry.load());
          if (peak < bestEntryPeak) {
            bestEntryPeak = peak;
            bestEntry = entry;
          }
        }
      }
      // Option 2: a slice of hash positions carrying exactly `amount`, if the node has enough.
      double sliceLoad = 0;
      List<PositionRange> slice = List.of();
      double highShare = shares.getOrDefault(high, 0.0);
      if (requireNonNull(hashLoad.get(high)) > 0 && highShare > 0) {
        double density = requireNonNull(hashLoad.get(high)) / highShare;
        double fraction = Math.min(highShare * (1 - KEPT_OF_SHARE), amount / density);
        slice = TokenAllocator.take(ring, high, fraction);
        sliceLoad = fraction * density;
      }
      double slicePeak =
          Math.max(
              requireNonNull(load.get(high)) - sliceLoad,
              requireNonNull(load.get(low)) + sliceLoad);
      boolean useEntry = bestEntry != null && bestEntryPeak <= slicePeak;
      boolean sliver =
          sliceLoad < mean * MIN_SLICE_OF_MEAN
              && requireNonNull(load.get(high)) - sliceLoad > mean * (1 + target);
      if (!useEntry && (slice.isEmpty() || slicePeak >= requireNonNull(load.get(high)) || sliver)) {
        break;
      }
      MoveBuilder move = moves.computeIfAbsent(List.of(high, low), k -> new MoveBuilder());
      double moved;
      if (useEntry && bestEntry != null) {
        remaining.remove(bestEntry);
        move.entries.add(bestEntry.entry());
        moved = bestEntry.load();
      } else {
        for (PositionRange range : slice) {
          ring = ring.assign(range, low);
          move.ranges.add(range);
        }
        shares = new LinkedHashMap<>(ring.shares());
        moved = sliceLoad;
        hashLoad.put(high, requireNonNull(hashLoad.get(high)) - moved);
        hashLoad.put(low, requireNonNull(hashLoad.get(low)) + moved);
      }
      move.load += moved;
      load.put(high, requireNonNull(load.get(high)) - moved);
      load.put(low, requireNonNull(load.get(low)) + moved);
    }

    List<Move> planned = new ArrayList<>();
    moves.forEach(
        (pair, move) ->
            planned.add(
                new Move(
                    pair.get(0),
                    pair.get(1),
                    new MovingSet(keyspace.name(), merge(move.ranges), move.entries),
                    move.load)));
    return new Plan(planned, before, load);
  }

  private static List<PositionRange> merge(List<PositionRange> ranges) {
    List<PositionRange> sorted = new ArrayList<>(ranges);
    sorted.sort(Comparator.comparing(PositionRange::start, Long::compareUnsigned));
    List<PositionRange> merged = new ArrayList<>();
    for (PositionRange range : sorted) {
      if (!merged.isEmpty() && merged.get(merged.size() - 1).end() == range.start()) {
        PositionRange last = merged.remove(merged.size() - 1);
        merged.add(new PositionRange(last.start(), range.end()));
      } else {
        merged.add(range);
      }
    }
    return merged;
  }

  private static final class MoveBuilder {
    final List<PositionRange> ranges = new ArrayList<>();
    final List<DirectoryEntry> entries = new ArrayList<>();
    double load;
  }
}
