package io.shardcluster.routing;

/**
 * The position of a key on a hash keyspace: the first 64 bits of MurmurHash3_x64_128 of the key
 * bytes with seed 0 (Cassandra's Murmur3 token, read as an unsigned number). Stable across releases
 * and languages; test vectors from the reference implementation pin it, and a test checks it
 * against Guava's implementation on random keys.
 *
 * <p>Written out rather than taken from Guava because it runs for every key of every request and
 * every key a migration scans: this version allocates nothing and runs several times faster.
 */
public final class KeyHash {
  private static final long C1 = 0x87c37b91114253d5L;
  private static final long C2 = 0x4cf5ad432745937fL;

  private KeyHash() {}

  /** The key's position, an unsigned 64-bit number. */
  public static long position(byte[] key) {
    return murmur3(key, 0, key.length, 0);
  }

  /** The first 64 bits of MurmurHash3_x64_128 of {@code data[offset, offset + length)}. */
  public static long murmur3(byte[] data, int offset, int length, long seed) {
    long h1 = seed;
    long h2 = seed;
    int blocks = length / 16;
    for (int i = 0; i < blocks; i++) {
      int at = offset + i * 16;
      long k1 = littleEndian(data, at);
      long k2 = littleEndian(data, at + 8);
      h1 ^= mixK1(k1);
      h1 = Long.rotateLeft(h1, 27) + h2;
      h1 = h1 * 5 + 0x52dce729;
      h2 ^= mixK2(k2);
      h2 = Long.rotateLeft(h2, 31) + h1;
      h2 = h2 * 5 + 0x38495ab5;
    }
    int tail = offset + blocks * 16;
    int rest = length & 15;
    long k1 = 0;
    long k2 = 0;
    for (int i = rest - 1; i >= 8; i--) {
      k2 ^= (data[tail + i] & 0xffL) << ((i - 8) * 8);
    }
    for (int i = Math.min(rest, 8) - 1; i >= 0; i--) {
      k1 ^= (data[tail + i] & 0xffL) << (i * 8);
    }
    if (rest > 8) {
      h2 ^= mixK2(k2);
    }
    if (rest > 0) {
      h1 ^= mixK1(k1);
    }
    h1 ^= length;
    h2 ^= length;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    return h1;
  }

  private static long mixK1(long k1) {
    return Long.rotateLeft(k1 * C1, 31) * C2;
  }

  private static long mixK2(long k2) {
    return Long.rotateLeft(k2 * C2, 33) * C1;
  }

  private static long fmix64(long k) {
    k ^= k >>> 33;
    k *= 0xff51afd7ed558ccdL;
    k ^= k >>> 33;
    k *= 0xc4ceb9fe1a85ec53L;
    k ^= k >>> 33;
    return k;
  }

  private static long littleEndian(byte[] data, int at) {
    long value = 0;
    for (int i = 7; i >= 0; i--) {
      value = (value << 8) | (data[at + i] & 0xffL);
    }
    return value;
  }
}
