package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A node's share at one routing, and who owns that share at a later one. */
class KeyspaceShareTest {
  private static final long QUARTER = 1L << 62;
  // Positions are unsigned: half of the space is 2^63, which as a long is Long.MIN_VALUE.
  private static final long HALF = Long.MIN_VALUE;
  private static final long THREE_QUARTERS = HALF + QUARTER;

  private static byte[] key(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aHashShare_holdsExactlyTheKeysTheNodeOwned_whoeverOwnsThemLater() {
    DirectoryEntry pinned = new DirectoryEntry(ByteString.copyFromUtf8("pinned"), false, "a");
    Keyspace before =
        new Keyspace(
            "h",
            HashRing.of(List.of(0L, QUARTER, HALF, THREE_QUARTERS), List.of("a", "b", "a", "b")),
            Directory.of(List.of(pinned)));
    // Later: c took the second half of a's first interval, and the pinned key moved to b.
    Keyspace after =
        new Keyspace(
            "h",
            HashRing.of(
                List.of(0L, QUARTER / 2, QUARTER, HALF, THREE_QUARTERS),
                List.of("a", "c", "b", "a", "b")),
            Directory.of(List.of(new DirectoryEntry(pinned.key(), false, "b"))));

    MovingSet share = before.shareOf("a");
    Random random = new Random(3);
    for (int i = 0; i < 5_000; i++) {
      byte[] key = key("k" + random.nextInt());
      assertThat(share.contains(after, key)).isEqualTo("a".equals(before.ownerOf(key)));
    }
    assertThat(share.contains(after, key("pinned"))).isTrue();
    assertThat(after.ownersOf(share)).containsExactly("a", "b", "c");
    assertThat(after.ownersOf(before.shareOf("b"))).containsExactly("b");
  }

  @Test
  void aRangeShare_isTheNodesRanges_andTheirLaterOwners() {
    Keyspace before =
        Keyspace.range(
            "r", RangeMap.of(List.of(key(""), key("g"), key("p")), List.of("a", "b", "a")));
    Keyspace after =
        Keyspace.range(
            "r",
            RangeMap.of(
                List.of(key(""), key("d"), key("g"), key("p")), List.of("a", "c", "b", "a")));

    MovingSet share = before.shareOf("a");
    assertThat(share.keyRanges())
        .containsExactly(
            new KeyRange(ByteString.EMPTY, ByteString.copyFromUtf8("g")),
            new KeyRange(ByteString.copyFromUtf8("p"), ByteString.EMPTY));
    assertThat(share.contains(after, key("e"))).isTrue();
    assertThat(share.contains(after, key("h"))).isFalse();
    assertThat(after.ownersOf(share)).containsExactly("a", "c");
  }

  @Test
  void directoryKeyspaces_haveNoShareByRouting() {
    Keyspace directory = Keyspace.directory("d", new Grouping(Grouping.DEFAULT_SEPARATOR, 1));
    assertThatThrownBy(() -> directory.shareOf("a")).isInstanceOf(IllegalStateException.class);
  }
}
