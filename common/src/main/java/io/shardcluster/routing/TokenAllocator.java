package io.shardcluster.routing;

import static io.shardcluster.errors.ShardClusterException.requireArgument;
import static java.util.Objects.requireNonNull;

import io.shardcluster.errors.ShardClusterException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Chooses ring tokens deliberately rather than at random, in the spirit of Cassandra's token
 * allocation. A joining node takes exactly 1/(N+1) of the position space, carved from the most
 * loaded nodes so that they come down to a common level: from {@code vnodes} donors, or from more
 * when that is needed to keep the largest share within {@link #TOLERANCE} of the mean. A leaving
 * node's positions go to the least loaded nodes, bringing them up to a common level. Either way
 * only the node that joins or leaves gains or loses positions, so a change moves the least data
 * there is to move.
 */
public final class TokenAllocator {
  private static final double UNITS = 0x1.0p64;

  /** How far above the mean share the largest share may end after a join. */
  public static final double TOLERANCE = 0.03;

  /** Fewest nodes a joining node takes ring pieces from, unless configured otherwise. */
  public static final int DEFAULT_VNODES = 16;

  private TokenAllocator() {}

  /** The ring after {@code node} joins taking up to {@code vnodes} pieces. */
  public static HashRing join(HashRing ring, String node, int vnodes) {
    requireArgument(vnodes >= 1, "vnodes must be at least 1, got %s", vnodes);
    if (ring.isEmpty()) {
      return HashRing.of(List.of(0L), List.of(node));
    }
    Map<String, Double> shares = ring.shares();
    requireArgument(!shares.containsKey(node), "node %s already owns intervals", node);
    double target = 1.0 / (shares.size() + 1);

    List<String> byShare =
        shares.keySet().stream()
            .sorted(
                Comparator.comparing((String d) -> requireNonNull(shares.get(d)))
                    .reversed()
                    .thenComparing(d -> d))
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
      double give = requireNonNull(shares.get(donor)) - level;
      if (give <= 0) {
        continue;
      }
      // The last donor rounds off, so the new node gets exactly its share.
      long remaining =
          d == donors.size() - 1 || requireNonNull(shares.get(donors.get(d + 1))) <= level
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

  /** The ring after {@code node} leaves; FAILED_PRECONDITION if no other node owns anything. */
  public static HashRing remove(HashRing ring, String node) {
    return remove(ring, node, ring.shares().keySet());
  }

  /**
   * The ring after {@code node} leaves, its positions going only to {@code allowed} (evening out
   * their shares; the other nodes keep theirs): a drain gives nothing to a node that is down.
   * FAILED_PRECONDITION if there is no taker.
   */
  public static HashRing remove(HashRing ring, String node, Collection<String> allowed) {
    Double leaving = ring.shares().get(node);
    if (leaving == null) {
      return ring;
    }
    Map<String, Double> shares = new HashMap<>();
    for (String taker : allowed) {
      if (!taker.equals(node)) {
        shares.put(taker, ring.shares().getOrDefault(taker, 0.0));
      }
    }
    if (shares.isEmpty()) {
      throw ShardClusterException.failedPrecondition(
          "node " + node + " is the last one owning positions; nothing could take them");
    }
    List<String> receivers =
        shares.keySet().stream()
            .sorted(
                Comparator.comparing((String r) -> requireNonNull(shares.get(r)))
                    .thenComparing(r -> r))
            .toList();
    // Water-fill from the bottom: the level L where the sum of (L - share) over the receivers
    // below it equals what the leaving node held.
    double level = 0;
    double sum = 0;
    int count = 0;
    for (int j = 0; j < receivers.size(); j++) {
      sum += requireNonNull(shares.get(receivers.get(j)));
      count = j + 1;
      level = (leaving + sum) / count;
      if (j == receivers.size() - 1 || level <= requireNonNull(shares.get(receivers.get(j + 1)))) {
        break;
      }
    }
    List<String> takers = new ArrayList<>(receivers.subList(0, count));
    List<Long> wants = new ArrayList<>();
    for (String taker : takers) {
      wants.add(units(level - requireNonNull(shares.get(taker))));
    }

    List<Long> starts = new ArrayList<>();
    List<String> owners = new ArrayList<>();
    int current = 0;
    long left = wants.get(0);
    for (Interval interval : ring.intervals()) {
      if (!interval.owner().equals(node)) {
        starts.add(interval.start());
        owners.add(interval.owner());
        continue;
      }
      long position = interval.start();
      long remaining = size(interval);
      while (remaining != 0) {
        boolean last = current == takers.size() - 1;
        long piece = last || Long.compareUnsigned(left, remaining) >= 0 ? remaining : left;
        if (piece != 0) {
          starts.add(position);
          owners.add(takers.get(current));
        }
        position += piece;
        remaining -= piece;
        left -= piece;
        if (!last && left == 0) {
          current++;
          left = wants.get(current);
        }
      }
    }
    return HashRing.of(starts, owners);
  }

  /**
   * Ranges that make up {@code fraction} of the space, all owned by {@code from}: suffixes of its
   * largest intervals, so that few ranges are needed. Less if it owns less.
   */
  public static List<PositionRange> take(HashRing ring, String from, double fraction) {
    List<Interval> own = new ArrayList<>(ring.intervalsOf(from));
    own.sort((a, b) -> Long.compareUnsigned(size(b), size(a)));
    long remaining = units(fraction);
    List<PositionRange> ranges = new ArrayList<>();
    for (Interval interval : own) {
      if (remaining == 0) {
        break;
      }
      long size = size(interval);
      long cut = Long.compareUnsigned(remaining, size) < 0 ? remaining : size;
      ranges.add(new PositionRange(interval.end() - cut, interval.end()));
      remaining -= cut;
    }
    return ranges;
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
