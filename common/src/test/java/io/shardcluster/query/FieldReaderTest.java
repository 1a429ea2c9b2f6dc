package io.shardcluster.query;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The field reader must read exactly what Jackson reads: the same values, of the same node types,
 * and no document where Jackson finds none. Jackson's reading ({@link Values#document(byte[],
 * java.util.Set)}) is the reference throughout.
 */
class FieldReaderTest {
  private static final FieldReader READER =
      new FieldReader(new LinkedHashSet<>(List.of("a", "b", "ñ", "")));

  /** The reference: the named fields as Jackson reads them, or null if it finds no document. */
  private static JsonNode[] jackson(byte[] value) {
    JsonNode document = Values.document(value, new LinkedHashSet<>(List.of("a", "b", "ñ", "")));
    if (document == null) {
      return null;
    }
    return Stream.of("a", "b", "ñ", "").map(document::get).toArray(JsonNode[]::new);
  }

  private static void assertSameAsJackson(byte[] value) {
    String shown = new String(value, StandardCharsets.UTF_8);
    assertThat(READER.read(value)).as(shown).isEqualTo(jackson(value));
    JsonNode[] plain = READER.readPlain(value);
    if (plain != null) {
      assertThat(plain).as(shown).isEqualTo(jackson(value));
    }
  }

  static Stream<String> plainDocuments() {
    return Stream.of(
        "{}",
        "{\"a\":1}",
        "{\"a\":-0}",
        "{\"a\":0,\"b\":-7}",
        "{\"a\":2147483647,\"b\":2147483648}",
        "{\"a\":-2147483648,\"b\":-2147483649}",
        "{\"a\":999999999999999999,\"b\":-999999999999999999}",
        "{\"a\":1.5,\"b\":-0.0}",
        "{\"a\":1e3,\"b\":2.5E-3}",
        "{\"a\":1E+400}",
        "{\"a\":\"text\",\"b\":\"\"}",
        "{\"a\":true,\"b\":false,\"\":null}",
        "{ \"a\" : 1 , \"b\" :\t\"x\"\r\n}\n",
        "{\"a\":{\"b\":[1,{\"c\":null}]},\"c\":\"x\"}",
        "{\"a\":[],\"b\":{}}",
        "{\"a\":1,\"a\":2}",
        "{\"c\":[1,2,[3,[4]]],\"d\":{\"e\":{\"f\":true}},\"a\":\"after\"}",
        "{\"x\":\"~!@#$%^&*()_+{}[]:;'<>,.?/|\",\"a\":\"quote-free\"}");
  }

  @ParameterizedTest
  @MethodSource("plainDocuments")
  void plainDocuments_areReadWithoutJackson_asJacksonReadsThem(String document) {
    byte[] value = document.getBytes(StandardCharsets.UTF_8);
    assertThat(READER.readPlain(value)).as(document).isNotNull();
    assertSameAsJackson(value);
  }

  static Stream<String> otherValues() {
    return Stream.of(
        // Not documents at all.
        "",
        "plain bytes",
        "[1]",
        "{",
        "{\"a\"",
        "{\"a\":}",
        "{\"a\":1,}",
        "{,}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "{\"a\":01}",
        "{\"a\":-}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":+1}",
        "{\"a\":tru}",
        "{\"a\":truex}",
        "{\"a\":nul}",
        "{\"a\":1x}",
        "{\"a\":\"unterminated}",
        "{\"a\":[1,]}",
        "{\"a\":[1 2]}",
        "{\"a\":{\"b\"}}",
        "{'a':1}",
        "{a:1}",
        "{\"a\":NaN}",
        "{\"a\":1}\u0000",
        "{\"a\":\"tab\there\"}",
        "{\"a\":1 /* comment */}",
        // Documents Jackson reads that the plain reader leaves to it.
        "{\"a\":\"esc\\\"aped\",\"b\":\"\\u00e9\"}",
        "{\"a\":\"caf\u00e9\",\"ñ\":1}",
        "{\"a\":12345678901234567890}",
        "{\"a\":\"" + "x".repeat(5) + "\",\"b\":" + "[".repeat(40) + "]".repeat(40) + "}",
        "{\"a\":1.0000000000000000000000000000000000000000000000000000000000000000001}",
        "{\"a\":\"del\u007f\"}");
  }

