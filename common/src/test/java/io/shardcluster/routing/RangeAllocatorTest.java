package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RangeAllocatorTest {
  private static List<byte[]> starts(int count) {
    List<byte[]> starts = new ArrayList<>();
    starts.add(new byte[0]);
    for (int i = 1; i < count; i++) {
      starts.add(String.format("k%03d", i).getBytes(StandardCharsets.UTF_8));
    }
    return starts;
  }

  @Test
  void spread_dealsRangesOutInTurn() {
    RangeMap map = RangeAllocator.spread(starts(7), List.of("a", "b", "c"));

    assertThat(map.rangesPerOwner())
        .containsEntry("a", 3)
        .containsEntry("b", 2)
        .containsEntry("c", 2);
    assertThat(map.owner(0)).isEqualTo("a");
    assertThat(map.owner(1)).isEqualTo("b");
  }

  @Test
  void join_takesItsShareFromTheNodesWithMost_andNothingMovesBetweenOthers() {
    RangeMap map = RangeAllocator.spread(starts(12), List.of("a", "b", "c"));

    Map<String, List<Integer>> taken = RangeAllocator.join(map, "d");

    assertThat(taken.values().stream().mapToInt(List::size).sum()).isEqualTo(3);
    assertThat(taken).containsOnlyKeys("a", "b", "c");
    RangeMap after = map;
    for (var donor : taken.entrySet()) {
      for (int index : donor.getValue()) {
        assertThat(map.owner(index)).isEqualTo(donor.getKey());
        after = after.assign(index, "d");
      }
    }
    assertThat(after.rangesPerOwner().values()).containsOnly(3);
  }

  @Test
  void leave_givesEachRangeToTheReceiverWithFewest() {
    RangeMap map = RangeAllocator.spread(starts(8), List.of("a", "b", "c", "d"));

    Map<String, List<Integer>> given = RangeAllocator.leave(map, "d", List.of("a", "b", "c"));

    assertThat(given.values().stream().mapToInt(List::size).sum()).isEqualTo(2);
    assertThat(given).containsOnlyKeys("a", "b");
  }

  @Test
  void movingSet_ofKeyRanges_containsExactlyTheirKeys_andAppliesToThoseRanges() {
    RangeMap map = RangeAllocator.spread(starts(4), List.of("a", "b"));
    Keyspace keyspace = Keyspace.range("events", map);
    MovingSet moving = MovingSet.ofKeyRanges("events", List.of(map.range(1)));

    assertThat(moving.contains(keyspace, "k001".getBytes(StandardCharsets.UTF_8))).isTrue();
    assertThat(moving.contains(keyspace, "k0015".getBytes(StandardCharsets.UTF_8))).isTrue();
    assertThat(moving.contains(keyspace, "k002".getBytes(StandardCharsets.UTF_8))).isFalse();
    assertThat(moving.contains(keyspace, "a".getBytes(StandardCharsets.UTF_8))).isFalse();
    Keyspace after = moving.applyTo(keyspace, "c");
    assertThat(after.ranges().owner(1)).isEqualTo("c");
    assertThat(after.ranges().owner(0)).isEqualTo("a");
    assertThat(map.range(3).end()).isEqualTo(ByteString.EMPTY);
    assertThat(
            keyspace.ownersOf(
                ByteString.copyFromUtf8("k001"), ByteString.copyFromUtf8("k002"), Set.of()))
        .containsExactly("b");
  }
}
