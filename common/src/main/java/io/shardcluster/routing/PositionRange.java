package io.shardcluster.routing;

/**
 * Positions {@code [start, end)} of a hash keyspace, unsigned; {@code end == 0} stands for 2^64,
 * the end of the space.
 */
public record PositionRange(long start, long end) {
  /** Whether the range holds the position. */
  public boolean contains(long position) {
    return Long.compareUnsigned(position, start) >= 0
        && (end == 0 || Long.compareUnsigned(position, end) < 0);
  }

  /** The fraction of the whole position space the range covers. */
  public double fraction() {
    return new Interval(start, end, "-").fraction();
  }

  @Override
  public String toString() {
    return "[" + Interval.hex(start) + ", " + (end == 0 ? "end" : Interval.hex(end)) + ")";
  }
}
