package io.shardcluster.routing;

import com.google.protobuf.ByteString;
import java.util.Arrays;
import java.util.Comparator;

/**
 * The order in which a keyspace's keys are stored on a node, and so the order its scans return them
 * in. A range keyspace is in key order. A hash keyspace is in position order, ties (equal
 * positions) broken by key, as Cassandra's token order is: everything that moves between nodes is a
 * range of positions, so a move reads and deletes contiguous keys. A directory keyspace is in the
 * order of its groups' positions, then by key, so each group's keys are contiguous and in key
 * order.
 */
public final class ScanOrder {
  private ScanOrder() {}

  /** Whether the keyspace is stored in plain key order (a range keyspace). */
  public static boolean isKeyOrder(Keyspace keyspace) {
    return keyspace.isRange();
  }

  /**
   * The position a key is stored under in a hash or directory keyspace: its own, or its group's.
   * Not for range keyspaces.
   */
  public static long positionOf(Keyspace keyspace, byte[] key) {
    if (keyspace.isDirectory()) {
      return KeyHash.murmur3(key, 0, keyspace.grouping().groupOf(key).size(), 0);
    }
    return KeyHash.position(key);
  }

  /** Compares two keys in the keyspace's order. */
  public static int compare(Keyspace keyspace, byte[] a, byte[] b) {
    if (!isKeyOrder(keyspace)) {
      int byPosition = Long.compareUnsigned(positionOf(keyspace, a), positionOf(keyspace, b));
      if (byPosition != 0) {
        return byPosition;
      }
    }
    return Arrays.compareUnsigned(a, b);
  }

  /** The keyspace's order over keys held as byte strings. */
  public static Comparator<ByteString> comparator(Keyspace keyspace) {
    if (isKeyOrder(keyspace)) {
      return ByteString.unsignedLexicographicalComparator();
    }
    return (a, b) -> compare(keyspace, a.toByteArray(), b.toByteArray());
  }
}
