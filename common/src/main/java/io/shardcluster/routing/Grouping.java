package io.shardcluster.routing;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;

/**
 * How a directory keyspace groups its keys: a key's group is the key up to the first occurrence of
 * the separator (the whole key if it has none, or if the separator is empty), so {@code
 * acme:order:17} is in group {@code acme}. Groups are placed on nodes by entries the coordinator
 * keeps; {@code version} is the epoch at which an existing group last changed owner, so an entry
 * looked up before it is stale.
 */
public record Grouping(ByteString separator, long version) {
  /** The separator used when none is given. */
  public static final ByteString DEFAULT_SEPARATOR = ByteString.copyFromUtf8(":");

  /** The longest separator allowed. */
  public static final int MAX_SEPARATOR_BYTES = 16;

  public Grouping {
    requireArgument(
        separator.size() <= MAX_SEPARATOR_BYTES,
        "a group separator may be at most %s bytes",
        MAX_SEPARATOR_BYTES);
  }

  /** The group of a key. */
  public ByteString groupOf(byte[] key) {
    int end = indexOf(key);
    return UnsafeByteOperations.unsafeWrap(key, 0, end < 0 ? key.length : end);
  }

  /** Whether the key belongs to the group. */
  public boolean isInGroup(byte[] key, ByteString group) {
    int end = indexOf(key);
    int length = end < 0 ? key.length : end;
    if (length != group.size()) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      if (key[i] != group.byteAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** A copy at another version. */
  public Grouping withVersion(long newVersion) {
    return new Grouping(separator, newVersion);
  }

  private int indexOf(byte[] key) {
    int n = separator.size();
    if (n == 0) {
      return -1;
    }
    byte first = separator.byteAt(0);
    outer:
    for (int i = 0; i + n <= key.length; i++) {
      if (key[i] != first) {
        continue;
      }
      for (int j = 1; j < n; j++) {
        if (key[i + j] != separator.byteAt(j)) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
