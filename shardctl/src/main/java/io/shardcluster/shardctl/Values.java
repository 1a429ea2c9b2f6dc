package io.shardcluster.shardctl;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Test data for load, verify and bench: key {@code prefix + i}, and a value of printable characters
 * derived from the key alone, so anyone can recompute and check it.
 */
final class Values {
  private static final byte[] ALPHABET =
      "abcdefghijklmnopqrstuvwxyz0123456789".getBytes(StandardCharsets.US_ASCII);

  private Values() {}

  static byte[] key(String prefix, long index) {
    return (prefix + index).getBytes(StandardCharsets.UTF_8);
  }

  /** The value for a key: {@code size} characters from a generator seeded by the key. */
  static byte[] forKey(byte[] key, int size) {
    long seed = 1125899906842597L;
    for (byte b : key) {
      seed = 31 * seed + b;
    }
    SplittableRandom random = new SplittableRandom(seed);
    byte[] value = new byte[size];
    for (int i = 0; i < size; i++) {
      value[i] = ALPHABET[random.nextInt(ALPHABET.length)];
    }
    return value;
  }
}
