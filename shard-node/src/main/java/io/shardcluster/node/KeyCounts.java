package io.shardcluster.node;

import com.google.protobuf.ByteString;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * How many keys (and bytes) this node owns, in all and per directory entry, as of one full count.
 * The balancer plans with these, so they are counted, not estimated.
 *
 * @param epoch the routing epoch the ownership was judged at
 * @param keys keys owned
 * @param bytes bytes of owned keys and values
 * @param entries counts per directory entry this node owns
 */
record KeyCounts(long epoch, long keys, long bytes, Map<EntrySlot, long[]> entries) {
  /** A directory entry of a keyspace, by key and kind. */
  record EntrySlot(String keyspace, ByteString key, boolean prefix) {
    static EntrySlot of(String keyspace, DirectoryEntry entry) {
      return new EntrySlot(keyspace, entry.key(), entry.prefix());
    }
  }

  static final KeyCounts NONE = new KeyCounts(0, 0, 0, Map.of());

  /** Counts the keys the table gives {@code node}, scanning every keyspace once. */
  static KeyCounts count(LocalStore store, RoutingTable table, String node) {
    long keys = 0;
    long bytes = 0;
    Map<EntrySlot, long[]> entries = new HashMap<>();
    for (Keyspace keyspace : table.keyspaces().values()) {
      try (LocalStore.Cursor cursor = store.scan(keyspace.name(), new byte[0], new byte[0])) {
        while (cursor.advance()) {
          byte[] key = cursor.key();
          Optional<DirectoryEntry> entry =
              keyspace.directory().isEmpty()
                  ? Optional.empty()
                  : keyspace.directory().entryFor(key);
          String owner = entry.map(DirectoryEntry::owner).orElseGet(() -> keyspace.ownerOf(key));
          if (!node.equals(owner)) {
            continue;
          }
          long size = key.length + cursor.value().length;
          keys++;
          bytes += size;
          if (entry.isPresent()) {
            long[] counts =
                entries.computeIfAbsent(
                    EntrySlot.of(keyspace.name(), entry.get()), e -> new long[2]);
            counts[0]++;
            counts[1] += size;
          }
        }
      }
    }
    return new KeyCounts(table.epoch(), keys, bytes, entries);
  }
}
