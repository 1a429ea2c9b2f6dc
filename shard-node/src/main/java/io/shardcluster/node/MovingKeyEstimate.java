package io.shardcluster.node;

import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RoutingTable;
import java.util.Locale;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * How many keys a migration out of this node will move: what its progress and ETA are reckoned
 * against. From the last full count of the owned keys while that count is current; counted exactly,
 * by reading the keyspace's keys, when it is not (ownership changed since, or the node has taken
 * many writes since, as right after a bulk load), or when the count cannot say (moving ranges of a
 * range keyspace, groups of a directory keyspace, a directory entry the migration adds).
 */
final class MovingKeyEstimate {
  private static final Logger logger = Logger.getLogger(MovingKeyEstimate.class.getName());
  // The count is current while the writes since it are at most this fraction of its keys.
  private static final double STALE_WRITES = 0.1;

  private final LocalStore store;
  private final String nodeId;
  private final Supplier<RoutingTable> routing;
  private final Supplier<KeyCounts> counts;
  private final LongSupplier writes;

  /**
   * @param writes the writes this node has taken since it started, compared with {@link
   *     KeyCounts#writes()}
   */
  MovingKeyEstimate(
      LocalStore store,
      String nodeId,
      Supplier<RoutingTable> routing,
      Supplier<KeyCounts> counts,
      LongSupplier writes) {
    this.store = store;
    this.nodeId = nodeId;
    this.routing = routing;
    this.counts = counts;
    this.writes = writes;
  }

  /** About how many of this node's keys are in the moving set. */
  long of(MovingSet moving) {
    RoutingTable table = routing.get();
    Keyspace keyspace = table.keyspaces().get(moving.keyspace());
    if (keyspace == null) {
      return 0;
    }
    if (!moving.keyRanges().isEmpty()) {
      long keys = 0;
      for (KeyRange range : moving.keyRanges()) {
        keys += store.count(keyspace, range.start().toByteArray(), range.end().toByteArray());
      }
      return keys;
    }
    KeyCounts current = counts.get();
    Long counted = current.keyspaceKeys().get(keyspace.name());
    boolean currentCount =
        counted != null
            && !keyspace.isDirectory()
            && current.epoch() == table.epoch()
            && writes.getAsLong() - current.writes() <= STALE_WRITES * counted
            // An entry the migration adds has no count of its own yet.
            && moving.entries().stream()
                .allMatch(e -> keyspace.directory().get(e.key(), e.prefix()).isPresent());
    return currentCount && counted != null
        ? fromCount(moving, keyspace, current, counted)
        : counted(moving, keyspace);
  }

  private long fromCount(MovingSet moving, Keyspace keyspace, KeyCounts current, long counted) {
    // Ring ranges carry the keys the ring places, not those of the node's directory entries.
    long entryKeys =
        current.entries().entrySet().stream()
            .filter(e -> e.getKey().keyspace().equals(keyspace.name()))
            .mapToLong(e -> e.getValue()[0])
            .sum();
    long ringKeys = Math.max(0, counted - entryKeys);
    double share = keyspace.ring().shares().getOrDefault(nodeId, 0.0);
    long keys = share > 0 ? Math.round(ringKeys * Math.min(1, moving.share() / share)) : 0;
    for (DirectoryEntry entry : moving.entries()) {
      long[] entryCounts = current.entries().get(KeyCounts.EntrySlot.of(keyspace.name(), entry));
      keys += entryCounts == null ? 0 : entryCounts[0];
    }
    return keys;
  }

  private long counted(MovingSet moving, Keyspace keyspace) {
    long startNanos = System.nanoTime();
    long read = 0;
    long keys = 0;
    try (LocalStore.Cursor cursor = store.scan(null, keyspace, moving, null)) {
      while (cursor.advance()) {
        read++;
        if (moving.contains(keyspace, cursor.key())) {
          keys++;
        }
      }
    }
    logger.info(
        String.format(
            Locale.ROOT,
            "counted %,d moving keys of %,d in keyspace %s in %.0f ms (no current count)",
            keys,
            read,
            keyspace.name(),
            (System.nanoTime() - startNanos) / 1e6));
    return keys;
  }
}
