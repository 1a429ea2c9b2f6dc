package io.shardcluster.node;

import com.google.protobuf.ByteString;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
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
 * @param ranges sizes of the ranges of range keyspaces this node owns
 * @param keyspaceKeys keys owned per keyspace (in a directory keyspace: stored)
 * @param writes the writes the node had taken when the count began (since it started)
 */
record KeyCounts(
    long epoch,
    long keys,
    long bytes,
    Map<EntrySlot, long[]> entries,
    Map<RangeSlot, RangeSize> ranges,
    Map<String, Long> keyspaceKeys,
    long writes) {
  /** A range of a range keyspace, by its first key. */
  record RangeSlot(String keyspace, ByteString start) {}

  /**
   * Keys and bytes of a range, and every {@code step}-th of its keys in order (at most {@link
   * #SAMPLES}), from which its median is read.
   */
  static final class RangeSize {
    private static final int SAMPLES = 64;
    long keys;
    long bytes;
    private final List<byte[]> samples = new ArrayList<>();
    private long step = 1;

    void add(byte[] key, long size) {
      if (keys % step == 0) {
        samples.add(key);
        if (samples.size() > SAMPLES) {
          // Keep every other sample: they stay evenly spaced, at twice the distance.
          for (int i = 0; i < (samples.size() + 1) / 2; i++) {
            samples.set(i, samples.get(2 * i));
          }
          samples.subList((samples.size() + 1) / 2, samples.size()).clear();
          step *= 2;
        }
      }
      keys++;
      bytes += size;
    }

    /** About the middle key; empty if the range has no keys. */
    byte[] median() {
      return samples.isEmpty() ? new byte[0] : samples.get(samples.size() / 2);
    }
  }

  /** A directory entry of a keyspace, by key and kind. */
  record EntrySlot(String keyspace, ByteString key, boolean prefix) {
    static EntrySlot of(String keyspace, DirectoryEntry entry) {
      return new EntrySlot(keyspace, entry.key(), entry.prefix());
    }
  }

  static final KeyCounts NONE = new KeyCounts(0, 0, 0, Map.of(), Map.of(), Map.of(), 0);

  /**
   * Counts the keys the table gives {@code node}, scanning every keyspace once. A directory
   * keyspace's stored keys count as owned: a node stores only its groups' keys, but for the moments
   * a moved group's keys wait for cleanup.
   */
  static KeyCounts count(LocalStore store, RoutingTable table, String node, long writes) {
    long keys = 0;
    long bytes = 0;
    Map<EntrySlot, long[]> entries = new HashMap<>();
    Map<RangeSlot, RangeSize> ranges = new HashMap<>();
    Map<String, Long> perKeyspace = new HashMap<>();
    for (Keyspace keyspace : table.keyspaces().values()) {
      long keyspaceKeys = 0;
      try (LocalStore.Cursor cursor = store.scan(keyspace)) {
        while (cursor.advance()) {
          byte[] key = cursor.key();
          Optional<DirectoryEntry> entry =
              keyspace.directory().isEmpty()
                  ? Optional.empty()
                  : keyspace.directory().entryFor(key);
          String owner =
              keyspace.isDirectory()
                  ? node
                  : entry.map(DirectoryEntry::owner).orElseGet(() -> keyspace.ownerOf(key));
          if (!node.equals(owner)) {
            continue;
          }
          long size = (long) key.length + cursor.value().length;
          keys++;
          keyspaceKeys++;
          bytes += size;
          if (keyspace.isRange()) {
            ByteString start =
                ByteString.copyFrom(keyspace.ranges().start(keyspace.ranges().indexOf(key)));
            ranges
                .computeIfAbsent(new RangeSlot(keyspace.name(), start), r -> new RangeSize())
                .add(key, size);
          }
          if (entry.isPresent()) {
            long[] counts =
                entries.computeIfAbsent(
                    EntrySlot.of(keyspace.name(), entry.get()), e -> new long[2]);
            counts[0]++;
            counts[1] += size;
          }
        }
      }
      perKeyspace.put(keyspace.name(), keyspaceKeys);
    }
    return new KeyCounts(table.epoch(), keys, bytes, entries, ranges, perKeyspace, writes);
  }
}
