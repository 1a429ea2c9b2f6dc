package io.shardcluster.client;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What a rebalance would do (or did): the moves, and each node's load before and after.
 *
 * @param metric the load evened out: {@code keys} or {@code ops}
 * @param maxOverMeanBefore the largest node load over the mean, now
 * @param maxOverMeanAfter the same, predicted after the moves
 * @param moves the planned moves
 * @param loadBefore load per node now
 * @param loadAfter predicted load per node after the moves
 * @param started ids of the migrations started; empty for a dry run
 * @param balancer the automatic balancer's settings and what it makes of the load now
 */
public record RebalancePlan(
    String metric,
    double maxOverMeanBefore,
    double maxOverMeanAfter,
    List<Move> moves,
    Map<String, Double> loadBefore,
    Map<String, Double> loadAfter,
    List<String> started,
    Balancer balancer) {
  /**
   * One planned move.
   *
   * @param source the node giving load
   * @param target the node taking it
   * @param what the keys: ring ranges and directory entries
   * @param load the load it carries
   */
  public record Move(String source, String target, String what, double load) {}

  /**
   * The coordinator's automatic balancer.
   *
   * @param enabled whether it runs (the coordinator's {@code --balancer})
   * @param threshold it acts when max/mean load exceeds {@code 1 + threshold} ...
   * @param window ... for this long
   * @param overThreshold whether the load is over the threshold now, by enough to act on (1,000
   *     keys or 100 ops/s above the mean), with a move that evens it out
   * @param loadsCurrent whether the loads are current: false while a node's key count predates the
   *     last ownership change (nodes count again within seconds)
   */
  public record Balancer(
      boolean enabled,
      double threshold,
      Duration window,
      boolean overThreshold,
      boolean loadsCurrent) {}
}
