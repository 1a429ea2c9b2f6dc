package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class DirectoryTest {
  private static DirectoryEntry exact(String key, String owner) {
    return new DirectoryEntry(ByteString.copyFromUtf8(key), false, owner);
  }

  private static DirectoryEntry prefix(String key, String owner) {
    return new DirectoryEntry(ByteString.copyFromUtf8(key), true, owner);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void entryFor_exactBeatsPrefix_longestPrefixBeatsShorter() {
    Directory directory =
        Directory.of(
            List.of(prefix("acme", "n1"), prefix("acme:eu", "n2"), exact("acme:eu:7", "n3")));

    assertThat(directory.entryFor(utf8("acme:us:1")).map(DirectoryEntry::owner)).contains("n1");
    assertThat(directory.entryFor(utf8("acme:eu:1")).map(DirectoryEntry::owner)).contains("n2");
    assertThat(directory.entryFor(utf8("acme:eu:7")).map(DirectoryEntry::owner)).contains("n3");
    assertThat(directory.entryFor(utf8("acm"))).isEmpty();
    assertThat(directory.entryFor(utf8("other"))).isEmpty();
  }

  @Test
  void with_sameKeyAndKind_replaces_otherKindKept() {
    Directory directory =
        Directory.of(List.of(prefix("t1", "n1"))).with(prefix("t1", "n2")).with(exact("t1", "n3"));

    assertThat(directory.entries()).hasSize(2);
    assertThat(directory.entryFor(utf8("t1")).map(DirectoryEntry::owner)).contains("n3");
    assertThat(directory.entryFor(utf8("t1:x")).map(DirectoryEntry::owner)).contains("n2");
  }

  @Test
  void without_removesOnlyThatKind() {
    Directory directory =
        Directory.of(List.of(prefix("t1", "n1"), exact("t1", "n2")))
            .without(ByteString.copyFromUtf8("t1"), false);

    assertThat(directory.entryFor(utf8("t1")).map(DirectoryEntry::owner)).contains("n1");
  }

  @Test
  void coveringPrefix_isTheLongestShorterPrefixEntry() {
    Directory directory =
        Directory.of(
            List.of(
                new DirectoryEntry(ByteString.copyFromUtf8("t:"), true, "a"),
                new DirectoryEntry(ByteString.copyFromUtf8("t:v"), true, "b"),
                new DirectoryEntry(ByteString.copyFromUtf8("t:vip"), false, "c")));
    assertThat(
            directory.coveringPrefix(ByteString.copyFromUtf8("t:vip:")).map(DirectoryEntry::owner))
        .contains("b");
    assertThat(directory.coveringPrefix(ByteString.copyFromUtf8("t:v")).map(DirectoryEntry::owner))
        .contains("a");
    assertThat(directory.coveringPrefix(ByteString.copyFromUtf8("t:"))).isEmpty();
    assertThat(directory.coveringPrefix(ByteString.copyFromUtf8("u:"))).isEmpty();
  }

  @Test
  void matchesAndOutranks_followTheDirectorysRule() {
    DirectoryEntry shortPrefix = new DirectoryEntry(ByteString.copyFromUtf8("t:"), true, "a");
    DirectoryEntry longPrefix = new DirectoryEntry(ByteString.copyFromUtf8("t:vip:"), true, "a");
    DirectoryEntry exact = new DirectoryEntry(ByteString.copyFromUtf8("t:vip:1"), false, "a");
    byte[] key = "t:vip:1".getBytes(StandardCharsets.UTF_8);

    assertThat(Directory.matches(shortPrefix, key)).isTrue();
    assertThat(Directory.matches(longPrefix, key)).isTrue();
    assertThat(Directory.matches(exact, key)).isTrue();
    assertThat(Directory.matches(exact, "t:vip:10".getBytes(StandardCharsets.UTF_8))).isFalse();
    assertThat(Directory.matches(longPrefix, "t:vip".getBytes(StandardCharsets.UTF_8))).isFalse();
    assertThat(Directory.outranks(exact, longPrefix)).isTrue();
    assertThat(Directory.outranks(longPrefix, shortPrefix)).isTrue();
    assertThat(Directory.outranks(shortPrefix, longPrefix)).isFalse();
    assertThat(Directory.outranks(longPrefix, exact)).isFalse();
  }
}
