package io.shardcluster.client;

import java.nio.charset.StandardCharsets;

/**
 * A key and its value. The arrays are not copied; do not change them after handing them over.
 *
 * @param key the key bytes
 * @param value the value bytes
 */
public record KeyValue(byte[] key, byte[] value) {
  /** A pair from UTF-8 strings. */
  public static KeyValue of(String key, String value) {
    return new KeyValue(
        key.getBytes(StandardCharsets.UTF_8), value.getBytes(StandardCharsets.UTF_8));
  }

  /** The key decoded as UTF-8. */
  public String keyString() {
    return new String(key, StandardCharsets.UTF_8);
  }

  /** The value decoded as UTF-8. */
  public String valueString() {
    return new String(value, StandardCharsets.UTF_8);
  }
}
