package io.shardcluster.node;

import static io.shardcluster.errors.ShardClusterException.requireArgument;
import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.node.OutgoingMigrations.Mutation;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.routing.ScanOrder;
import io.shardcluster.rpc.Limits;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * This node's partition: serves the keys the routing table gives it and refuses every other key
 * with a wrong-shard error, before touching storage. Writes go through {@link OutgoingMigrations},
 * which records changes of keys being moved away and refuses fenced ones.
 */
final class Shard {
  private final String nodeId;
  private final LocalStore store;
  private final Routing routing;
  private final NodeMetrics metrics;
  private final OutgoingMigrations outgoing;
  private final Ownership ownership;
  private TxnGuard transactions = TxnGuard.NONE;

  /** What plain reads and writes owe to transactions' locks (see {@link Transactions}). */
  interface TxnGuard {
    TxnGuard NONE =
        new TxnGuard() {
          @Override
          public void beforePlainRead(Keyspace routed, byte[] key) {}

          @Override
          public void plainWrite(List<Keyspace> routed, List<byte[]> keys, Runnable write) {
            write.run();
          }
        };

    void beforePlainRead(Keyspace routed, byte[] key);

    void plainWrite(List<Keyspace> routed, List<byte[]> keys, Runnable write);
  }

  /** The routing table a request is judged by. */
  interface Routing {
    /**
     * The table to use for a request routed at {@code requestEpoch}: the newest this node has (a
     * newer one the caller has seen is fetched in the background).
     */
    RoutingTable table(long requestEpoch);
  }

  Shard(
      String nodeId,
      LocalStore store,
      Routing routing,
      NodeMetrics metrics,
      OutgoingMigrations outgoing,
      Ownership ownership) {
    this.nodeId = nodeId;
    this.store = store;
    this.routing = routing;
    this.metrics = metrics;
    this.outgoing = outgoing;
    this.ownership = ownership;
  }

  /** Makes plain reads and writes respect transactions' locks. Call before serving. */
  void guardWith(TxnGuard transactions) {
    this.transactions = transactions;
  }

  String nodeId() {
    return nodeId;
  }

  /** The table to judge a request routed at the epoch by. */
  RoutingTable table(long epoch) {
    return routing.table(epoch);
  }

  /** Scan streams opened since this node started. */
  long scans() {
    return metrics.scans();
  }

  /** Counts a query part answered in full. */
  void recordQuery() {
    metrics.recordQuery();
  }

  /** Query parts answered in full since this node started. */
  long queries() {
    return metrics.queries();
  }

  Optional<byte[]> get(String keyspace, byte[] key, long epoch) {
    long start = metrics.now();
    Limits.checkKey(key.length);
    RoutingTable table = routing.table(epoch);
    Keyspace routed = checkOwned(table, keyspace, key);
    if (!outgoing.isEmpty()) {
      outgoing.checkReadable(table, keyspace, routed, key);
    }
    transactions.beforePlainRead(routed, key);
    byte[] value = store.get(routed, key);
    metrics.recordReads(1, start);
    return Optional.ofNullable(value);
  }

  void put(String keyspace, byte[] key, byte[] value, long epoch) {
    long start = metrics.now();
    Limits.checkKey(key.length);
    Limits.checkValue(value.length);
    write(keyspace, List.of(new Mutation(key, value)), epoch);
    metrics.recordWrites(1, start);
  }

  void delete(String keyspace, byte[] key, long epoch) {
    long start = metrics.now();
    Limits.checkKey(key.length);
    write(keyspace, List.of(new Mutation(key, null)), epoch);
    metrics.recordWrites(1, start);
  }

  List<byte[]> multiGet(String keyspace, List<byte[]> keys, long epoch) {
    long start = metrics.now();
    checkBatch(keys.size());
    RoutingTable table = routing.table(epoch);
    Keyspace routed = keyspace(table, keyspace);
    for (byte[] key : keys) {
      Limits.checkKey(key.length);
      checkOwned(table, keyspace, key);
      if (!outgoing.isEmpty()) {
        outgoing.checkReadable(table, keyspace, routed, key);
      }
      transactions.beforePlainRead(routed, key);
    }
    List<byte[]> values = store.multiGet(routed, keys);
    metrics.recordReads(keys.size(), start);
    return values;
  }

