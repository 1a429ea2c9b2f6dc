package io.shardcluster.shardctl;

import static io.shardcluster.errors.ShardClusterException.requireArgument;
import static java.util.Objects.requireNonNull;

import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Interval;
import io.shardcluster.routing.KeyHash;
import io.shardcluster.routing.RangeAllocator;
import io.shardcluster.routing.RangeMap;
import io.shardcluster.routing.TokenAllocator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * What a sharding strategy costs, computed with the cluster's own routing code: the balance of a
 * layout, and how many keys a change of membership moves. Keys are {@code key000000000}, {@code
 * key000000001}, ...; hash strategies place them by their ring position ({@link KeyHash#position}),
 * ranges by their bytes.
 */
final class Simulation {
  /** A way of placing keys on nodes. */
  enum Strategy {
    /** Position modulo the node count: the naive scheme. */
    MOD("mod"),
    /** A ring with {@code vnodes} random tokens per node: the textbook consistent hashing. */
    RING_RANDOM("ring-random"),
    /** The ring the coordinator builds, with {@link TokenAllocator}. */
    RING("ring"),
    /**
     * Range partitioning: {@code vnodes} ranges per node, split at the keys' quantiles, moved whole
     * by the coordinator's {@link RangeAllocator}.
     */
    RANGE("range");

    final String label;

    Strategy(String label) {
      this.label = label;
    }

    @Override
    public String toString() {
      return label;
    }
  }

  /** Spread of the nodes' shares of the keys. */
  record Balance(double maxOverMean, double minOverMean, double stddev, double mean) {
    static Balance of(Map<String, Double> shares) {
      double mean = 1.0 / shares.size();
      double max = 0;
      double min = Double.MAX_VALUE;
      double squares = 0;
      for (double share : shares.values()) {
        max = Math.max(max, share);
        min = Math.min(min, share);
        squares += (share - mean) * (share - mean);
      }
      return new Balance(max / mean, min / mean, Math.sqrt(squares / shares.size()), mean);
    }
  }

  /**
   * The outcome.
   *
   * @param before balance of the keys before the change
   * @param after balance after it, or null if there is no change
   * @param movedFraction fraction of the keys whose owner changed
   * @param idealFraction the least fraction any placement must move: M/(N+M) on adding M nodes, M/N
   *     on removing M
   * @param movedBetweenStayers keys moved from one node that stayed to another that stayed
   * @param exactBefore for rings: balance of the exact shares of the position space
   * @param exactAfter for rings: the same after the change
   * @param exactMovedFraction for rings: the exact fraction of the position space that moved
   */
  record Result(
      Strategy strategy,
      int nodes,
      int vnodes,
      int keys,
      int added,
      int removed,
      Balance before,
      @Nullable Balance after,
      double movedFraction,
      double idealFraction,
      long movedBetweenStayers,
      @Nullable Balance exactBefore,
      @Nullable Balance exactAfter,
      double exactMovedFraction) {
    boolean changes() {
      return added > 0 || removed > 0;
    }
  }

  private Simulation() {}

  /** Places {@code keys} keys on {@code nodes} nodes, then adds or removes nodes (at most one). */
  static Result run(
      Strategy strategy, int nodes, int vnodes, int keys, int add, int remove, long seed) {
    requireArgument(nodes >= 1 && nodes <= 100_000, "--nodes must be 1-100000, got %s", nodes);
    requireArgument(vnodes >= 1 && vnodes <= 1024, "--vnodes must be 1-1024, got %s", vnodes);
    requireArgument(keys >= 1 && keys <= 100_000_000, "--keys must be 1-100000000, got %s", keys);
    requireArgument(add >= 0 && remove >= 0, "--add and --remove must not be negative");
    requireArgument(add == 0 || remove == 0, "give --add or --remove, not both");
    requireArgument(remove < nodes, "--remove must leave at least one node");
    requireArgument(
        add <= 100_000 - nodes, "--add must leave at most 100000 nodes, got %s", (nodes + add));

    List<String> before = names(1, nodes);
    List<String> after = new ArrayList<>(before);
    after.addAll(names(nodes + 1, add));
    after.subList(nodes - remove, nodes).clear();

    byte[][] sample = keys(keys);
    long[] positions = new long[keys];
    for (int i = 0; i < keys; i++) {
      positions[i] = KeyHash.position(sample[i]);
    }
    Layout first = Layout.initial(strategy, before, vnodes, sample, new SplittableRandom(seed));
    Layout second = first.change(after, new SplittableRandom(seed + 1));

    String[] ownersBefore = first.owners(sample, positions);
    String[] ownersAfter = second.owners(sample, positions);
    Set<String> stayers = new HashSet<>(before);
    stayers.retainAll(after);
    long moved = 0;
    long betweenStayers = 0;
    for (int i = 0; i < keys; i++) {
      if (!ownersBefore[i].equals(ownersAfter[i])) {
        moved++;
        if (stayers.contains(ownersBefore[i]) && stayers.contains(ownersAfter[i])) {
          betweenStayers++;
        }
      }
    }
    boolean changes = add > 0 || remove > 0;
    double ideal = add > 0 ? (double) add / (nodes + add) : (double) remove / nodes;
    Balance exactBefore = null;
    Balance exactAfter = null;
    double exactMoved = Double.NaN;
    if (first.ring != null) {
      exactBefore = Balance.of(withEveryNode(first.ring.shares(), before));
      exactAfter = changes ? Balance.of(withEveryNode(second.ring().shares(), after)) : null;
      exactMoved = movedFraction(first.ring, second.ring());
    }
    return new Result(
        strategy,
        nodes,
        vnodes,
        keys,
        add,
        remove,
        Balance.of(shares(ownersBefore, before)),
        changes ? Balance.of(shares(ownersAfter, after)) : null,
        (double) moved / keys,
        changes ? ideal : 0,
        betweenStayers,
        exactBefore,
        exactAfter,
        exactMoved);
  }

  private static List<String> names(int first, int count) {
    List<String> names = new ArrayList<>(count);
    for (int i = first; i < first + count; i++) {
      names.add("node-" + i);
    }
    return names;
  }

  private static byte[][] keys(int count) {
    byte[] prefix = "key".getBytes(StandardCharsets.US_ASCII);
    byte[][] keys = new byte[count][];
    for (int i = 0; i < count; i++) {
      byte[] key = Arrays.copyOf(prefix, prefix.length + 9);
      for (int d = key.length - 1, rest = i; d >= prefix.length; d--, rest /= 10) {
        key[d] = (byte) ('0' + rest % 10);
      }
      keys[i] = key;
    }
    return keys;
  }

  private static Map<String, Double> shares(String[] owners, List<String> nodes) {
    Map<String, Long> counts = new HashMap<>();
    for (String owner : owners) {
      counts.merge(owner, 1L, Long::sum);
    }
    Map<String, Double> shares = new TreeMap<>();
    for (String node : nodes) {
      shares.put(node, (double) counts.getOrDefault(node, 0L) / owners.length);
    }
    return shares;
  }

  private static Map<String, Double> withEveryNode(Map<String, Double> shares, List<String> nodes) {
    Map<String, Double> all = new TreeMap<>();
    nodes.forEach(node -> all.put(node, shares.getOrDefault(node, 0.0)));
    return all;
  }

  /** The fraction of the position space owned by different nodes in the two rings. */
  static double movedFraction(HashRing a, HashRing b) {
    List<Interval> left = a.intervals();
    List<Interval> right = b.intervals();
    double moved = 0;
    int i = 0;
    int j = 0;
    long start = 0;
    while (i < left.size() && j < right.size()) {
      long endLeft = left.get(i).end();
      long endRight = right.get(j).end();
      // The piece [start, end) lies in both left[i] and right[j]; 0 stands for 2^64.
      long end = endLeft == 0 ? endRight : endRight == 0 ? endLeft : unsignedMin(endLeft, endRight);
      if (!left.get(i).owner().equals(right.get(j).owner())) {
        moved += new Interval(start, end, "x").fraction();
      }
      if (end == endLeft) {
        i++;
      }
      if (end == endRight) {
        j++;
      }
      start = end;
      if (end == 0) {
        break;
      }
    }
    return moved;
  }

  private static long unsignedMin(long a, long b) {
    return Long.compareUnsigned(a, b) <= 0 ? a : b;
  }

  /** Where the keys are for one membership: a ring, ranges, or (for mod) just the nodes. */
  private static final class Layout {
    final Strategy strategy;
    final List<String> nodes;
    final int vnodes;
    final @Nullable HashRing ring;
    // A random ring's tokens, each with its node.
    final @Nullable Map<Long, String> tokens;
    final @Nullable RangeMap ranges;

    private Layout(
        Strategy strategy,
        List<String> nodes,
        int vnodes,
        @Nullable HashRing ring,
        @Nullable Map<Long, String> tokens,
        @Nullable RangeMap ranges) {
      this.strategy = strategy;
      this.nodes = List.copyOf(nodes);
      this.vnodes = vnodes;
      this.ring = ring;
      this.tokens = tokens;
      this.ranges = ranges;
    }

    static Layout initial(
        Strategy strategy, List<String> nodes, int vnodes, byte[][] keys, SplittableRandom random) {
      return switch (strategy) {
        case MOD -> new Layout(strategy, nodes, vnodes, null, null, null);
        case RING -> {
          HashRing ring = HashRing.empty();
          for (String node : nodes) {
            ring = TokenAllocator.join(ring, node, vnodes);
          }
          yield new Layout(strategy, nodes, vnodes, ring, null, null);
        }
        case RING_RANDOM -> {
          Map<Long, String> tokens = new TreeMap<>(Long::compareUnsigned);
          nodes.forEach(node -> addTokens(tokens, node, vnodes, random));
          yield new Layout(strategy, nodes, vnodes, ringOf(tokens), tokens, null);
        }
        case RANGE ->
            new Layout(strategy, nodes, vnodes, null, null, quantileRanges(nodes, vnodes, keys));
      };
    }

    /** The ring of a ring strategy. */
    HashRing ring() {
      return requireNonNull(ring, "no ring in a layout of " + strategy);
    }

    /** A random ring's tokens. */
    Map<Long, String> tokens() {
      return requireNonNull(tokens, "no tokens in a layout of " + strategy);
    }

    /** The ranges of the range strategy. */
    RangeMap ranges() {
      return requireNonNull(ranges, "no ranges in a layout of " + strategy);
    }

    /** This layout after the membership becomes {@code next}, moving as the strategy does. */
    Layout change(List<String> next, SplittableRandom random) {
      Set<String> leaving = new HashSet<>(nodes);
      next.forEach(leaving::remove);
      List<String> joining = next.stream().filter(n -> !nodes.contains(n)).toList();
      return switch (strategy) {
        case MOD -> new Layout(strategy, next, vnodes, null, null, null);
        case RING -> {
          HashRing changed = ring();
          for (String node : nodes) {
            if (leaving.contains(node)) {
              changed = TokenAllocator.remove(changed, node);
            }
          }
          for (String node : joining) {
            changed = TokenAllocator.join(changed, node, vnodes);
          }
          yield new Layout(strategy, next, vnodes, changed, null, null);
        }
        case RING_RANDOM -> {
          Map<Long, String> kept = new TreeMap<>(Long::compareUnsigned);
          tokens()
              .forEach(
                  (token, owner) -> {
                    if (!leaving.contains(owner)) {
                      kept.put(token, owner);
                    }
                  });
          joining.forEach(node -> addTokens(kept, node, vnodes, random));
          yield new Layout(strategy, next, vnodes, ringOf(kept), kept, null);
        }
        case RANGE ->
            new Layout(strategy, next, vnodes, null, null, moveRanges(next, leaving, joining));
      };
    }

    /** Each key's owner. */
    String[] owners(byte[][] keys, long[] positions) {
      String[] owners = new String[keys.length];
      String[] byIndex = nodes.toArray(String[]::new);
      for (int i = 0; i < keys.length; i++) {
        owners[i] =
            switch (strategy) {
              case MOD -> byIndex[(int) Long.remainderUnsigned(positions[i], byIndex.length)];
              case RING, RING_RANDOM -> ring().ownerOf(positions[i]);
              case RANGE -> ranges().ownerOf(keys[i]);
            };
      }
      return owners;
    }

    private static void addTokens(
        Map<Long, String> tokens, String node, int vnodes, SplittableRandom random) {
      for (int added = 0; added < vnodes; ) {
        if (tokens.putIfAbsent(random.nextLong(), node) == null) {
          added++;
        }
      }
    }

    /** The ring where each token's node owns the positions from it to the next token. */
    private static HashRing ringOf(Map<Long, String> tokens) {
      List<Long> starts = new ArrayList<>(tokens.keySet());
      List<String> owners = new ArrayList<>(tokens.values());
      if (starts.get(0) != 0) {
        // Positions before the first token wrap around to the last token's node.
        starts.add(0, 0L);
        owners.add(0, owners.get(owners.size() - 1));
      }
      return HashRing.of(starts, owners);
    }

    /** {@code vnodes} ranges per node, cut at the keys' quantiles, dealt out in turn. */
    private static RangeMap quantileRanges(List<String> nodes, int vnodes, byte[][] keys) {
      byte[][] sorted = keys.clone();
      Arrays.sort(sorted, Arrays::compareUnsigned);
      int count = Math.min(nodes.size() * vnodes, sorted.length);
      List<byte[]> starts = new ArrayList<>();
      starts.add(new byte[0]);
      for (int r = 1; r < count; r++) {
        byte[] start = sorted[(int) ((long) r * sorted.length / count)];
        if (Arrays.compareUnsigned(start, starts.get(starts.size() - 1)) > 0) {
          starts.add(start);
        }
      }
      return RangeAllocator.spread(starts, nodes);
    }

    /** Whole ranges move as the coordinator moves them ({@link RangeAllocator}). */
    private RangeMap moveRanges(List<String> next, Set<String> leaving, List<String> joining) {
      RangeMap moved = ranges();
      for (String node : nodes) {
        if (leaving.contains(node)) {
          List<String> receivers = next.stream().filter(n -> !joining.contains(n)).toList();
          for (var given : RangeAllocator.leave(moved, node, receivers).entrySet()) {
            for (int index : given.getValue()) {
              moved = moved.assign(index, given.getKey());
            }
          }
        }
      }
      for (String node : joining) {
        for (var taken : RangeAllocator.join(moved, node).entrySet()) {
          for (int index : taken.getValue()) {
            moved = moved.assign(index, node);
          }
        }
      }
      return moved;
    }
  }
}
