package io.shardcluster.node;

import io.shardcluster.routing.KeyHash;
import org.jspecify.annotations.Nullable;

/**
 * Count and checksum of a set of keys with their values: the sum, mod 2^64, of a 64-bit hash of
 * each (key, value), so it does not depend on order and a key's contribution can be taken out again
 * when its value changes. Not thread-safe.
 */
final class MovingChecksum {

  private long count;
  private long sum;

  MovingChecksum() {}

  MovingChecksum(long count, long sum) {
    this.count = count;
    this.sum = sum;
  }

  /** A 64-bit hash of the pair: Murmur3 of each, bound together so swapped values differ. */
  static long hash(byte[] key, byte[] value) {
    long k = KeyHash.murmur3(key, 0, key.length, 0x5eed);
    long v = KeyHash.murmur3(value, 0, value.length, 0xca11);
    long h = (k ^ Long.rotateLeft(v, 29)) * 0x9e3779b97f4a7c15L;
    return h ^ (h >>> 32);
  }

  void add(byte[] key, byte[] value) {
    count++;
    sum += hash(key, value);
  }

  /** Replaces the key's old value (null if absent) by the new one (null if deleted). */
  void change(byte[] key, byte @Nullable [] oldValue, byte @Nullable [] newValue) {
    if (oldValue != null) {
      count--;
      sum -= hash(key, oldValue);
    }
    if (newValue != null) {
      add(key, newValue);
    }
  }

  long count() {
    return count;
  }

  long sum() {
    return sum;
  }
}
