package io.shardcluster.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
  private final RetryPolicy policy =
      new RetryPolicy(5, 2, Duration.ofMillis(10), Duration.ofMillis(100));

  @Test
  void shouldRetry_wrongShard_untilAttemptsRunOut() {
    WrongShardException wrong = new WrongShardException(3, "n1", "n2", "h:2");
    assertThat(policy.shouldRetry(wrong, 0)).isTrue();
    assertThat(policy.shouldRetry(wrong, 3)).isTrue();
    assertThat(policy.shouldRetry(wrong, 4)).isFalse();
  }

  @Test
  void shouldRetry_unavailable_onlyAFewTimes() {
    ShardClusterException down = ShardClusterException.unavailable("down");
    assertThat(policy.shouldRetry(down, 0)).isTrue();
    assertThat(policy.shouldRetry(down, 1)).isTrue();
    assertThat(policy.shouldRetry(down, 2)).isFalse();
  }

  @Test
  void unavailableReplicaGroup_isRetriedUntilTheAttemptsRunOut() {
    ShardClusterException down = ShardClusterException.unavailable("down");
    assertThat(policy.shouldRetry(down, 3, true)).isTrue();
    assertThat(policy.shouldRetry(down, 3, false)).isFalse();
    assertThat(policy.shouldRetry(down, 4, true)).isFalse();
  }

  @Test
  void shouldRetry_otherErrors_never() {
    assertThat(policy.shouldRetry(ShardClusterException.invalidArgument("bad"), 0)).isFalse();
    assertThat(
            policy.shouldRetry(new ShardClusterException(ErrorCode.DEADLINE_EXCEEDED, "slow"), 0))
        .isFalse();
  }

  @Test
  void backoff_growsAndIsCapped() {
    for (int attempt = 0; attempt < 30; attempt++) {
      long backoff = policy.backoffMillis(attempt);
      long base = Math.min(100, 10L << Math.min(attempt, 20));
      assertThat(backoff).isBetween(base / 2, base);
    }
  }
}
