package io.shardcluster.query;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One stored key and its value, read as a document (a JSON object) only when a field is first asked
 * for: a query that needs no field, such as {@code COUNT(*)}, never parses values.
 */
public final class Row {
  private final byte[] key;
  private final byte[] value;
  private final @Nullable FieldReader fields;
  private @Nullable JsonNode document;
  private boolean documentRead;
  // With a field reader: the values of its fields (null if the value is not a document).
  private JsonNode @Nullable [] values;
  private boolean valuesRead;

  private Row(byte[] key, byte[] value, @Nullable FieldReader fields) {
    this.key = key;
    this.value = value;
    this.fields = fields;
  }

  /** The key and its stored value. */
  public static Row of(byte[] key, byte[] value) {
    return new Row(key, value, null);
  }

  /** The key and its stored value, of whose document only the reader's fields are read. */
  static Row of(byte[] key, byte[] value, @Nullable FieldReader fields) {
    return new Row(key, value, fields);
  }

  /** The stored key. */
  public byte[] key() {
    return key;
  }

  /** The value as a whole document; null if it is not a JSON object (then it has no fields). */
  public @Nullable JsonNode document() {
    if (!documentRead) {
      document = Values.document(value);
      documentRead = true;
    }
    return document;
  }

  /** The value of a field path ({@code a.b} for nested objects, {@code _key} for the key). */
  public @Nullable JsonNode field(Field field) {
    if (field.isKey()) {
      return TextNode.valueOf(new String(key, StandardCharsets.UTF_8));
    }
    List<String> parts = field.parts();
    JsonNode node;
    if (fields == null) {
      node = document();
      if (node == null) {
        return null;
      }
      node = node.get(parts.get(0));
    } else {
      if (!valuesRead) {
        values = fields.read(value);
        valuesRead = true;
      }
      int index = fields.indexOf(parts.get(0));
      node = values == null || index < 0 ? null : values[index];
    }
    for (int i = 1; i < parts.size(); i++) {
      if (node == null || !node.isObject()) {
        return null;
      }
      node = node.get(parts.get(i));
    }
    return node;
  }
}
