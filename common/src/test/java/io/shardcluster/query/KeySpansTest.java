package io.shardcluster.query;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.util.List;
import org.junit.jupiter.api.Test;

class KeySpansTest {
  private static List<String> spans(String where) {
    return KeySpans.of(QueryParser.parse("SELECT * FROM t WHERE " + where).where()).stream()
        .map(s -> "[" + text(s.start()) + "," + text(s.end()) + ")")
        .toList();
  }

  private static String text(ByteString bytes) {
    return bytes.toStringUtf8().replace("\0", "~");
  }

  @Test
  void keyPredicates_narrowToTheirRanges() {
    assertThat(spans("_key = 'b'")).containsExactly("[b,b~)");
    assertThat(spans("_key IN ('c', 'a', 'c')")).containsExactly("[a,a~)", "[c,c~)");
    assertThat(spans("_key >= 'b' AND _key < 'f'")).containsExactly("[b,f)");
    assertThat(spans("_key BETWEEN 'b' AND 'f'")).containsExactly("[b,f~)");
    assertThat(spans("_key LIKE 'user:%'")).containsExactly("[user:,user;)");
    assertThat(spans("_key < 'b' OR _key > 'x'")).containsExactly("[,b)", "[x~,)");
    assertThat(spans("_key = 'b' AND age > 3")).containsExactly("[b,b~)");
    assertThat(spans("_key = 'b' AND _key = 'c'")).isEmpty();
  }

  @Test
  void anythingElse_allowsEveryKey() {
    assertThat(spans("age > 3")).containsExactly("[,)");
    assertThat(spans("_key = 'b' OR age > 3")).containsExactly("[,)");
    assertThat(spans("NOT _key = 'b'")).containsExactly("[,)");
    assertThat(spans("_key LIKE '%x'")).containsExactly("[,)");
  }
}