  void multiPut(String keyspace, List<Mutation> entries, long epoch) {
    long start = metrics.now();
    checkBatch(entries.size());
    for (Mutation entry : entries) {
      Limits.checkKey(entry.key().length);
      byte[] value = entry.value();
      Limits.checkValue(value == null ? 0 : value.length);
    }
    write(keyspace, entries, epoch);
    metrics.recordWrites(entries.size(), start);
  }

  private void write(String keyspace, List<Mutation> mutations, long epoch) {
    if (mutations.isEmpty()) {
      return;
    }
    RoutingTable table = routing.table(epoch);
    Keyspace routed = null;
    List<byte[]> keys = new ArrayList<>(mutations.size());
    for (Mutation mutation : mutations) {
      routed = checkOwned(table, keyspace, mutation.key());
      keys.add(mutation.key());
    }
    Keyspace owned = requireNonNull(routed);
    transactions.plainWrite(
        Collections.nCopies(keys.size(), owned),
        keys,
        () -> outgoing.write(table, keyspace, owned, mutations));
  }

  /**
   * The owned keys in {@code [start, end)}, in the keyspace's scan order (see {@link ScanOrder}),
   * after the key {@code after} in that order if not null, at most {@code limit} (0: all). A scan
   * routed at an epoch runs only at that epoch: it is refused (wrong shard, with this node's epoch)
   * if this node's table is at another one, and it stops with that error as soon as this node's
   * table changes. Every node of a merged scan thus answers by one and the same table, so each key
   * is returned exactly once while keys move; the client reopens after its last key. Epoch 0: by
   * whatever table this node has, to the end.
   */
  Scan scan(
      String keyspace, byte[] start, byte[] end, byte @Nullable [] after, long limit, long epoch) {
    checkRange(start, end);
    requireArgument(limit >= 0, "limit must not be negative");
    RoutingTable table = routing.table(epoch);
    Keyspace routed = keyspace(table, keyspace);
    if (epoch != 0 && table.epoch() != epoch) {
      throw new WrongShardException(table.epoch(), nodeId, "", "");
    }
    metrics.recordScan();
    return new Scan(routed, store.scan(null, routed, start, end, after), limit, epoch);
  }

  /**
   * How a query reads its key ranges so that its rows come in the keyspace's scan order: the scans
   * to run one after another, and the ranges every row must still be in ({@link #asked}). A range
   * keyspace scans each range; a hash or directory keyspace seeks each of a list of single keys, in
   * scan order, and walks the whole keyspace for any other ranges.
   */
  record RangeReads(List<KeyRange> scans, List<KeyRange> filter) {
    /** Whether a scanned key is in one of the asked ranges. */
    boolean asked(byte[] key) {
      if (filter.isEmpty()) {
        return true;
      }
      for (KeyRange range : filter) {
        if (range.contains(key)) {
          return true;
        }
      }
      return false;
    }
  }

  /** The reads of the key ranges (none: every key) of a query on the keyspace. */
  RangeReads rangeReads(String keyspace, List<KeyRange> ranges) {
    KeyRange all = new KeyRange(ByteString.EMPTY, ByteString.EMPTY);
    if (ranges.isEmpty()) {
      return new RangeReads(List.of(all), List.of());
    }
    Keyspace routed = keyspace(routing.table(0), keyspace);
    if (ScanOrder.isKeyOrder(routed)) {
      return new RangeReads(ranges, List.of());
    }
    boolean singleKeys =
        ranges.stream().allMatch(range -> range.end().equals(KeyRange.successor(range.start())));
    if (!singleKeys) {
      return new RangeReads(List.of(all), ranges);
    }
    List<KeyRange> sorted = new ArrayList<>(ranges);
    sorted.sort(
        (a, b) -> ScanOrder.compare(routed, a.start().toByteArray(), b.start().toByteArray()));
    return new RangeReads(sorted, List.of());
  }

  /**
   * The number of keys stored in {@code [start, end)}, owned or not. Without bounds, of any
   * keyspace, even one dropped or not in this node's table yet.
   */
  long count(String keyspace, byte[] start, byte[] end) {
    checkRange(start, end);
    Keyspace.checkName(keyspace);
    if (start.length == 0 && end.length == 0) {
      return store.countAll(keyspace);
    }
    return store.count(keyspace(routing.table(0), keyspace), start, end);
  }

