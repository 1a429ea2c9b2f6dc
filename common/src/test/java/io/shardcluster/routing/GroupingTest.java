package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class GroupingTest {
  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static ByteString group(Grouping grouping, String key) {
    return grouping.groupOf(utf8(key));
  }

  @Test
  void groupIsTheKeyUpToTheFirstSeparator_orTheWholeKey() {
    Grouping colon = new Grouping(ByteString.copyFromUtf8(":"), 0);
    assertThat(group(colon, "acme:order:17").toStringUtf8()).isEqualTo("acme");
    assertThat(group(colon, "acme").toStringUtf8()).isEqualTo("acme");
    assertThat(group(colon, ":x").toStringUtf8()).isEmpty();

    Grouping arrow = new Grouping(ByteString.copyFromUtf8("->"), 0);
    assertThat(group(arrow, "a-b->c->d").toStringUtf8()).isEqualTo("a-b");
    assertThat(group(arrow, "a-b-").toStringUtf8()).isEqualTo("a-b-");

    Grouping whole = new Grouping(ByteString.EMPTY, 0);
    assertThat(group(whole, "acme:order:17").toStringUtf8()).isEqualTo("acme:order:17");
  }

  @Test
  void membership_agreesWithGroupOf() {
    Grouping colon = new Grouping(Grouping.DEFAULT_SEPARATOR, 0);
    ByteString acme = ByteString.copyFromUtf8("acme");
    for (String key : List.of("acme", "acme:", "acme:1", "acmex:1", "acm", "x:acme", "")) {
      assertThat(colon.isInGroup(utf8(key), acme))
          .as(key)
          .isEqualTo(colon.groupOf(utf8(key)).equals(acme));
    }
  }

  @Test
  void separatorLongerThanTheLimit_isRefused() {
    assertThatThrownBy(() -> new Grouping(ByteString.copyFrom(new byte[17]), 0))
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining("at most 16 bytes");
  }

  @Test
  void movingSet_ofADirectoryKeyspace_matchesNamedGroupsAndGroupsHashedIntoItsRanges() {
    Keyspace tenants = Keyspace.directory("tenants", new Grouping(Grouping.DEFAULT_SEPARATOR, 3));
    MovingSet named =
        MovingSet.ofGroups("tenants", List.of(ByteString.copyFromUtf8("acme")), List.of());
    assertThat(named.contains(tenants, utf8("acme:1"))).isTrue();
    assertThat(named.contains(tenants, utf8("acme"))).isTrue();
    assertThat(named.contains(tenants, utf8("acmex:1"))).isFalse();

    long acme = KeyHash.position(utf8("acme"));
    MovingSet hashed =
        MovingSet.ofGroups("tenants", List.of(), List.of(new PositionRange(acme, acme + 1)));
    // Every key of the group moves with it, whatever the key's own hash.
    assertThat(hashed.contains(tenants, utf8("acme:1"))).isTrue();
    assertThat(hashed.contains(tenants, utf8("acme:2"))).isTrue();
    assertThat(hashed.contains(tenants, utf8("globex:1"))).isFalse();

    // The routing table carries no entries; only the directory version moves on.
    Keyspace after = named.applyTo(tenants, "n2");
    assertThat(after.grouping().version()).isEqualTo(4);
    assertThat(after.grouping().separator()).isEqualTo(Grouping.DEFAULT_SEPARATOR);
    assertThatThrownBy(() -> after.ownerOf(utf8("acme:1")))
        .isInstanceOf(IllegalStateException.class);
  }
}
