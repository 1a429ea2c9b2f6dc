package io.shardcluster.query;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * One stored key and its value, read as a document (a JSON object) only when a field is first asked
 * for: a query that needs no field, such as {@code COUNT(*)}, never parses values.
 */
public final class Row {
  private final byte[] key;
  private final byte[] value;
  private final Set<String> fields;
  private JsonNode document;
  private boolean parsed;

  private Row(byte[] key, byte[] value, Set<String> fields) {
    this.key = key;
    this.value = value;
    this.fields = fields;
  }

  /** The key and its stored value. */
  public static Row of(byte[] key, byte[] value) {
    return new Row(key, value, null);
  }

  /** The key and its stored value, of whose document only the named top-level fields are read. */
  static Row of(byte[] key, byte[] value, Set<String> fields) {
    return new Row(key, value, fields);
  }

  /** The stored key. */
  public byte[] key() {
    return key;
  }

  /** The value as a document; null if it is not a JSON object (then it has no fields). */
  public JsonNode document() {
    if (!parsed) {
      document = fields == null ? Values.document(value) : Values.document(value, fields);
      parsed = true;
    }
    return document;
  }

  /** The value of a field path ({@code a.b} for nested objects, {@code _key} for the key). */
  public JsonNode field(Field field) {
    if (field.isKey()) {
      return TextNode.valueOf(new String(key, StandardCharsets.UTF_8));
    }
    JsonNode node = document();
    for (String part : field.parts()) {
      if (node == null || !node.isObject()) {
        return null;
      }
      node = node.get(part);
    }
    return node;
  }
}
