package io.shardcluster.routing;

import com.google.protobuf.ByteString;
import java.util.Comparator;

/**
 * Keys {@code [start, end)} of a range keyspace in unsigned byte order; an empty {@code end} is the
 * end of the keyspace.
 */
public record KeyRange(ByteString start, ByteString end) {
  private static final Comparator<ByteString> ORDER =
      ByteString.unsignedLexicographicalComparator();

  /** The smallest key after {@code key}. */
  public static ByteString successor(ByteString key) {
    return key.concat(ByteString.copyFrom(new byte[] {0}));
  }

  /** The smallest key after every key starting with {@code prefix}; empty if there is none. */
  public static ByteString afterPrefix(ByteString prefix) {
    byte[] bytes = prefix.toByteArray();
    for (int i = bytes.length - 1; i >= 0; i--) {
      if (bytes[i] != (byte) 0xff) {
        bytes[i]++;
        return ByteString.copyFrom(bytes, 0, i + 1);
      }
    }
    return ByteString.EMPTY;
  }

  /** Whether the range holds the key. */
  public boolean contains(byte[] key) {
    // Wrapped, not copied: this runs for every write to a moving key.
    ByteString k = com.google.protobuf.UnsafeByteOperations.unsafeWrap(key);
    return ORDER.compare(k, start) >= 0 && (end.isEmpty() || ORDER.compare(k, end) < 0);
  }

  /** Whether every key of {@code other} is in this range. */
  public boolean contains(KeyRange other) {
    return ORDER.compare(other.start, start) >= 0
        && (end.isEmpty() || (!other.end.isEmpty() && ORDER.compare(other.end, end) <= 0));
  }

  @Override
  public String toString() {
    return "["
        + RangeMap.printable(start.toByteArray())
        + ", "
        + (end.isEmpty() ? "end" : RangeMap.printable(end.toByteArray()))
        + ")";
  }
}
