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
}
