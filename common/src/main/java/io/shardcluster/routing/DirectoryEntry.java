package io.shardcluster.routing;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import com.google.protobuf.ByteString;

/**
 * Places one key ({@code prefix == false}) or every key that starts with {@code key} on a node,
 * overriding the keyspace's intervals.
 */
public record DirectoryEntry(ByteString key, boolean prefix, String owner) {
  public DirectoryEntry {
    requireArgument(!key.isEmpty(), "a directory entry needs a non-empty key");
    requireArgument(owner != null && !owner.isEmpty(), "a directory entry needs an owner");
  }

  /**
   * The exclusive end of the keys the entry matches, which start at {@link #key()}: the key
   * followed by a zero byte for an exact key, the next prefix for a prefix (empty for no end: a
   * prefix of 0xff bytes only).
   */
  public ByteString keyEnd() {
    return prefix ? KeyRange.afterPrefix(key) : KeyRange.successor(key);
  }

  @Override
  public String toString() {
    return (prefix ? "prefix " : "key ") + key.toStringUtf8() + " -> " + owner;
  }
}
