package io.shardcluster.routing;

import com.google.common.hash.HashFunction;
import com.google.common.hash.Hashing;

/**
 * The position of a key on a hash keyspace: the first 64 bits of MurmurHash3_x64_128 of the key
 * bytes with seed 0 (Cassandra's Murmur3 token, read as an unsigned number). Stable across releases
 * and languages; test vectors pin it.
 */
public final class KeyHash {
  private static final HashFunction MURMUR3 = Hashing.murmur3_128(0);

  private KeyHash() {}

  /** The key's position, an unsigned 64-bit number. */
  public static long position(byte[] key) {
    return MURMUR3.hashBytes(key).asLong();
  }
}
