package io.shardcluster.routing;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import io.shardcluster.errors.ShardClusterException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A consistent-hash ring modelled as the intervals between its tokens: sorted, non-overlapping
 * intervals covering the whole 64-bit position space, each owned by one node. Immutable. Lookup
 * takes constant time: the position's top bits pick a bucket, which knows the interval its first
 * position is in, and the few intervals starting inside the bucket are stepped over.
 */
public final class HashRing {
  private static final HashRing EMPTY = new HashRing(List.of());

  private final List<Interval> intervals;
  // Interval starts with the sign bit flipped, so signed comparison orders them as unsigned.
  private final long[] flippedStarts;
  private final String[] owners;
  // Buckets: the top `bucketBits` bits of a position; there are about four per interval.
  private final int bucketBits;
  // For each bucket, the index of the interval holding the bucket's first position.
  private final int[] firstInBucket;

  private HashRing(List<Interval> intervals) {
    this.intervals = List.copyOf(intervals);
    this.flippedStarts = new long[intervals.size()];
    this.owners = new String[intervals.size()];
    for (int i = 0; i < intervals.size(); i++) {
      flippedStarts[i] = intervals.get(i).start() ^ Long.MIN_VALUE;
      owners[i] = intervals.get(i).owner();
    }
    int size = Math.max(1, intervals.size());
    bucketBits = Math.min(16, 64 - Long.numberOfLeadingZeros(size - 1L) + 2);
    firstInBucket = new int[intervals.isEmpty() ? 0 : 1 << bucketBits];
    int index = 0;
    for (int bucket = 0; bucket < firstInBucket.length; bucket++) {
      long flippedFirst = ((long) bucket << (64 - bucketBits)) ^ Long.MIN_VALUE;
      while (index + 1 < flippedStarts.length && flippedStarts[index + 1] <= flippedFirst) {
        index++;
      }
      firstInBucket[bucket] = index;
    }
  }

  /** The index of the interval holding the position; the ring must not be empty. */
  private int indexOf(long position) {
    int bucket = (int) (position >>> (64 - bucketBits));
    int index = firstInBucket[bucket];
    int last = bucket + 1 < firstInBucket.length ? firstInBucket[bucket + 1] : owners.length - 1;
    long flipped = position ^ Long.MIN_VALUE;
    if (last - index > 8) {
      // Many intervals start inside this bucket (tiny ones): search them.
      int found = Arrays.binarySearch(flippedStarts, index, last + 1, flipped);
      return found >= 0 ? found : -found - 2;
    }
    while (index < last && flippedStarts[index + 1] <= flipped) {
      index++;
    }
    return index;
  }

  /** A ring with no owners, before any node has joined. */
  public static HashRing empty() {
    return EMPTY;
  }

  /**
   * A ring from interval starts and owners, sorted by start; each interval runs to the next start.
   * Adjacent intervals with the same owner are merged.
   */
  public static HashRing of(List<Long> starts, List<String> owners) {
    requireArgument(starts.size() == owners.size(), "starts and owners differ in length");
    if (starts.isEmpty()) {
      return EMPTY;
    }
    requireArgument(starts.get(0) == 0, "the first interval must start at position 0");
    List<Interval> intervals = new ArrayList<>(starts.size());
    for (int i = 0; i < starts.size(); i++) {
      long start = starts.get(i);
      long end = i + 1 < starts.size() ? starts.get(i + 1) : 0;
      if (end != 0 && Long.compareUnsigned(start, end) >= 0) {
        throw ShardClusterException.invalidArgument(
            "interval starts must be strictly increasing, got "
                + Interval.hex(start)
                + " then "
                + Interval.hex(end));
      }
      String owner = owners.get(i);
      requireArgument(owner != null && !owner.isEmpty(), "every interval needs an owner");
      if (!intervals.isEmpty() && intervals.get(intervals.size() - 1).owner().equals(owner)) {
        Interval previous = intervals.remove(intervals.size() - 1);
        intervals.add(new Interval(previous.start(), end, owner));
      } else {
        intervals.add(new Interval(start, end, owner));
      }
    }
    return new HashRing(intervals);
  }

  /** The intervals, sorted by start. */
  public List<Interval> intervals() {
    return intervals;
  }

  /** Whether no node owns anything yet. */
  public boolean isEmpty() {
    return intervals.isEmpty();
  }

  /** The owner of a position, or null if the ring is empty. */
  public @Nullable String ownerOf(long position) {
    if (owners.length == 0) {
      return null;
    }
    return owners[indexOf(position)];
  }

  /** The interval holding a position, or null if the ring is empty. */
  public @Nullable Interval intervalOf(long position) {
    if (owners.length == 0) {
      return null;
    }
    return intervals.get(indexOf(position));
  }

  /** The ring with every position of the range owned by {@code owner}. */
  public HashRing assign(PositionRange range, String owner) {
    if (intervals.isEmpty()) {
      throw ShardClusterException.failedPrecondition("cannot assign positions of an empty ring");
    }
    List<Long> starts = new ArrayList<>();
    List<String> owners = new ArrayList<>();
    for (Interval interval : intervals) {
      // Cut each interval where the range starts and ends; pieces inside go to the new owner.
      long[] cuts = {interval.start(), range.start(), range.end()};
      List<Long> bounds = new ArrayList<>();
      bounds.add(interval.start());
      for (int c = 1; c < cuts.length; c++) {
        long cut = cuts[c];
        if (cut != interval.start() && interval.contains(cut) && !bounds.contains(cut)) {
          bounds.add(cut);
        }
      }
      bounds.sort(Long::compareUnsigned);
      for (long start : bounds) {
        starts.add(start);
        owners.add(range.contains(start) ? owner : interval.owner());
      }
    }
    return of(starts, owners);
  }

  /**
   * The position ranges that {@code from} owns in this ring and {@code to} owns in {@code after},
   * merged where adjacent.
   */
  public List<PositionRange> movedTo(HashRing after, String from, String to) {
    // Walk both rings' boundaries together.
    List<Long> bounds = new ArrayList<>();
    intervals.forEach(i -> bounds.add(i.start()));
    after.intervals.forEach(i -> bounds.add(i.start()));
    List<Long> sorted = bounds.stream().distinct().sorted(Long::compareUnsigned).toList();
    List<PositionRange> moved = new ArrayList<>();
    for (int i = 0; i < sorted.size(); i++) {
      long start = sorted.get(i);
      long end = i + 1 < sorted.size() ? sorted.get(i + 1) : 0;
      if (from.equals(ownerOf(start)) && to.equals(after.ownerOf(start))) {
        if (!moved.isEmpty() && moved.get(moved.size() - 1).end() == start) {
          PositionRange last = moved.remove(moved.size() - 1);
          moved.add(new PositionRange(last.start(), end));
        } else {
          moved.add(new PositionRange(start, end));
        }
      }
    }
    return moved;
  }

  /** Each owner's fraction of the position space, in order of first appearance. */
  public Map<String, Double> shares() {
    Map<String, Double> shares = new LinkedHashMap<>();
    for (Interval interval : intervals) {
      shares.merge(interval.owner(), interval.fraction(), Double::sum);
    }
    return Collections.unmodifiableMap(shares);
  }

  /** The intervals a node owns. */
  public List<Interval> intervalsOf(String node) {
    return intervals.stream().filter(i -> i.owner().equals(node)).toList();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HashRing other && intervals.equals(other.intervals);
  }

  @Override
  public int hashCode() {
    return intervals.hashCode();
  }

  @Override
  public String toString() {
    return "HashRing" + intervals;
  }
}
