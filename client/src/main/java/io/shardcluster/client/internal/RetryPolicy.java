package io.shardcluster.client.internal;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * When and how soon a failed request is tried again. Wrong-shard and not-leader answers are retried
 * after a routing refresh (or at once at the leader a not-leader answer names) until the attempts
 * or the deadline run out; an unreachable node is retried a few times (its keys may have moved) and
 * then reported; every other error is final.
 *
 * @param maxAttempts attempts in all, first included
 * @param unavailableRetries retries of a node that cannot be reached
 * @param initialBackoff wait before the second attempt; doubles each time
 * @param maxBackoff longest wait between attempts
 */
public record RetryPolicy(
    int maxAttempts, int unavailableRetries, Duration initialBackoff, Duration maxBackoff) {
  /**
   * The default: 40 attempts (in practice the request timeout ends them first), 2 retries of an
   * unreachable node, 5 ms doubling to 100 ms. A cutover fences keys for tens to hundreds of
   * milliseconds; a short cap means a request waits at most about 100 ms longer than the fence.
   */
  public static final RetryPolicy DEFAULT =
      new RetryPolicy(40, 2, Duration.ofMillis(5), Duration.ofMillis(100));

  public RetryPolicy {
    requireArgument(maxAttempts >= 1, "maxAttempts must be at least 1, got %s", maxAttempts);
    requireArgument(
        unavailableRetries >= 0,
        "unavailableRetries must not be negative, got %s",
        unavailableRetries);
    requireArgument(!initialBackoff.isNegative(), "initialBackoff must not be negative");
    requireArgument(
        maxBackoff.compareTo(initialBackoff) >= 0, "maxBackoff must be >= initialBackoff");
  }

  /**
   * Whether a request that failed with the error on attempt {@code attempt} (0-based) may retry.
   */
  public boolean shouldRetry(ShardClusterException error, int attempt) {
    return shouldRetry(error, attempt, false);
  }

  /**
   * As above, for a request to a node that is a replica group ({@code replicaGroup}): an
   * unreachable one is retried like a wrong shard (its group elects a new leader, and the routing
   * table follows within seconds), until the attempts or the request's deadline run out.
   */
  public boolean shouldRetry(ShardClusterException error, int attempt, boolean replicaGroup) {
    if (attempt + 1 >= maxAttempts) {
      return false;
    }
    if (replicaGroup && error.code() == ErrorCode.UNAVAILABLE) {
      return true;
    }
    if (error.code() == ErrorCode.WRONG_SHARD || error.code() == ErrorCode.NOT_LEADER) {
      return true;
    }
    return error.code() == ErrorCode.UNAVAILABLE && attempt < unavailableRetries;
  }

  /** How long to wait before attempt {@code attempt + 1}: exponential, with full jitter on half. */
  public long backoffMillis(int attempt) {
    long base = initialBackoff.toMillis() << Math.min(attempt, 20);
    long capped = Math.min(base, maxBackoff.toMillis());
    long half = capped / 2;
    return half + (half > 0 ? ThreadLocalRandom.current().nextLong(half + 1) : 0);
  }
}
