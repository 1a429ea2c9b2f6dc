package io.shardcluster.query;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.util.Comparator;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Field values of documents, as JSON nodes: how they are read, written and ordered. A missing field
 * and JSON null are both SQL NULL.
 */
public final class Values {
  static final ObjectMapper JSON = new ObjectMapper();

  // Deprecated in favour of a mapper feature, but this factory makes nodes directly: decimals kept
  // exactly as written (1.10 stays 1.10), which sums and comparisons rely on.
  @SuppressWarnings("deprecation")
  static final JsonNodeFactory NODES = JsonNodeFactory.withExactBigDecimals(true);

  /**
   * The order of ORDER BY, MIN and MAX across all values: NULL first, then booleans (false before
   * true), numbers, strings, and arrays and objects by their JSON text.
   */
  public static final Comparator<JsonNode> ORDER = Values::compareAny;

  private Values() {}

  /** A value as compact JSON text. */
  public static String toJson(JsonNode value) {
    return value == null ? "null" : value.toString();
  }

  /** The value of JSON text. */
  public static JsonNode fromJson(String json) {
    try (JsonParser parser = JSON.createParser(json)) {
      return readWhole(parser);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not JSON: " + describe(e), e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Jackson's own words for what is wrong, without the input's description it embeds, and where.
   */
  private static String describe(JsonProcessingException e) {
    String what =
        String.valueOf(e.getOriginalMessage())
            .replaceAll("\\s*\\(start marker at \\[[^\\]]*\\]\\)", "");
    JsonLocation at = e.getLocation();
    if (at == null || at.getColumnNr() < 1) {
      return what;
    }
    return what
        + (at.getLineNr() > 1
            ? " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"
            : " (column " + at.getColumnNr() + ")");
  }

  /**
   * One JSON value and nothing after it but whitespace: {@code {"a":1} x} is refused rather than
   * read as its first value (Jackson's readTree stops after the first).
   */
  private static JsonNode readWhole(JsonParser parser) throws IOException {
    JsonNode value = JSON.readTree(parser);
    if (parser.nextToken() != null) {
      throw new JsonParseException(parser, "more text after the value");
    }
    return value;
  }

  /** The document stored as a value, or null if the value is not a JSON object. */
  public static @Nullable JsonNode document(byte[] value) {
    if (value.length == 0 || value[0] != '{') {
      return null;
    }
    try (JsonParser parser = JSON.createParser(value)) {
      JsonNode node = readWhole(parser);
      return node != null && node.isObject() ? node : null;
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * As {@link #document(byte[])}, keeping only the named top-level fields: the others are skipped
   * by the streaming parser without building them.
   */
  static @Nullable JsonNode document(byte[] value, Set<String> fields) {
    if (value.length == 0 || value[0] != '{') {
      return null;
    }
    try (JsonParser parser = JSON.getFactory().createParser(value)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      ObjectNode document = NODES.objectNode();
      JsonToken token;
      while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        parser.nextToken();
        if (fields.contains(name)) {
          document.set(name, value(parser));
        } else {
          parser.skipChildren();
        }
      }
      return token == JsonToken.END_OBJECT && parser.nextToken() == null ? document : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** The value at the parser's current token; scalars are built directly, without data binding. */
  private static JsonNode value(JsonParser parser) throws IOException {
    return switch (parser.currentToken()) {
      case VALUE_STRING -> NODES.textNode(parser.getText());
      case VALUE_NUMBER_INT ->
          switch (parser.getNumberType()) {
            case INT -> NODES.numberNode(parser.getIntValue());
            case LONG -> NODES.numberNode(parser.getLongValue());
            default -> NODES.numberNode(parser.getBigIntegerValue());
          };
      case VALUE_NUMBER_FLOAT -> NODES.numberNode(parser.getDoubleValue());
      case VALUE_TRUE -> NODES.booleanNode(true);
      case VALUE_FALSE -> NODES.booleanNode(false);
      case VALUE_NULL -> NODES.nullNode();
      default -> JSON.readTree(parser);
    };
  }

  static boolean isNull(@Nullable JsonNode value) {
    return value == null || value.isNull() || value.isMissingNode();
  }

  static JsonNode nullToNode(@Nullable JsonNode value) {
    return value == null || isNull(value) ? NullNode.getInstance() : value;
  }

  static JsonNode number(BigDecimal value) {
    BigDecimal stripped = value.stripTrailingZeros();
    if (stripped.scale() <= 0 && stripped.precision() - stripped.scale() <= 18) {
      return NODES.numberNode(stripped.longValueExact());
    }
    return NODES.numberNode(value);
  }

  /**
   * SQL comparison: negative, zero or positive when both values are of one kind (numbers, strings
   * or booleans); null (unknown) when either is NULL or their kinds differ.
   */
  static @Nullable Integer compareSql(@Nullable JsonNode a, @Nullable JsonNode b) {
    if (a == null || b == null || isNull(a) || isNull(b)) {
      return null;
    }
    if (a.isNumber() && b.isNumber()) {
      if (a.isIntegralNumber()
          && b.isIntegralNumber()
          && a.canConvertToLong()
          && b.canConvertToLong()) {
        // The common case, without making a decimal of each side.
        return Long.compare(a.longValue(), b.longValue());
      }
      return a.decimalValue().compareTo(b.decimalValue());
    }
    if (a.isTextual() && b.isTextual()) {
      return a.textValue().compareTo(b.textValue());
    }
    if (a.isBoolean() && b.isBoolean()) {
      return Boolean.compare(a.booleanValue(), b.booleanValue());
    }
    return null;
  }

  private static int rank(JsonNode value) {
    if (isNull(value)) {
      return 0;
    }
    if (value.isBoolean()) {
      return 1;
    }
    if (value.isNumber()) {
      return 2;
    }
    if (value.isTextual()) {
      return 3;
    }
    return 4;
  }

  private static int compareAny(JsonNode a, JsonNode b) {
    int byRank = Integer.compare(rank(a), rank(b));
    if (byRank != 0) {
      return byRank;
    }
    return switch (rank(a)) {
      case 0 -> 0;
      // Both of one kind: comparable, never unknown.
      case 1, 2, 3 -> requireNonNull(compareSql(a, b));
      default -> a.toString().compareTo(b.toString());
    };
  }
}
