package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TokenAllocatorTest {
  private static final int VNODES = TokenAllocator.DEFAULT_VNODES;

  private static HashRing grow(int nodes) {
    HashRing ring = HashRing.empty();
    for (int i = 1; i <= nodes; i++) {
      ring = TokenAllocator.join(ring, "n" + i, VNODES);
    }
    return ring;
  }

  private static double maxOverMean(HashRing ring) {
    Map<String, Double> shares = ring.shares();
    return Collections.max(shares.values()) * shares.size();
  }

  @ParameterizedTest
  @ValueSource(ints = {3, 10, 100, 1000})
  void join_defaultVnodes_keepsMaxOverMeanWithinFivePercent(int nodes) {
    HashRing ring = grow(nodes);
    assertThat(ring.shares()).hasSize(nodes);
    assertThat(maxOverMean(ring)).isLessThanOrEqualTo(1.05);
    assertThat(ring.shares().values().stream().mapToDouble(Double::doubleValue).sum())
        .isCloseTo(1.0, within(1e-9));
  }

  @Test
  void join_everyStepFromOneToHundred_staysBalanced() {
    HashRing ring = HashRing.empty();
    for (int i = 1; i <= 100; i++) {
      ring = TokenAllocator.join(ring, "n" + i, VNODES);
      assertThat(maxOverMean(ring)).as("after %d nodes", i).isLessThanOrEqualTo(1.05);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 9, 50})
  void join_movesExactlyOneOverNPlusOne_allToTheNewNode(int before) {
    HashRing ring = grow(before);
    HashRing after = TokenAllocator.join(ring, "new", VNODES);

    SplittableRandom random = new SplittableRandom(before);
    int samples = 200_000;
    int moved = 0;
    for (int i = 0; i < samples; i++) {
      long position = random.nextLong();
      String was = ring.ownerOf(position);
      String now = after.ownerOf(position);
      if (!was.equals(now)) {
        assertThat(now).isEqualTo("new");
        moved++;
      }
    }
    assertThat(after.shares().get("new")).isCloseTo(1.0 / (before + 1), within(1e-9));
    assertThat((double) moved / samples)
        .isCloseTo(1.0 / (before + 1), org.assertj.core.data.Offset.offset(0.01));
  }

  @Test
  void join_firstNode_ownsEverything() {
    HashRing ring = TokenAllocator.join(HashRing.empty(), "n1", VNODES);
    assertThat(ring.intervals()).hasSize(1);
    assertThat(ring.ownerOf(-1L)).isEqualTo("n1");
  }

  @Test
  void join_intervalCount_staysProportionalToNodesTimesVnodes() {
    HashRing ring = grow(100);
    assertThat(ring.intervals().size()).isLessThanOrEqualTo(100 * 2 * VNODES);
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 10, 50})
  void remove_movesOnlyTheLeavingNodesPositions_andKeepsBalance(int nodes) {
    HashRing ring = grow(nodes);
    HashRing after = TokenAllocator.remove(ring, "n1");

    assertThat(after.shares()).doesNotContainKey("n1").hasSize(nodes - 1);
    SplittableRandom random = new SplittableRandom(nodes);
    for (int i = 0; i < 100_000; i++) {
      long position = random.nextLong();
      if (!ring.ownerOf(position).equals("n1")) {
        assertThat(after.ownerOf(position)).isEqualTo(ring.ownerOf(position));
      }
    }
    assertThat(maxOverMean(after)).isLessThanOrEqualTo(1.05);
  }

  @Test
  void remove_toSomeTakers_givesTheLeavingNodesPositionsOnlyToThem_evenly() {
    HashRing ring = grow(5);
    HashRing after = TokenAllocator.remove(ring, "n1", List.of("n2", "n3"));

    assertThat(after.shares()).doesNotContainKey("n1");
    assertThat(after.shares().get("n4")).isEqualTo(ring.shares().get("n4"));
    assertThat(after.shares().get("n5")).isEqualTo(ring.shares().get("n5"));
    SplittableRandom random = new SplittableRandom(5);
    for (int i = 0; i < 100_000; i++) {
      long position = random.nextLong();
      String before = ring.ownerOf(position);
      assertThat(after.ownerOf(position))
          .isIn(before.equals("n1") ? List.of("n2", "n3") : List.of(before));
    }
    double n2 = after.shares().get("n2");
    double n3 = after.shares().get("n3");
    assertThat(n2 + n3)
        .isCloseTo(
            ring.shares().get("n1") + ring.shares().get("n2") + ring.shares().get("n3"),
            within(1e-9));
    assertThat(Math.abs(n2 - n3)).isLessThan(0.01);
    assertThatThrownBy(() -> TokenAllocator.remove(ring, "n1", List.of("n1")))
        .hasMessageContaining("last one");
  }

  @Test
  void remove_lastNode_isFailedPrecondition() {
    HashRing ring = grow(1);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> TokenAllocator.remove(ring, "n1"))
        .hasMessageContaining("last one");
  }

  @Test
  void take_returnsRangesOfTheNodeCoveringTheFraction() {
    HashRing ring = grow(4);
    List<PositionRange> taken = TokenAllocator.take(ring, "n2", 0.1);
    assertThat(taken.stream().mapToDouble(PositionRange::fraction).sum())
        .isCloseTo(0.1, within(1e-9));
    for (var range : taken) {
      assertThat(ring.ownerOf(range.start())).isEqualTo("n2");
    }
  }

  @Test
  void waterLevel_levelsTheLargestShares() {
    assertThat(TokenAllocator.waterLevel(List.of(0.5, 0.3, 0.2), 0.25))
        .isCloseTo(0.275, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(TokenAllocator.waterLevel(List.of(0.5, 0.5), 0.5))
        .isCloseTo(0.25, org.assertj.core.data.Offset.offset(1e-12));
  }
}
