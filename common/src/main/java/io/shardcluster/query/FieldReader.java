package io.shardcluster.query;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Reads the named top-level fields of stored documents, for one query's scan of many rows.
 *
 * <p>Most documents are plain: ASCII text without escapes, whole numbers or simple decimals. Those
 * are read here in one pass over the bytes, without making a parser per row (a Jackson parser's
 * setup is about as costly as parsing a small document). Anything else, or anything doubtful
 * (escapes, non-ASCII text, leading zeros, long numbers, deep nesting, any syntax error), is left
 * to Jackson ({@link Values#document(byte[], Set)}), which remains the definition of what a
 * document is: this reader returns a document only where Jackson would return the same one, and
 * never itself decides that a value is not a document.
 */
final class FieldReader {
  private static final int MAX_DEPTH = 32;
  private static final int MAX_NUMBER_LENGTH = 64;
  // Whole numbers up to this many digits fit a long.
  private static final int MAX_LONG_DIGITS = 18;

  private final Set<String> fields;
  private final String[] names;
  private final byte[][] nameBytes;

  FieldReader(Set<String> fields) {
    this.fields = fields;
    this.names = fields.toArray(new String[0]);
    this.nameBytes = new byte[names.length][];
    for (int i = 0; i < names.length; i++) {
      nameBytes[i] = names[i].getBytes(StandardCharsets.UTF_8);
    }
  }

  /** Whether the query reads no field at all. */
  boolean isEmpty() {
    return names.length == 0;
  }

  /** The position of a field name among the reader's values; -1 if it does not read it. */
  int indexOf(String name) {
    for (int n = 0; n < names.length; n++) {
      if (names[n].equals(name)) {
        return n;
      }
    }
    return -1;
  }

  /**
   * The named fields' values of a document, in the order of {@link #indexOf} (null where a field is
   * missing); null if the value is not a JSON object.
   */
  JsonNode @Nullable [] read(byte[] value) {
    JsonNode[] plain = readPlain(value);
    if (plain != null) {
      return plain;
    }
    JsonNode document = Values.document(value, fields);
    if (document == null) {
      return null;
    }
    JsonNode[] values = new JsonNode[names.length];
    for (int n = 0; n < names.length; n++) {
      values[n] = document.get(names[n]);
    }
    return values;
  }

  /** The fields' values if the value is a plain document; null if it is not, or not certainly. */
  JsonNode @Nullable [] readPlain(byte[] b) {
    if (b.length == 0 || b[0] != '{') {
      return null;
    }
    JsonNode[] values = new JsonNode[names.length];
    int i = space(b, 1);
    if (i < b.length && b[i] == '}') {
      i++;
    } else {
      while (true) {
        if (i >= b.length || b[i] != '"') {
          return null;
        }
        int nameEnd = stringEnd(b, i + 1);
        if (nameEnd < 0) {
          return null;
        }
        int wanted = wanted(b, i + 1, nameEnd);
        i = space(b, nameEnd + 1);
        if (i >= b.length || b[i] != ':') {
          return null;
        }
        int start = space(b, i + 1);
        i = skipValue(b, start, 1);
        if (i < 0) {
          return null;
        }
        if (wanted >= 0) {
          JsonNode read = valueOf(b, start, i);
          if (read == null) {
            return null;
          }
          // As Jackson's reading: of a repeated name, the last value counts.
          values[wanted] = read;
        }
        i = space(b, i);
        if (i >= b.length) {
          return null;
        }
        if (b[i] == '}') {
          i++;
          break;
        }
        if (b[i] != ',') {
          return null;
        }
        i = space(b, i + 1);
      }
    }
    return space(b, i) == b.length ? values : null;
  }

  /** The position of the field named by the bytes {@code [from, to)}; -1 if it is not read. */
  private int wanted(byte[] b, int from, int to) {
    int length = to - from;
    for (int n = 0; n < nameBytes.length; n++) {
      if (sameBytes(nameBytes[n], b, from, length)) {
        return n;
      }
    }
    return -1;
  }

  /**
   * Whether {@code b[from, from + length)} holds the bytes of {@code name}: a plain loop, since
   * names are short and most differ in their first byte or their length.
   */
  private static boolean sameBytes(byte[] name, byte[] b, int from, int length) {
    if (name.length != length) {
      return false;
    }
    for (int k = 0; k < length; k++) {
      if (name[k] != b[from + k]) {
        return false;
      }
    }
    return true;
  }

  /** The value at {@code [from, to)}, already checked by {@link #skipValue}; null if doubtful. */
  private static @Nullable JsonNode valueOf(byte[] b, int from, int to) {
    byte first = b[from];
    if (first == '"') {
      return Values.NODES.textNode(
          new String(b, from + 1, to - from - 2, StandardCharsets.US_ASCII));
    }
    if (first == 't') {
      return Values.NODES.booleanNode(true);
    }
    if (first == 'f') {
      return Values.NODES.booleanNode(false);
    }
    if (first == 'n') {
      return Values.NODES.nullNode();
    }
    if (first == '{' || first == '[') {
      // A whole object or array is read as Jackson reads it.
      try {
        return Values.JSON.readTree(b, from, to - from);
      } catch (IOException e) {
        return null;
      }
    }
    return numberOf(b, from, to);
  }

  /** A number as Jackson reads one: an int or long if whole and it fits, else a double. */
  private static @Nullable JsonNode numberOf(byte[] b, int from, int to) {
    boolean negative = b[from] == '-';
    int digits = 0;
    long whole = 0;
    for (int i = negative ? from + 1 : from; i < to; i++) {
      byte c = b[i];
      if (c < '0' || c > '9') {
        return Values.NODES.numberNode(
            Double.parseDouble(new String(b, from, to - from, StandardCharsets.US_ASCII)));
      }
      whole = whole * 10 + (c - '0');
      digits++;
    }
    if (digits > MAX_LONG_DIGITS) {
      return null;
    }
    long value = negative ? -whole : whole;
    return value == (int) value
        ? Values.NODES.numberNode((int) value)
        : Values.NODES.numberNode(value);
  }

  /**
   * The end of the value starting at {@code i} (the index after it), checking its syntax; -1 if the
   * value is not plain or not valid. What follows it is the caller's to check: {@code truex} or
   * {@code 1x} end before the {@code x}, which is neither a comma, a closing bracket nor space.
   */
  private static int skipValue(byte[] b, int i, int depth) {
    if (i >= b.length) {
      return -1;
    }
    byte c = b[i];
    if (c == '"') {
      int end = stringEnd(b, i + 1);
      return end < 0 ? -1 : end + 1;
    }
    if (c == '{' || c == '[') {
      return depth >= MAX_DEPTH ? -1 : skipContainer(b, i, depth + 1);
    }
    if (c == 't') {
      return literal(b, i, "true");
    }
    if (c == 'f') {
      return literal(b, i, "false");
    }
    if (c == 'n') {
      return literal(b, i, "null");
    }
    return numberEnd(b, i);
  }

  private static int skipContainer(byte[] b, int i, int depth) {
    boolean object = b[i] == '{';
    byte close = (byte) (object ? '}' : ']');
    i = space(b, i + 1);
    if (i < b.length && b[i] == close) {
      return i + 1;
    }
    while (true) {
      if (object) {
        if (i >= b.length || b[i] != '"') {
          return -1;
        }
        int nameEnd = stringEnd(b, i + 1);
        if (nameEnd < 0) {
          return -1;
        }
        i = space(b, nameEnd + 1);
        if (i >= b.length || b[i] != ':') {
          return -1;
        }
        i = space(b, i + 1);
      }
      i = skipValue(b, i, depth);
      if (i < 0) {
        return -1;
      }
      i = space(b, i);
      if (i >= b.length) {
        return -1;
      }
      if (b[i] == close) {
        return i + 1;
      }
      if (b[i] != ',') {
        return -1;
      }
      i = space(b, i + 1);
    }
  }

  /**
   * The index of the quote closing a string whose text starts at {@code i}; -1 unless the text is
   * printable ASCII without escapes.
   */
  private static int stringEnd(byte[] b, int i) {
    for (; i < b.length; i++) {
      byte c = b[i];
      if (c == '"') {
        return i;
      }
      if (c < 0x20 || c == '\\' || c == 0x7f) {
        // Control characters, escapes and (as negative bytes) non-ASCII text go to Jackson.
        return -1;
      }
    }
    return -1;
  }

  /**
   * The end of a number starting at {@code i}: {@code
   * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?}; -1 otherwise or if it is long.
   */
  private static int numberEnd(byte[] b, int i) {
    int start = i;
    if (i < b.length && b[i] == '-') {
      i++;
    }
    int digits = digits(b, i);
    if (digits == 0 || (digits > 1 && b[i] == '0')) {
      return -1;
    }
    i += digits;
    if (i < b.length && b[i] == '.') {
      int fraction = digits(b, i + 1);
      if (fraction == 0) {
        return -1;
      }
      i += 1 + fraction;
    }
    if (i < b.length && (b[i] == 'e' || b[i] == 'E')) {
      i++;
      if (i < b.length && (b[i] == '+' || b[i] == '-')) {
        i++;
      }
      int exponent = digits(b, i);
      if (exponent == 0) {
        return -1;
      }
      i += exponent;
    }
    return i - start <= MAX_NUMBER_LENGTH ? i : -1;
  }

  private static int digits(byte[] b, int i) {
    int start = i;
    while (i < b.length && b[i] >= '0' && b[i] <= '9') {
      i++;
    }
    return i - start;
  }

  private static int literal(byte[] b, int i, String word) {
    int end = i + word.length();
    if (end > b.length) {
      return -1;
    }
    for (int k = 0; k < word.length(); k++) {
      if (b[i + k] != word.charAt(k)) {
        return -1;
      }
    }
    return end;
  }

  private static int space(byte[] b, int i) {
    while (i < b.length && isSpace(b[i])) {
      i++;
    }
    return i;
  }

  private static boolean isSpace(byte c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
  }
}
