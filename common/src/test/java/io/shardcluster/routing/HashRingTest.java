package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class HashRingTest {
  private static final long HALF = Long.MIN_VALUE; // 0x8000... as unsigned

  private final HashRing ring =
      HashRing.of(
          List.of(0L, 0x4000_0000_0000_0000L, HALF, 0xC000_0000_0000_0000L),
          List.of("a", "b", "c", "d"));

  @Test
  void ownerOf_positionsAtAndBetweenBoundaries_resolveToIntervalStartOwner() {
    assertThat(ring.ownerOf(0)).isEqualTo("a");
    assertThat(ring.ownerOf(0x3FFF_FFFF_FFFF_FFFFL)).isEqualTo("a");
    assertThat(ring.ownerOf(0x4000_0000_0000_0000L)).isEqualTo("b");
    assertThat(ring.ownerOf(HALF - 1)).isEqualTo("b");
    assertThat(ring.ownerOf(HALF)).isEqualTo("c");
    assertThat(ring.ownerOf(0xC000_0000_0000_0000L)).isEqualTo("d");
    assertThat(ring.ownerOf(-1L)).isEqualTo("d");
  }

  @Test
  void ownerOf_agreesWithLinearScan_forRandomPositions() {
    SplittableRandom random = new SplittableRandom(7);
    for (int i = 0; i < 10_000; i++) {
      long position = random.nextLong();
      String expected =
          ring.intervals().stream()
              .filter(iv -> iv.contains(position))
              .findFirst()
              .orElseThrow()
              .owner();
      assertThat(ring.ownerOf(position)).isEqualTo(expected);
    }
  }

  @Test
  void of_adjacentSameOwner_mergesIntervals() {
    HashRing merged = HashRing.of(List.of(0L, 10L, 20L), List.of("a", "a", "b"));
    assertThat(merged.intervals())
        .containsExactly(new Interval(0, 20, "a"), new Interval(20, 0, "b"));
  }

  @Test
  void shares_sumToOne_andReflectSizes() {
    assertThat(ring.shares()).containsEntry("a", 0.25).containsEntry("d", 0.25);
    assertThat(HashRing.of(List.of(0L), List.of("x")).shares()).containsEntry("x", 1.0);
  }

  @Test
  void of_firstStartNotZero_isInvalidArgument() {
    assertThatThrownBy(() -> HashRing.of(List.of(5L), List.of("a")))
        .isInstanceOf(ShardClusterException.class)
        .extracting(e -> ((ShardClusterException) e).code())
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
  }

  @Test
  void of_unsortedStarts_isInvalidArgument() {
    assertThatThrownBy(() -> HashRing.of(List.of(0L, HALF, 10L), List.of("a", "b", "c")))
        .hasMessageContaining("strictly increasing");
  }

  @Test
  void ownerOf_emptyRing_isNull() {
    assertThat(HashRing.empty().ownerOf(42)).isNull();
  }

  @org.junit.jupiter.api.RepeatedTest(20)
  void ownerOf_agreesWithAScanOfTheIntervals_alsoWhenManyTinyIntervalsShareABucket(
      org.junit.jupiter.api.RepetitionInfo repetition) {
    SplittableRandom random = new SplittableRandom(repetition.getCurrentRepetition());
    TreeSet<Long> starts = new TreeSet<>(Long::compareUnsigned);
    starts.add(0L);
    int count = 1 + random.nextInt(2000);
    long cluster = random.nextLong();
    while (starts.size() < count) {
      // Half spread over the ring, half packed next to each other.
      starts.add(random.nextBoolean() ? random.nextLong() : cluster + random.nextInt(5000));
    }
    List<Long> sorted = new ArrayList<>(starts);
    List<String> owners = new ArrayList<>();
    for (int i = 0; i < sorted.size(); i++) {
      owners.add("n" + i);
    }
    HashRing ring = HashRing.of(sorted, owners);
    for (int probe = 0; probe < 5000; probe++) {
      long position =
          probe % 2 == 0
              ? random.nextLong()
              : sorted.get(random.nextInt(sorted.size())) + random.nextInt(3) - 1;
      String expected = null;
      for (Interval interval : ring.intervals()) {
        if (interval.contains(position)) {
          expected = interval.owner();
        }
      }
      assertThat(ring.ownerOf(position)).as("position %x", position).isEqualTo(expected);
      assertThat(ring.intervalOf(position).owner()).isEqualTo(expected);
    }
  }
}
