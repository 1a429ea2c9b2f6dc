package io.shardcluster.client;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import java.nio.charset.StandardCharsets;

/**
 * Which rows a scan returns: keys in {@code [from, to)} in unsigned byte order, at most {@code
 * limit} of them.
 *
 * @param from first key, inclusive; empty for the first key there is
 * @param to end key, exclusive; empty for no end
 * @param limit most rows to return; 0 for no limit
 */
public record ScanOptions(byte[] from, byte[] to, long limit) {
  public ScanOptions {
    requireArgument(limit >= 0, "limit must not be negative, got %s", limit);
    requireArgument(from != null && to != null, "from and to must not be null; use empty arrays");
  }

  /** Every row. */
  public static ScanOptions all() {
    return new ScanOptions(new byte[0], new byte[0], 0);
  }

  /** These options starting at the key, inclusive. */
  public ScanOptions from(String key) {
    return new ScanOptions(key.getBytes(StandardCharsets.UTF_8), to, limit);
  }

  /** These options ending before the key. */
  public ScanOptions to(String key) {
    return new ScanOptions(from, key.getBytes(StandardCharsets.UTF_8), limit);
  }

  /** These options returning at most {@code n} rows. */
  public ScanOptions limit(long n) {
    return new ScanOptions(from, to, n);
  }
}
