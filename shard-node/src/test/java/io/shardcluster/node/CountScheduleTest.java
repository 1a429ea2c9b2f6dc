package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class CountScheduleTest {
  private static final long SECOND = 1_000_000_000L;
  private final CountSchedule schedule =
      new CountSchedule(Duration.ofSeconds(10), Duration.ofSeconds(3));

  /** A count at the epoch and sequence, from {@code at} lasting {@code took} seconds. */
  private void count(long at, long took, long epoch, long sequence) {
    assertThat(schedule.due(at * SECOND, epoch, sequence)).isTrue();
    schedule.counted(epoch, sequence, at * SECOND, (at + took) * SECOND);
  }

  @Test
  void stale_untilCounted_andAgainAfterAWriteOrAnOwnershipChange() {
    assertThat(schedule.stale(5, 100)).isTrue();
    count(0, 1, 5, 100);
    assertThat(schedule.stale(5, 100)).isFalse();
    assertThat(schedule.stale(5, 101)).as("written since").isTrue();
    assertThat(schedule.stale(6, 100)).as("ownership changed since").isTrue();
  }

  @Test
  void firstCount_isDueAtOnce() {
    assertThat(schedule.due(0, 5, 100)).isTrue();
  }

  @Test
  void nothingWritten_sameOwnership_neverCountsAgain() {
    count(0, 1, 5, 100);
    for (long at = 1; at < 1000; at += 7) {
      assertThat(schedule.due(at * SECOND, 5, 100)).isFalse();
    }
  }

  @Test
  void writes_countAgainAfterTheInterval() {
    count(0, 0, 5, 100);
    assertThat(schedule.due(9 * SECOND, 5, 101)).isFalse();
    assertThat(schedule.due(10 * SECOND, 5, 101)).isTrue();
  }

  @Test
  void aLongCount_isSpacedOut_soCountingStaysASmallShareOfACore() {
    count(0, 2, 5, 100); // ended at 2 s: the next periodic count not before 2 + 20 * 2 = 42 s
    assertThat(schedule.due(10 * SECOND, 5, 200)).isFalse();
    assertThat(schedule.due(41 * SECOND, 5, 200)).isFalse();
    assertThat(schedule.due(42 * SECOND, 5, 200)).isTrue();
  }

  @Test
  void ownershipChange_countsOnceSettled_evenWithoutWritesOrTheInterval() {
    count(0, 2, 5, 100);
    assertThat(schedule.due(20 * SECOND, 6, 100)).isFalse(); // the new epoch is seen at 20 s
    assertThat(schedule.due(22 * SECOND, 6, 100)).isFalse();
    assertThat(schedule.due(23 * SECOND, 6, 100)).isTrue();
    schedule.counted(6, 100, 23 * SECOND, 25 * SECOND);
    assertThat(schedule.due(30 * SECOND, 6, 100)).isFalse();
  }

  @Test
  void aFailedCount_isTriedAgain() {
    count(0, 0, 5, 100);
    assertThat(schedule.due(10 * SECOND, 5, 101)).isTrue();
    // No counted(...) call: the count failed.
    assertThat(schedule.due(11 * SECOND, 5, 101)).isTrue();
  }
}
