package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.shardcluster.errors.ShardClusterException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class RangeMapTest {
  private static byte[] key(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void ownerOf_isTheRangeStartingAtOrBeforeTheKey() {
    RangeMap map = RangeMap.of(List.of(key(""), key("g"), key("p")), List.of("a", "b", "c"));

    assertThat(map.ownerOf(key(""))).isEqualTo("a");
    assertThat(map.ownerOf(key("f~"))).isEqualTo("a");
    assertThat(map.ownerOf(key("g"))).isEqualTo("b");
    assertThat(map.ownerOf(key("ozzz"))).isEqualTo("b");
    assertThat(map.ownerOf(key("p"))).isEqualTo("c");
    assertThat(map.ownerOf(new byte[] {(byte) 0xff})).isEqualTo("c");
  }

  @Test
  void keysCompareAsUnsignedBytes() {
    RangeMap map =
        RangeMap.of(List.of(new byte[0], new byte[] {(byte) 0x80}), List.of("low", "high"));

    assertThat(map.ownerOf(new byte[] {0x7f})).isEqualTo("low");
    assertThat(map.ownerOf(new byte[] {(byte) 0x80})).isEqualTo("high");
    assertThat(map.ownerOf(new byte[] {(byte) 0xff, 0})).isEqualTo("high");
  }

  @Test
  void split_keepsTheOwner_andAssignMovesOneRange() {
    RangeMap map = RangeMap.single("a").split(key("m")).split(key("t"));

    assertThat(map.size()).isEqualTo(3);
    assertThat(map.rangesPerOwner()).containsEntry("a", 3);
    RangeMap moved = map.assign(1, "b");
    assertThat(moved.ownerOf(key("l"))).isEqualTo("a");
    assertThat(moved.ownerOf(key("n"))).isEqualTo("b");
    assertThat(moved.ownerOf(key("u"))).isEqualTo("a");
    assertThat(map.ownerOf(key("n"))).as("immutable").isEqualTo("a");
  }

  @Test
  void badLayouts_areRefused() {
    assertThatThrownBy(() -> RangeMap.of(List.of(key("a")), List.of("x")))
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining("empty key");
    assertThatThrownBy(
            () -> RangeMap.of(List.of(key(""), key("b"), key("a")), List.of("x", "y", "z")))
        .hasMessageContaining("strictly increasing");
    assertThatThrownBy(() -> RangeMap.single("a").split(key("m")).split(key("m")))
        .hasMessageContaining("already starts at 'm'");
  }
}
