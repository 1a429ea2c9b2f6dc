package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.routing.MovingSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoadBalancerTest {
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
    assertThat(LoadBalancer.worthBalancing(plan(1, 0, 0), 0.2, "keys")).isFalse();
    assertThat(LoadBalancer.worthBalancing(plan(1_400, 0, 0), 0.2, "keys")).isFalse();
    assertThat(LoadBalancer.worthBalancing(plan(1_600, 0, 0), 0.2, "keys")).isTrue();
    // Within the threshold however large.
    assertThat(LoadBalancer.worthBalancing(plan(115_000, 100_000, 85_000), 0.2, "keys")).isFalse();
    assertThat(LoadBalancer.worthBalancing(plan(130_000, 100_000, 70_000), 0.2, "keys")).isTrue();
    // Ops/s have their own floor.
    assertThat(LoadBalancer.worthBalancing(plan(120, 0, 0), 0.2, "ops")).isFalse();
    assertThat(LoadBalancer.worthBalancing(plan(600, 0, 0), 0.2, "ops")).isTrue();
    assertThat(
            LoadBalancer.worthBalancing(
                new LoadPlanner.Plan(List.of(), plan(1_600, 0, 0).before(), Map.of()), 0.2, "keys"))
        .isFalse();
  }
}
