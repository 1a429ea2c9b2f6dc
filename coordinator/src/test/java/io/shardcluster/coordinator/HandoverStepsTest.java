package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.routing.PositionRange;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HandoverStepsTest {
  private static double share(List<PositionRange> ranges) {
    return ranges.stream().mapToDouble(PositionRange::fraction).sum();
  }

  /** Every position of the input is in exactly one step, and in no step outside the input. */
  private static void assertSameCover(List<PositionRange> ranges, List<List<PositionRange>> steps) {
    SplittableRandom random = new SplittableRandom(1);
    for (int i = 0; i < 20_000; i++) {
      long position = random.nextLong();
      boolean inInput = ranges.stream().anyMatch(r -> r.contains(position));
      long inSteps = steps.stream().flatMap(List::stream).filter(r -> r.contains(position)).count();
      assertThat(inSteps).as("position %x", position).isEqualTo(inInput ? 1 : 0);
    }
    assertThat(steps.stream().mapToDouble(HandoverStepsTest::share).sum())
        .isCloseTo(share(ranges), org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void manyRanges_areDealtIntoStepsOfAboutEqualShare() {
    List<PositionRange> ranges = new java.util.ArrayList<>();
    long step = Long.divideUnsigned(-1L, 40);
    for (int i = 0; i < 40; i += 3) {
      ranges.add(new PositionRange(step * i, step * i + step / (1 + i % 4)));
    }
    List<List<PositionRange>> steps = HandoverSteps.split(ranges, 4);
    assertThat(steps).hasSize(4);
    assertSameCover(ranges, steps);
    double mean = share(ranges) / 4;
    steps.forEach(s -> assertThat(share(s)).isBetween(mean * 0.4, mean * 1.8));
  }

  @Test
  void fewerRangesThanSteps_areHalved_includingOneThatEndsAtTheEndOfTheSpace() {
    List<PositionRange> ranges =
        List.of(new PositionRange(0xC000_0000_0000_0000L, 0), new PositionRange(16, 1 << 20));
    List<List<PositionRange>> steps = HandoverSteps.split(ranges, 4);
    assertThat(steps).hasSize(4);
    assertSameCover(ranges, steps);
  }

  @Test
  void theWholeSpace_andOneStep() {
    List<PositionRange> whole = List.of(new PositionRange(0, 0));
    assertSameCover(whole, HandoverSteps.split(whole, 3));
    assertThat(HandoverSteps.split(whole, 3)).hasSize(3);
    assertThat(HandoverSteps.split(whole, 1)).containsExactly(whole);
  }
}
