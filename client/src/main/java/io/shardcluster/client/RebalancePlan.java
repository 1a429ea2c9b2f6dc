package io.shardcluster.client;

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
 */
public record RebalancePlan(
    String metric,
    double maxOverMeanBefore,
    double maxOverMeanAfter,
    List<Move> moves,
    Map<String, Double> loadBefore,
    Map<String, Double> loadAfter,
    List<String> started) {
  /**
   * One planned move.
   *
   * @param source the node giving load
   * @param target the node taking it
   * @param what the keys: ring ranges and directory entries
   * @param load the load it carries
   */
  public record Move(String source, String target, String what, double load) {}
}
