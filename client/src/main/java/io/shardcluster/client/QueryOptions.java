package io.shardcluster.client;

import io.shardcluster.errors.ShardClusterException;
import java.time.Duration;

/**
 * How a query runs.
 *
 * @param allowPartial return the rows of the nodes that answered (and name the others) instead of
 *     failing when a node does not answer
 * @param shardTimeout how long each node may take to answer
 */
public record QueryOptions(boolean allowPartial, Duration shardTimeout) {
  /** Fail on a missing node; 30 seconds per node. */
  public static final QueryOptions DEFAULTS = new QueryOptions(false, Duration.ofSeconds(30));

  public QueryOptions {
    ShardClusterException.requireArgument(
        shardTimeout != null && !shardTimeout.isNegative() && !shardTimeout.isZero(),
        "the per-node timeout must be positive");
  }

  /** These options, returning partial results or not. */
  public QueryOptions withAllowPartial(boolean allow) {
    return new QueryOptions(allow, shardTimeout);
  }

  /** These options with another per-node timeout. */
  public QueryOptions withShardTimeout(Duration timeout) {
    return new QueryOptions(allowPartial, timeout);
  }
}
