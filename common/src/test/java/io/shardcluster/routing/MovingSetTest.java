package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Which keys a migration moves, for entries that exist and for entries it adds. */
class MovingSetTest {
  private static final long HALF = 1L << 63;
  private static final HashRing RING = HashRing.of(List.of(0L, HALF), List.of("a", "b"));

  private static byte[] key(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static DirectoryEntry exact(String key, String owner) {
    return new DirectoryEntry(ByteString.copyFromUtf8(key), false, owner);
  }

  private static DirectoryEntry prefix(String key, String owner) {
    return new DirectoryEntry(ByteString.copyFromUtf8(key), true, owner);
  }

  private static Keyspace keyspace(DirectoryEntry... entries) {
    return new Keyspace("h", RING, Directory.of(List.of(entries)));
  }

  @Test
  void anExistingEntry_movesTheKeysItPlaces_notThoseOfEntriesInsideIt() {
    Keyspace routing = keyspace(prefix("t:", "a"), prefix("t:vip:", "b"), exact("t:x", "b"));
    MovingSet moving = new MovingSet("h", List.of(), List.of(prefix("t:", "a")));

    assertThat(moving.contains(routing, key("t:1"))).isTrue();
    assertThat(moving.contains(routing, key("t:vip:1"))).isFalse();
    assertThat(moving.contains(routing, key("t:x"))).isFalse();
    assertThat(moving.contains(routing, key("u:1"))).isFalse();
  }

  @Test
  void aNewExactEntry_movesItsKeyOnly_fromTheRingOrACoveringPrefix() {
    MovingSet moving = new MovingSet("h", List.of(), List.of(exact("hot", "b")));
    assertThat(moving.contains(keyspace(), key("hot"))).isTrue();
    assertThat(moving.contains(keyspace(), key("hot2"))).isFalse();
    assertThat(moving.contains(keyspace(), key("ho"))).isFalse();

    MovingSet inPrefix = new MovingSet("h", List.of(), List.of(exact("t:hot", "b")));
    assertThat(inPrefix.contains(keyspace(prefix("t:", "a")), key("t:hot"))).isTrue();
    assertThat(inPrefix.contains(keyspace(prefix("t:", "a")), key("t:cold"))).isFalse();
  }

  @Test
  void aNewPrefixEntry_movesTheKeysItWillPlace_notThoseALongerEntryKeeps() {
    Keyspace routing = keyspace(prefix("t:", "a"), prefix("t:vip:gold:", "b"));
    MovingSet moving = new MovingSet("h", List.of(), List.of(prefix("t:vip:", "b")));

    assertThat(moving.contains(routing, key("t:vip:1"))).isTrue();
    assertThat(moving.contains(routing, key("t:vip:"))).isTrue();
    assertThat(moving.contains(routing, key("t:vip:gold:1"))).isFalse();
    assertThat(moving.contains(routing, key("t:vi"))).isFalse();
    assertThat(moving.contains(routing, key("t:1"))).isFalse();
  }

  @Test
  void ringRanges_moveOnlyKeysNoEntryPlaces() {
    MovingSet firstHalf = new MovingSet("h", List.of(new PositionRange(0, HALF)), List.of());
    Keyspace routing = keyspace(exact("pinned", "b"));
    Random random = new Random(5);
    for (int i = 0; i < 2_000; i++) {
      byte[] key = key("k" + random.nextInt());
      assertThat(firstHalf.contains(routing, key))
          .isEqualTo("a".equals(RING.ownerOf(KeyHash.position(key))));
    }
    assertThat(firstHalf.contains(routing, key("pinned"))).isFalse();
  }

  @Test
  void soleOwner_ofAnEntry_isWhereAllItsKeysAreNow() {
    Keyspace routing = keyspace(prefix("t:", "a"), exact("pinned", "b"));
    byte[] hot = key("hot");
    String ringOwner = RING.ownerOf(KeyHash.position(hot));

    assertThat(routing.soleOwnerOf(exact("hot", "x"))).contains(ringOwner);
    assertThat(routing.soleOwnerOf(exact("t:hot", "x"))).contains("a");
    assertThat(routing.soleOwnerOf(prefix("t:vip:", "x"))).contains("a");
    assertThat(routing.soleOwnerOf(exact("pinned", "x"))).contains("b");
    assertThat(routing.soleOwnerOf(prefix("t:", "x"))).contains("a");
    // The keys of a new prefix outside every entry are wherever the ring puts each.
    assertThat(routing.soleOwnerOf(prefix("u:", "x"))).isEmpty();
  }

  @Test
  void aShareJudgedLater_keepsTheKeysOfEntriesAddedSince() {
    Keyspace before = keyspace(prefix("t:", "a"));
    Keyspace after = keyspace(prefix("t:", "a"), prefix("t:vip:", "b"), exact("hot", "b"));
    String hotOwner = RING.ownerOf(KeyHash.position(key("hot")));

    MovingSet shareOfA = before.shareOf("a", after);
    assertThat(shareOfA.contains(after, key("t:vip:1"))).isTrue();
    assertThat(shareOfA.contains(after, key("t:1"))).isTrue();
    assertThat(shareOfA.contains(after, key("hot"))).isEqualTo(hotOwner.equals("a"));
    assertThat(before.shareOf("b", after).contains(after, key("hot")))
        .isEqualTo(hotOwner.equals("b"));
    assertThat(before.shareOf("b", after).contains(after, key("t:vip:1"))).isFalse();
  }

  @Test
  void aShareJudgedLater_keepsItsKeysThatAPrefixPlacedSinceTookFromSeveralNodes() {
    Keyspace before = keyspace();
    Keyspace after = keyspace(prefix("u:", "a"));
    Map<String, MovingSet> shares = new HashMap<>();
    for (String node : RING.shares().keySet()) {
      shares.put(node, before.shareOf(node, after));
    }
    // Each key in exactly the share of the node that owned it before; and that share's owners now
    // include the prefix's node, which holds it now.
    for (int i = 0; i < 200; i++) {
      byte[] key = key("u:" + i);
      String ownerBefore = before.ownerOf(key);
      shares.forEach(
          (node, share) ->
              assertThat(share.contains(after, key)).as(node).isEqualTo(node.equals(ownerBefore)));
      assertThat(after.ownersOf(shares.get(ownerBefore))).contains("a");
    }
    // A share taken and judged at the same routing is unchanged.
    assertThat(before.shareOf("b", before).judgedBy()).isEmpty();
  }

  @Test
  void aShareJudgedLater_keepsTheKeysOfAnEntryRemovedSince_andOnlyThose() {
    Keyspace before = keyspace(prefix("u:", "a"));
    Keyspace after = keyspace();
    MovingSet shareOfA = before.shareOf("a", after);
    MovingSet shareOfB = before.shareOf("b", after);
    for (int i = 0; i < 200; i++) {
      byte[] key = key("u:" + i);
      assertThat(shareOfA.contains(after, key)).isTrue();
      assertThat(shareOfB.contains(after, key)).isFalse();
    }
    // They are now wherever the ring puts them: both nodes are asked.
    assertThat(after.ownersOf(shareOfA)).containsExactlyInAnyOrder("a", "b");
  }

  @Test
  void aSetJudgedByADirectoryWithoutAnEntry_holdsTheEntrysKeysOfItsRanges() {
    // What a removal of u: moves to b: the keys that are b's without the entry.
    Keyspace routing = keyspace(prefix("u:", "a"), prefix("u:vip:", "a"));
    Keyspace without = keyspace(prefix("u:vip:", "a"));
    MovingSet toB = new MovingSet("h", without.shareOf("b").ranges(), List.of());
    MovingSet judged = toB.judgedBy(without.directory());
    assertThat(judged).isNotEqualTo(toB);
    for (int i = 0; i < 200; i++) {
      byte[] key = key("u:" + i);
      boolean ringSaysB = RING.ownerOf(KeyHash.position(key)).equals("b");
      assertThat(judged.contains(routing, key)).isEqualTo(ringSaysB);
      // A longer entry keeps its keys.
      assertThat(judged.contains(routing, key("u:vip:" + i))).isFalse();
    }
  }

  private static DirectoryEntry entry(byte[] key, boolean prefix) {
    return new DirectoryEntry(ByteString.copyFrom(key), prefix, "n");
  }

  @Test
  void entryKeyEnd_isTheNextPrefix_orTheKeyAndAZeroByte() {
    assertThat(entry("ab".getBytes(StandardCharsets.UTF_8), true).keyEnd().toStringUtf8())
        .isEqualTo("ac");
    assertThat(entry(new byte[] {1, (byte) 0xff}, true).keyEnd())
        .isEqualTo(ByteString.copyFrom(new byte[] {2}));
    assertThat(entry(new byte[] {(byte) 0xff}, true).keyEnd()).isEqualTo(ByteString.EMPTY);
    assertThat(entry("ab".getBytes(StandardCharsets.UTF_8), false).keyEnd())
        .isEqualTo(ByteString.copyFrom(new byte[] {'a', 'b', 0}));
  }

  @Test
  void keyBounds_ofEntries_spanTheirKeys_ofAnythingElse_theWholeKeyspace() {
    DirectoryEntry acme = entry("acme:".getBytes(StandardCharsets.UTF_8), true);
    DirectoryEntry hot = entry("hot".getBytes(StandardCharsets.UTF_8), false);
    KeyRange both = new MovingSet("ks", List.of(), List.of(hot, acme)).keyBounds();
    assertThat(both.start().toStringUtf8()).isEqualTo("acme:");
    assertThat(both.end()).isEqualTo(ByteString.copyFrom(new byte[] {'h', 'o', 't', 0}));
    // Every key the set holds is inside, and (here) keys just outside are not in the set.
    Keyspace keyspace = Keyspace.hash("ks");
    MovingSet set = new MovingSet("ks", List.of(), List.of(hot, acme));
    for (String key : List.of("acme:", "acme:1", "hot")) {
      assertThat(set.contains(keyspace, key.getBytes(StandardCharsets.UTF_8))).isTrue();
      assertThat(both.contains(key.getBytes(StandardCharsets.UTF_8))).as(key).isTrue();
    }
    assertThat(both.contains("acme".getBytes(StandardCharsets.UTF_8))).isFalse();
    assertThat(both.contains("hot0".getBytes(StandardCharsets.UTF_8))).isFalse();
    // An entry with no end makes the bounds open-ended.
    KeyRange open =
        new MovingSet("ks", List.of(), List.of(acme, entry(new byte[] {(byte) 0xff}, true)))
            .keyBounds();
    assertThat(open.end()).isEqualTo(ByteString.EMPTY);
    assertThat(new MovingSet("ks", List.of(new PositionRange(0, 10)), List.of(acme)).keyBounds())
        .isEqualTo(new KeyRange(ByteString.EMPTY, ByteString.EMPTY));
  }
}
