package io.shardcluster.shardctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.routing.TokenAllocator;
import io.shardcluster.shardctl.Simulation.Result;
import io.shardcluster.shardctl.Simulation.Strategy;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SimulationTest {
  private static final int VNODES = TokenAllocator.DEFAULT_VNODES;

  @ParameterizedTest
  @ValueSource(ints = {3, 10, 100, 1000})
  void ring_isBalancedWithinFivePercent_andAJoinMovesOnlyItsShareToTheNewNode(int nodes) {
    Result result = Simulation.run(Strategy.RING, nodes, VNODES, 100_000, 1, 0, 1);

    assertThat(result.exactBefore().maxOverMean()).isLessThanOrEqualTo(1.05);
    assertThat(result.exactAfter().maxOverMean()).isLessThanOrEqualTo(1.05);
    double ideal = 1.0 / (nodes + 1);
    assertThat(result.idealFraction()).isEqualTo(ideal);
    assertThat(result.exactMovedFraction()).isLessThanOrEqualTo(1.05 * ideal);
    assertThat(result.movedBetweenStayers()).isZero();
  }

  @ParameterizedTest
  @ValueSource(ints = {3, 10, 100})
  void ring_removingANodeMovesOnlyThatNodesKeys(int nodes) {
    Result result = Simulation.run(Strategy.RING, nodes, VNODES, 100_000, 0, 1, 1);

    assertThat(result.movedBetweenStayers()).isZero();
    // Every key of the removed node moves (it is gone), and nothing else does.
    assertThat(result.exactMovedFraction())
        .isCloseTo(1.0 / nodes, org.assertj.core.data.Offset.offset(0.03 / nodes));
    assertThat(result.exactAfter().maxOverMean()).isLessThanOrEqualTo(1.05);
  }

  @Test
  void ringRandom_withThreeTokensPerNode_isFarFromBalancedAtTenNodes() {
    double mean =
        LongStream.rangeClosed(1, 20)
            .mapToDouble(
                seed ->
                    Simulation.run(Strategy.RING_RANDOM, 10, 3, 1_000, 0, 0, seed)
                        .exactBefore()
                        .maxOverMean())
            .average()
            .orElseThrow();

    assertThat(mean).isBetween(1.5, 2.2);
  }

  @Test
  void mod_movesMostKeysWhenANodeIsAdded() {
    Result result = Simulation.run(Strategy.MOD, 10, VNODES, 100_000, 1, 0, 1);

    assertThat(result.movedFraction()).isBetween(10.0 / 11 - 0.01, 10.0 / 11 + 0.01);
    assertThat(result.movedBetweenStayers()).isGreaterThan(0);
    assertThat(result.exactBefore()).isNull();
  }

  @Test
  void range_splitsAtQuantiles_andMovesWholeRangesOnlyToTheNewNode() {
    Result result = Simulation.run(Strategy.RANGE, 10, VNODES, 100_000, 1, 0, 1);

    assertThat(result.before().maxOverMean()).isLessThanOrEqualTo(1.01);
    assertThat(result.after().maxOverMean()).isLessThanOrEqualTo(1.1);
    assertThat(result.movedBetweenStayers()).isZero();
    assertThat(result.movedFraction()).isBetween(1.0 / 11 * 0.9, 1.0 / 11 * 1.1);
  }

  @Test
  void range_removingANodeSpreadsItsRangesOverTheRest() {
    Result result = Simulation.run(Strategy.RANGE, 10, VNODES, 100_000, 0, 1, 1);

    assertThat(result.movedBetweenStayers()).isZero();
    assertThat(result.movedFraction()).isCloseTo(0.1, org.assertj.core.data.Offset.offset(0.005));
    assertThat(result.after().maxOverMean()).isLessThanOrEqualTo(1.1);
  }

  @Test
  void badInput_isRefused() {
    assertThatThrownBy(() -> Simulation.run(Strategy.RING, 3, VNODES, 1000, 1, 1, 1))
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining("not both");
    assertThatThrownBy(() -> Simulation.run(Strategy.RING, 3, VNODES, 1000, 0, 3, 1))
        .hasMessageContaining("at least one node");
    assertThatThrownBy(() -> Simulation.run(Strategy.RING, 0, VNODES, 1000, 0, 0, 1))
        .hasMessageContaining("--nodes");
  }
}
