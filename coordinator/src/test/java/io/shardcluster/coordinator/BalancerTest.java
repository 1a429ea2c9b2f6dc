package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RangeMap;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class BalancerTest {
  private static LoadPlanner.Plan plan(double... loads) {
    Map<String, Double> before = new LinkedHashMap<>();
    for (int i = 0; i < loads.length; i++) {
      before.put("n" + (i + 1), loads[i]);
    }
    LoadPlanner.Move move =
        new LoadPlanner.Move("n1", "n2", new MovingSet("default", List.of(), List.of()), 1);
    return new LoadPlanner.Plan(List.of(move), before, before);
  }

  @Test
  void worthBalancing_needsTheThreshold_andAnExcessWorthAMove() {
    // One node with the only key of a new cluster: 3x the mean, but one key.
    assertThat(Balancer.worthBalancing(plan(1, 0, 0), 0.2, "keys")).isFalse();
    assertThat(Balancer.worthBalancing(plan(1_400, 0, 0), 0.2, "keys")).isFalse();
    assertThat(Balancer.worthBalancing(plan(1_600, 0, 0), 0.2, "keys")).isTrue();
    // Within the threshold however large.
    assertThat(Balancer.worthBalancing(plan(115_000, 100_000, 85_000), 0.2, "keys")).isFalse();
    assertThat(Balancer.worthBalancing(plan(130_000, 100_000, 70_000), 0.2, "keys")).isTrue();
    // Ops/s have their own floor.
    assertThat(Balancer.worthBalancing(plan(120, 0, 0), 0.2, "ops")).isFalse();
    assertThat(Balancer.worthBalancing(plan(600, 0, 0), 0.2, "ops")).isTrue();
    assertThat(
            Balancer.worthBalancing(
                new LoadPlanner.Plan(List.of(), plan(1_600, 0, 0).before(), Map.of()), 0.2, "keys"))
        .isFalse();
  }

  private static final List<String> UP = List.of("n1", "n2", "n3");

  /** Ranges starting at "", "r05000", "r10000", "r15000", ..., owned in that order. */
  private static RangeMap ranges(String... owners) {
    List<byte[]> starts = new ArrayList<>();
    for (int i = 0; i < owners.length; i++) {
      starts.add(
          i == 0 ? new byte[0] : String.format("r%05d", i * 5000).getBytes(StandardCharsets.UTF_8));
    }
    return RangeMap.of(starts, List.of(owners));
  }

  @Test
  void rangeToSpread_movesARangeThatLeavesTheReceiverWithinTheThreshold() {
    // n1 holds 3 small ranges (1,500 keys against a mean of 1,000): one moves to n3, the fewest.
    RangeMap ranges = ranges("n1", "n1", "n1", "n2", "n3");
    long[] sizes = {500, 500, 500, 1_000, 500};
    Optional<Balancer.RangeMove> move = Balancer.rangeToSpread(ranges, sizes, UP, 0.2);
    assertThat(move).isPresent();
    assertThat(move.get().from()).isEqualTo("n1");
    assertThat(move.get().to()).isEqualTo("n3");
    assertThat(Balancer.rangeToSplit(ranges, sizes, UP, 0.2, 100)).isEmpty();
    // Within the threshold: nothing to do.
    assertThat(Balancer.rangeToSpread(ranges, new long[] {300, 300, 300, 1_000, 900}, UP, 0.2))
        .isEmpty();
  }

  @Test
  void rangeToSpread_neverOnlySwapsWhichNodeIsOver_itSplitsInstead() {
    // Four ranges of about 5,000 keys on three nodes: n2 holds two. Moving one to n1 or n3 would
    // put that node at about 10,000: the next look would move one back, and so on (it did).
    RangeMap ranges = ranges("n1", "n2", "n2", "n3");
    long[] sizes = {4_719, 4_784, 5_000, 5_000};
    assertThat(Balancer.rangeToSpread(ranges, sizes, UP, 0.2)).isEmpty();
    // Its largest range is split instead; its halves can move.
    assertThat(Balancer.rangeToSplit(ranges, sizes, UP, 0.2, 1_000)).isEqualTo(OptionalInt.of(2));
    RangeMap split = ranges.split("r12500".getBytes(StandardCharsets.UTF_8));
    Optional<Balancer.RangeMove> move =
        Balancer.rangeToSpread(split, new long[] {4_719, 4_784, 2_500, 2_500, 5_000}, UP, 0.2);
    assertThat(move).isPresent();
    assertThat(move.get().from()).isEqualTo("n2");
    assertThat(move.get().to()).isEqualTo("n1");
    // An excess too small to be worth a split is left alone.
    assertThat(Balancer.rangeToSplit(ranges, new long[] {47, 48, 50, 50}, UP, 0.2, 1_000))
        .isEmpty();
  }
}
