package io.shardcluster.query;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.nio.charset.StandardCharsets;

/**
 * One stored key and its value as a document (null when the value is not a JSON object, so it has
 * no fields).
 */
public record Row(byte[] key, JsonNode document) {
  /** The key and the document its value holds, if any. */
  public static Row of(byte[] key, byte[] value) {
    return new Row(key, Values.document(value));
  }

  /** The value of a field path ({@code a.b} for nested objects, {@code _key} for the key). */
  public JsonNode field(Field field) {
    if (field.isKey()) {
      return TextNode.valueOf(new String(key, StandardCharsets.UTF_8));
    }
    JsonNode node = document;
    for (String part : field.parts()) {
      if (node == null || !node.isObject()) {
        return null;
      }
      node = node.get(part);
    }
    return node;
  }
}
