package io.shardcluster.coordinator;

import static io.shardcluster.client.ShardClusterException.requireArgument;

import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Interval;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Chooses ring tokens deliberately rather than at random, in the spirit of Cassandra's token
 * allocation: a joining node takes exactly 1/(N+1) of the position space, carved from the most
 * loaded nodes (at most {@code vnodes} of them) so that they come down to a common level. Only the
 * joining node gains positions, so a join moves about 1/(N+1) of the keys, all to the new node, and
 * the shares stay within a few percent of each other.
 */
final class TokenAllocator {
  private static final double UNITS = 0x1.0p64;

  /** How far above the mean share the largest share may end after a join. */
  static final double TOLERANCE = 0.03;

  private TokenAllocator() {}

  /** The ring after {@code node} joins taking up to {@code vnodes} pieces. */
  static HashRing join(HashRing ring, String node, int vnodes) {
    requireArgument(vnodes >= 1, "vnodes must be at least 1, got " + vnodes);
    if (ring.isEmpty()) {
      return HashRing.of(List.of(0L), List.of(node));
    }
    Map<String, Double> shares = ring.shares();
    requireArgument(!shares.containsKey(node), "node " + node + " already owns intervals");
    double target = 1.0 / (shares.size() + 1);

    List<String> byShare =
        shares.keySet().stream()
            .sorted(
                Comparator.comparing((String d) -> shares.get(d)).reversed().thenComparing(d -> d))
            .toList();
    List<Double> sorted = byShare.stream().map(shares::get).toList();
    // More donors never leave a larger share behind, so search for the fewest that suffice.
    int low = Math.min(vnodes, byShare.size());
    int high = byShare.size();
    while (low < high) {
      int count = (low + high) >>> 1;
      double largestLeft =
          Math.max(waterLevel(sorted.subList(0, count), target), sorted.get(count));
      if (largestLeft <= (1 + TOLERANCE) * target) {
        high = count;
      } else {
        low = count + 1;
      }
    }
    List<String> donors = byShare.subList(0, low);
    double level = waterLevel(sorted.subList(0, low), target);

    // What each interval gives up: a suffix of it (or all of it) in position units.
    Map<Integer, Long> cuts = new HashMap<>();
    List<Interval> intervals = ring.intervals();
    Map<String, List<Integer>> byOwner = new HashMap<>();
    for (int i = 0; i < intervals.size(); i++) {
      byOwner.computeIfAbsent(intervals.get(i).owner(), o -> new ArrayList<>()).add(i);
    }
    long taken = 0;
    long targetUnits = units(target);
    for (int d = 0; d < donors.size(); d++) {
      String donor = donors.get(d);
      double give = shares.get(donor) - level;
      if (give <= 0) {
        continue;
      }
      // The last donor rounds off, so the new node gets exactly its share.
      long remaining =
          d == donors.size() - 1 || shares.get(donors.get(d + 1)) <= level
              ? targetUnits - taken
              : units(give);
      // Largest intervals first, so few pieces cover the amount.
      List<Integer> own = new ArrayList<>(byOwner.get(donor));
      own.sort((a, b) -> Long.compareUnsigned(size(intervals.get(b)), size(intervals.get(a))));
      for (int i : own) {
        if (remaining == 0) {
          break;
        }
        long size = size(intervals.get(i));
        long cut = Long.compareUnsigned(remaining, size) < 0 ? remaining : size;
        cuts.put(i, cut);
        remaining -= cut;
        taken += cut;
      }
    }

    List<Long> starts = new ArrayList<>();
    List<String> owners = new ArrayList<>();
    for (int i = 0; i < intervals.size(); i++) {
      Interval interval = intervals.get(i);
      Long cut = cuts.get(i);
      if (cut == null) {
        starts.add(interval.start());
        owners.add(interval.owner());
      } else if (cut == size(interval)) {
        starts.add(interval.start());
        owners.add(node);
      } else {
        starts.add(interval.start());
        owners.add(interval.owner());
        starts.add(interval.end() - cut);
        owners.add(node);
      }
    }
    return HashRing.of(starts, owners);
  }

  /**
   * The level L such that the shares above it, lowered to it, free exactly {@code amount}: the sum
   * of max(0, share - L) equals amount. Shares must be sorted largest first.
   */
  static double waterLevel(List<Double> sortedShares, double amount) {
    double sum = 0;
    for (int j = 0; j < sortedShares.size(); j++) {
      sum += sortedShares.get(j);
      double level = (sum - amount) / (j + 1);
      boolean last = j == sortedShares.size() - 1;
      if (last || level >= sortedShares.get(j + 1)) {
        return Math.max(level, 0);
      }
    }
    return 0;
  }

  /** An interval's size in position units, unsigned; the whole space reads as 2^64 - 1. */
  static long size(Interval interval) {
    long size = interval.end() - interval.start();
    return size == 0 ? -1L : size;
  }

  /** A fraction of the space in position units, unsigned. */
  static long units(double fraction) {
    if (fraction >= 1.0) {
      return -1L;
    }
    double u = fraction * UNITS;
    if (u < 0x1.0p63) {
      return (long) u;
    }
    return (long) (u - 0x1.0p63) + Long.MIN_VALUE;
  }
}