  /** The keyspace's routing if this node owns the key; a wrong-shard error otherwise. */
  Keyspace checkOwned(RoutingTable table, String keyspace, byte[] key) {
    Keyspace routed = keyspace(table, keyspace);
    String owner;
    Optional<DirectoryEntry> entry =
        routed.directory().isEmpty() ? Optional.empty() : routed.directory().entryFor(key);
    if (entry.isPresent()) {
      owner = entry.get().owner();
      metrics.recordEntryOperation(keyspace, entry.get());
    } else if (routed.isRange()) {
      // One lookup serves both the owner and the range's request counter.
      int range = routed.ranges().indexOf(key);
      owner = routed.ranges().owner(range);
      metrics.recordRangeOperation(keyspace, routed.ranges().startKey(range), key);
    } else {
      owner = ownership.ownerOf(routed, key);
    }
    if (!nodeId.equals(owner)) {
      throw new WrongShardException(
          table.epoch(),
          nodeId,
          owner == null ? "" : owner,
          owner == null ? "" : table.address(owner).orElse(""));
    }
    return routed;
  }

  private Keyspace keyspace(RoutingTable table, String keyspace) {
    if (table.epoch() == 0) {
      // No routing yet (never registered, coordinator unreachable): this node owns nothing.
      throw new WrongShardException(0, nodeId, "", "");
    }
    return table.keyspace(keyspace);
  }

  private static void checkBatch(int size) {
    if (size > Limits.MAX_BATCH_ENTRIES) {
      throw ShardClusterException.resourceExhausted(
          "batch of " + size + " entries exceeds the limit of " + Limits.MAX_BATCH_ENTRIES);
    }
  }

  private static void checkRange(byte[] start, byte[] end) {
    requireArgument(start.length <= Limits.MAX_KEY_BYTES, "scan start is longer than a key may be");
    requireArgument(end.length <= Limits.MAX_KEY_BYTES, "scan end is longer than a key may be");
    requireArgument(
        end.length == 0 || Arrays.compareUnsigned(start, end) <= 0,
        "scan start must not be after its end");
  }

  /** A scan over owned keys. Not thread-safe; close it when done. */
  final class Scan implements AutoCloseable {
    private final Keyspace routed;
    private final LocalStore.Cursor cursor;
    private final long limit;
    private final long epoch;
    private long returned;
    private byte @Nullable [] key;
    // The key whose ownership check was cut short by a group lookup (see Ownership.withoutWaiting),
    // checked again by the next advance, with the lookup's answer once given.
    private byte @Nullable [] unchecked;
    private @Nullable String answeredOwner;
    private boolean ended;

    private Scan(Keyspace routed, LocalStore.Cursor cursor, long limit, long epoch) {
      this.routed = routed;
      this.cursor = cursor;
      this.limit = limit;
      this.epoch = epoch;
    }

    /**
     * Moves to the next owned key; false at the end or at the limit. Wrong shard once this node's
     * table is no longer at the scan's epoch.
     */
    boolean advance() {
      if (ended || (limit > 0 && returned >= limit)) {
        return false;
      }
      if (epoch != 0) {
        long current = routing.table(0).epoch();
        if (current != epoch) {
          throw new WrongShardException(current, nodeId, "", "");
        }
      }
      while (unchecked != null || cursor.advance()) {
        byte[] candidate = unchecked != null ? unchecked : cursor.key();
        String owner;
        if (answeredOwner != null) {
          owner = answeredOwner.isEmpty() ? null : answeredOwner;
        } else {
          unchecked = candidate;
          owner = ownership.ownerOf(routed, candidate);
        }
        unchecked = null;
        answeredOwner = null;
        if (nodeId.equals(owner)) {
          key = candidate;
          returned++;
          // A scanned row is a read, but not a request: it has no latency of its own.
          metrics.countReads(1);
          return true;
        }
      }
      // A RocksDB iterator must not be moved on past its end.
      ended = true;
      return false;
    }

    byte[] key() {
      return requireNonNull(key, "no current row");
    }

    /**
     * The owner of the group whose lookup cut the last advance short ({@code ""} for a group with
     * no entry): the next advance takes it for that key instead of asking again.
     */
    void answer(String owner) {
      if (unchecked != null) {
        answeredOwner = owner;
      }
    }

    /** The keyspace's routing the scan checks ownership by. */
    Keyspace routing() {
      return routed;
    }

    byte[] value() {
      return cursor.value();
    }

    @Override
    public void close() {
      cursor.close();
    }
  }
}