  @ParameterizedTest
  @MethodSource("otherValues")
  void otherValues_readAsJacksonReadsThem(String value) {
    assertSameAsJackson(value.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void randomDocumentsAndTheirMutations_readAsJacksonReadsThem() {
    SplittableRandom random = new SplittableRandom(20261201);
    int plain = 0;
    int notDocuments = 0;
    for (int n = 0; n < 40_000; n++) {
      StringBuilder document = new StringBuilder();
      object(random, document, 0);
      byte[] value = document.toString().getBytes(StandardCharsets.UTF_8);
      if (n % 2 == 1) {
        value = mutate(random, value);
      }
      assertSameAsJackson(value);
      plain += READER.readPlain(value) != null ? 1 : 0;
      notDocuments += jackson(value) == null ? 1 : 0;
    }
    // Both ways are exercised: many values are read plainly, many are not documents.
    assertThat(plain).isGreaterThan(5_000);
    assertThat(notDocuments).isGreaterThan(5_000);
  }

  @Test
  void longTexts_withAnyByteAnywhere_readAsJacksonReadsThem() {
    // Each kind of byte that stops a plain reading, at every position of texts of several lengths,
    // in a wanted field and in one that is skipped.
    String[] stoppers = {
      "\"", "\\\"", "\\n", "\\u00e9", "\u0000", "\u001f", "\t", "\u007f", "\u0080", "é", "€"
    };
    for (int length = 0; length <= 40; length++) {
      for (int at = 0; at < length; at++) {
        for (String stopper : stoppers) {
          String text = "x".repeat(at) + stopper + "y".repeat(length - at - 1);
          assertSameAsJackson(
              ("{\"a\":\"" + text + "\",\"b\":1}").getBytes(StandardCharsets.UTF_8));
          assertSameAsJackson(
              ("{\"c\":\"" + text + "\",\"a\":\"" + text + "z\"}")
                  .getBytes(StandardCharsets.UTF_8));
        }
      }
      String plain = " ~!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}".repeat(2).substring(0, length);
      byte[] value =
          ("{\"c\":\"" + plain + "\",\"a\":\"" + plain + "\"}").getBytes(StandardCharsets.UTF_8);
      assertThat(READER.readPlain(value)).as(plain).isNotNull();
      assertSameAsJackson(value);
    }
  }

  private static final String[] NAMES = {"a", "b", "c", "ñ", "", "a\\u0062", "bb"};
  private static final String[] SCALARS = {
    "0",
    "-0",
    "7",
    "-12",
    "2147483648",
    "-9223372036854775808",
    "123456789012345678901",
    "1.5",
    "-2.25e-3",
    "1E9",
    "\"\"",
    "\"str\"",
    "\"é\"",
    "\"a\\nb\"",
    "true",
    "false",
    "null"
  };

  private static void object(SplittableRandom random, StringBuilder out, int depth) {
    out.append('{');
    int fields = random.nextInt(5);
    for (int i = 0; i < fields; i++) {
      if (i > 0) {
        out.append(',');
      }
      space(random, out);
      out.append('"').append(NAMES[random.nextInt(NAMES.length)]).append('"');
      space(random, out);
      out.append(':');
      space(random, out);
      value(random, out, depth);
      space(random, out);
    }
    out.append('}');
  }

  private static void value(SplittableRandom random, StringBuilder out, int depth) {
    int kind = depth > 3 ? 0 : random.nextInt(6);
    if (kind == 4) {
      object(random, out, depth + 1);
    } else if (kind == 5) {
      out.append('[');
      int items = random.nextInt(4);
      for (int i = 0; i < items; i++) {
        if (i > 0) {
          out.append(',');
        }
        value(random, out, depth + 1);
      }
      out.append(']');
    } else {
      out.append(SCALARS[random.nextInt(SCALARS.length)]);
    }
  }

  private static void space(SplittableRandom random, StringBuilder out) {
    if (random.nextInt(4) == 0) {
      out.append(" \t\n\r".charAt(random.nextInt(4)));
    }
  }

  /** The value with one to three bytes changed, inserted or removed. */
  private static byte[] mutate(SplittableRandom random, byte[] value) {
    byte[] alphabet = "{}[]:,\"\\ -+.eE0159tfnrul\u0000\t\n".getBytes(StandardCharsets.UTF_8);
    byte[] result = value;
    for (int m = random.nextInt(1, 4); m > 0 && result.length > 0; m--) {
      int at = random.nextInt(result.length);
      byte b = random.nextInt(8) == 0 ? (byte) 0xC3 : alphabet[random.nextInt(alphabet.length)];
      switch (random.nextInt(3)) {
        case 0 -> result[at] = b;
        case 1 -> {
          byte[] longer = Arrays.copyOf(result, result.length + 1);
          System.arraycopy(result, at, longer, at + 1, result.length - at);
          longer[at] = b;
          result = longer;
        }
        default -> {
          byte[] shorter = new byte[result.length - 1];
          System.arraycopy(result, 0, shorter, 0, at);
          System.arraycopy(result, at + 1, shorter, at, result.length - at - 1);
          result = shorter;
        }
      }
    }
    return result;
  }
}
