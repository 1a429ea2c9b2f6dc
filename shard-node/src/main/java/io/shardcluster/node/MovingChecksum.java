package io.shardcluster.node;

import com.google.common.hash.HashFunction;
import com.google.common.hash.Hashing;

/**
 * Count and checksum of a set of keys with their values: the sum, mod 2^64, of a 64-bit hash of
 * each (key, value), so it does not depend on order and a key's contribution can be taken out again
 * when its value changes. Not thread-safe.
 */
final class MovingChecksum {
  private static final HashFunction HASH = Hashing.murmur3_128(0x5eed);

  private long count;
  private long sum;

  MovingChecksum() {}

  MovingChecksum(long count, long sum) {
    this.count = count;
    this.sum = sum;
  }

  static long hash(byte[] key, byte[] value) {
    return HASH.newHasher(key.length + value.length + 4)
        .putInt(key.length)
        .putBytes(key)
        .putBytes(value)
        .hash()
        .asLong();
  }

  void add(byte[] key, byte[] value) {
    count++;
    sum += hash(key, value);
  }

  /** Replaces the key's old value (null if absent) by the new one (null if deleted). */
  void change(byte[] key, byte[] oldValue, byte[] newValue) {
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
