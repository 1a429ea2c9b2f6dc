package io.shardcluster.routing;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Range partitioning: the key space cut into contiguous ranges, each owned by one node. Keys
 * compare as unsigned bytes (lexicographically); range {@code i} holds {@code [start(i),
 * start(i+1))}, the first starts at the empty key and the last runs to the end. Splitting a range
 * keeps both halves with its owner; moving one changes only its owner. Immutable.
 */
public final class RangeMap {
  private final byte[][] starts;
  // The same starts as immutable strings, made once: per-range counters key on them per request.
  private final ByteString[] startKeys;
  private final String[] owners;

  private RangeMap(byte[][] starts, String[] owners) {
    this.starts = starts;
    this.owners = owners;
    this.startKeys = new ByteString[starts.length];
    for (int i = 0; i < starts.length; i++) {
      startKeys[i] = ByteString.copyFrom(starts[i]);
    }
  }

  /** One range holding every key. */
  public static RangeMap single(String owner) {
    return of(List.of(new byte[0]), List.of(owner));
  }

  /**
   * Ranges from their starts (strictly increasing, the first one empty) and owners;
   * INVALID_ARGUMENT otherwise.
   */
  public static RangeMap of(List<byte[]> starts, List<String> owners) {
    requireArgument(!starts.isEmpty(), "a range map needs at least one range");
    requireArgument(starts.size() == owners.size(), "starts and owners differ in length");
    requireArgument(starts.get(0).length == 0, "the first range must start at the empty key");
    byte[][] copied = new byte[starts.size()][];
    for (int i = 0; i < copied.length; i++) {
      copied[i] = starts.get(i).clone();
      if (i > 0 && Arrays.compareUnsigned(copied[i - 1], copied[i]) >= 0) {
        throw ShardClusterException.invalidArgument(
            "range starts must be strictly increasing, got "
                + printable(copied[i - 1])
                + " then "
                + printable(copied[i]));
      }
      String owner = owners.get(i);
      requireArgument(owner != null && !owner.isEmpty(), "every range needs an owner");
    }
    return new RangeMap(copied, owners.toArray(String[]::new));
  }

  /** How many ranges there are. */
  public int size() {
    return starts.length;
  }

  /** The first key of range {@code i}. */
  public byte[] start(int i) {
    return starts[i].clone();
  }

  /** The first key of range {@code i}, without copying. */
  public ByteString startKey(int i) {
    return startKeys[i];
  }

  /** The owner of range {@code i}. */
  public String owner(int i) {
    return owners[i];
  }

  /** The index of the range holding the key: the last one starting at or before it. */
  public int indexOf(byte[] key) {
    int low = 0;
    int high = starts.length - 1;
    while (low < high) {
      int mid = (low + high + 1) >>> 1;
      if (Arrays.compareUnsigned(starts[mid], key) <= 0) {
        low = mid;
      } else {
        high = mid - 1;
      }
    }
    return low;
  }

  /** The index of the range starting exactly at {@code start}, or -1 if none does. */
  public int indexOfStart(byte[] start) {
    int index = indexOf(start);
    return Arrays.equals(starts[index], start) ? index : -1;
  }

  /** Range {@code i} as a key range. */
  public KeyRange range(int i) {
    return new KeyRange(startKeys[i], i + 1 < starts.length ? startKeys[i + 1] : ByteString.EMPTY);
  }

  /** The node that owns the key. */
  public String ownerOf(byte[] key) {
    return owners[indexOf(key)];
  }

  /**
   * The map with the range holding {@code at} split there, both halves with its owner.
   * INVALID_ARGUMENT if a range already starts at {@code at}.
   */
  public RangeMap split(byte[] at) {
    int index = indexOf(at);
    requireArgument(
        !Arrays.equals(starts[index], at), "a range already starts at %s", printable(at));
    List<byte[]> newStarts = new ArrayList<>(Arrays.asList(starts));
    List<String> newOwners = new ArrayList<>(Arrays.asList(owners));
    newStarts.add(index + 1, at);
    newOwners.add(index + 1, owners[index]);
    return of(newStarts, newOwners);
  }

  /** The map with range {@code index} owned by {@code owner}. */
  public RangeMap assign(int index, String owner) {
    requireArgument(index >= 0 && index < starts.length, "no range %s", index);
    requireArgument(owner != null && !owner.isEmpty(), "every range needs an owner");
    String[] newOwners = owners.clone();
    newOwners[index] = owner;
    return new RangeMap(starts, newOwners);
  }

  /** How many ranges each owner has, in order of first appearance. */
  public Map<String, Integer> rangesPerOwner() {
    Map<String, Integer> counts = new LinkedHashMap<>();
    for (String owner : owners) {
      counts.merge(owner, 1, Integer::sum);
    }
    return counts;
  }

  /** A key as text if it is printable ASCII, else as hex. */
  static String printable(byte[] key) {
    for (byte b : key) {
      if (b < 0x20 || b > 0x7e) {
        StringBuilder hex = new StringBuilder("0x");
        for (byte x : key) {
          hex.append(String.format("%02x", x & 0xff));
        }
        return hex.toString();
      }
    }
    return "'" + new String(key, StandardCharsets.US_ASCII) + "'";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RangeMap other
        && Arrays.deepEquals(starts, other.starts)
        && Arrays.equals(owners, other.owners);
  }

  @Override
  public int hashCode() {
    return Arrays.deepHashCode(starts) * 31 + Arrays.hashCode(owners);
  }

  @Override
  public String toString() {
    StringBuilder text = new StringBuilder("RangeMap{");
    for (int i = 0; i < starts.length; i++) {
      text.append(i == 0 ? "" : ", ").append(printable(starts[i])).append(" -> ").append(owners[i]);
    }
    return text.append('}').toString();
  }
}
