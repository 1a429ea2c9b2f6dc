package io.shardcluster.routing;

import static io.shardcluster.errors.ShardClusterException.requireArgument;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Places the ranges of a range keyspace on nodes, whole ranges at a time, by count: a new
 * keyspace's ranges are dealt out in turn, a joining node takes ranges from the nodes with the most
 * until it has its share, and a leaving node's ranges go to the nodes with the fewest. Only the
 * node that joins or leaves gains or loses ranges. Balance by keys comes from splitting ranges (at
 * their median) so that they hold similar numbers of keys.
 */
public final class RangeAllocator {
  private RangeAllocator() {}

  /** Ranges starting at {@code starts} (the first one empty), dealt out to the nodes in turn. */
  public static RangeMap spread(List<byte[]> starts, List<String> nodes) {
    requireArgument(!nodes.isEmpty(), "no node to place the ranges on");
    List<String> owners = new ArrayList<>();
    for (int i = 0; i < starts.size(); i++) {
      owners.add(nodes.get(i % nodes.size()));
    }
    return RangeMap.of(starts, owners);
  }

  /**
   * The ranges {@code node} takes on joining, by donor: from the nodes with the most ranges, until
   * it holds its share (the count rounded down; none if there are fewer ranges than nodes).
   */
  public static Map<String, List<Integer>> join(RangeMap ranges, String node) {
    Map<String, List<Integer>> held = byOwner(ranges);
    requireArgument(!held.containsKey(node), "node %s already owns ranges", node);
    int share = ranges.size() / (held.size() + 1);
    Map<String, List<Integer>> taken = new TreeMap<>();
    for (int i = 0; i < share; i++) {
      String donor =
          held.keySet().stream()
              .max(
                  Comparator.comparing((String n) -> requireNonNull(held.get(n)).size())
                      .thenComparing(Comparator.reverseOrder()))
              .orElseThrow();
      List<Integer> donorRanges = requireNonNull(held.get(donor));
      int index = donorRanges.remove(donorRanges.size() - 1);
      taken.computeIfAbsent(donor, d -> new ArrayList<>()).add(index);
    }
    return taken;
  }

  /** Where {@code node}'s ranges go when it leaves, by receiver: each to the one with fewest. */
  public static Map<String, List<Integer>> leave(
      RangeMap ranges, String node, List<String> receivers) {
    requireArgument(!receivers.isEmpty(), "no node to take the ranges of %s", node);
    Map<String, List<Integer>> held = byOwner(ranges);
    Map<String, Integer> counts = new LinkedHashMap<>();
    receivers.forEach(r -> counts.put(r, held.getOrDefault(r, List.of()).size()));
    Map<String, List<Integer>> given = new TreeMap<>();
    for (int index : held.getOrDefault(node, List.of())) {
      String receiver =
          counts.keySet().stream()
              .min(Comparator.comparing((String r) -> counts.get(r)).thenComparing(r -> r))
              .orElseThrow();
      counts.merge(receiver, 1, Integer::sum);
      given.computeIfAbsent(receiver, r -> new ArrayList<>()).add(index);
    }
    return given;
  }

  private static Map<String, List<Integer>> byOwner(RangeMap ranges) {
    Map<String, List<Integer>> held = new TreeMap<>();
    for (int i = 0; i < ranges.size(); i++) {
      held.computeIfAbsent(ranges.owner(i), o -> new ArrayList<>()).add(i);
    }
    return held;
  }
}
