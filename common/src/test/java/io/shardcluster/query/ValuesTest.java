package io.shardcluster.query;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ValuesTest {
  private static JsonNode whole(String value) {
    return Values.document(value.getBytes(StandardCharsets.UTF_8));
  }

  private static JsonNode fields(String value) {
    return Values.document(value.getBytes(StandardCharsets.UTF_8), Set.of("a"));
  }

  @Test
  void aDocumentIsOneJsonObject_readWholeOrByItsFields() {
    // Reading a whole document (SELECT *) and reading only some of its fields (the rest of the
    // queries) must agree on what is a document, or one query would see fields another does not.
    for (String document :
        new String[] {"{\"a\":1}", "{\"a\":{\"b\":[1,2]},\"c\":\"x\"}", "{}", "{\"a\":1}  \n"}) {
      assertThat(whole(document)).as(document).isNotNull();
      assertThat(fields(document)).as(document).isNotNull();
    }
    assertThat(fields("{\"a\":{\"b\":[1,2]},\"c\":\"x\"}").toString())
        .isEqualTo("{\"a\":{\"b\":[1,2]}}");
    for (String notOne :
        new String[] {
          "",
          "plain",
          "[1,2]",
          "42",
          "{\"a\":",
          "{\"a\":1",
          "{\"a\":1} {\"b\":2}",
          "{\"a\":1} x",
          " {\"a\":1}"
        }) {
      assertThat(whole(notOne)).as(notOne).isNull();
      assertThat(fields(notOne)).as(notOne).isNull();
    }
  }

  @Test
  void fromJson_refusesTextAfterTheValue() {
    assertThat(Values.fromJson("{\"a\":1} ").get("a").intValue()).isEqualTo(1);
    assertThatThrownBy(() -> Values.fromJson("{\"a\":1} {\"b\":2}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("not JSON: more text after the value (column 10)");
    assertThatThrownBy(() -> Values.fromJson("{\"name\":\"cy\""))
        .hasMessage(
            "not JSON: Unexpected end-of-input: expected close marker for Object (column 13)");
    assertThatThrownBy(() -> Values.fromJson("{\"a\":1,\n\"b\":}"))
        .hasMessageStartingWith("not JSON: Unexpected character ('}' (code 125))")
        .hasMessageEndingWith("(line 2, column 5)");
  }
}
