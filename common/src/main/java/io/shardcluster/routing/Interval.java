package io.shardcluster.routing;

/**
 * Positions {@code [start, end)} of a hash keyspace, owned by one node. Positions are unsigned
 * 64-bit numbers; {@code end == 0} stands for 2^64, the end of the space.
 */
public record Interval(long start, long end, String owner) {
  private static final double TWO_POW_64 = 0x1.0p64;

  /** Whether the interval holds the position. */
  public boolean contains(long position) {
    return Long.compareUnsigned(position, start) >= 0
        && (end == 0 || Long.compareUnsigned(position, end) < 0);
  }

  /** The fraction of the whole position space the interval covers. */
  public double fraction() {
    if (start == 0 && end == 0) {
      return 1.0;
    }
    return unsignedToDouble(end - start) / TWO_POW_64;
  }

  static double unsignedToDouble(long value) {
    double d = (double) (value >>> 1) * 2.0;
    return d + (value & 1);
  }

  @Override
  public String toString() {
    return "[" + hex(start) + ", " + (end == 0 ? "end" : hex(end)) + ") -> " + owner;
  }

  /** A position as 16 hex digits. */
  public static String hex(long position) {
    return String.format("%016x", position);
  }
}
