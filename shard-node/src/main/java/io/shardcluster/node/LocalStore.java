package io.shardcluster.node;

// Over 500 lines: column families, key encoding, cursors, snapshots and batches are one unit, since
// every read and write goes through the same guard against a closed store.

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.routing.KeyHash;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.routing.ScanOrder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.StampedLock;
import org.jspecify.annotations.Nullable;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.EnvOptions;
import org.rocksdb.IngestExternalFileOptions;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.SstFileReader;
import org.rocksdb.SstFileReaderIterator;
import org.rocksdb.SstFileWriter;
import org.rocksdb.Status;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A node's partition on disk, in RocksDB. Keys of all keyspaces share one column family, each
 * stored as {@code keyspace 0x00 key} in a range keyspace and as {@code keyspace 0x00 position key}
 * in a hash or directory keyspace (the 8-byte big-endian position of the key, or of its group; see
 * {@link ScanOrder}), so a keyspace's keys are contiguous and in its scan order, and every range of
 * positions a migration moves is a contiguous range of stored keys. A second column family holds
 * the node's own metadata (routing table, migration state) and a third the change log of outgoing
 * migrations. Every write goes to the write-ahead log before it returns, so it survives a crash of
 * the process; with {@code sync} it is also fsynced (concurrent writers share one fsync: group
 * commit), so it survives a crash of the machine.
 */
final class LocalStore implements AutoCloseable {
  static final String ROUTING_KEY = "routing";

  static {
    RocksDB.loadLibrary();
  }

  private final DBOptions dbOptions;
  private final ColumnFamilyOptions dataOptions;
  private final ColumnFamilyOptions metaOptions;
  private final RocksDB db;
  private final ColumnFamilyHandle data;
  private final ColumnFamilyHandle meta;
  private final ColumnFamilyHandle changes;
  // Transaction locks and records (see TxnLocks), apart from the data so that no scan, count or
  // migration copy of the data meets them.
  private final ColumnFamilyHandle transactions;
  private final WriteOptions writeOptions;
  // Null: writes go straight into RocksDB. Set: through the replica group's log (see WriteLog).
  private volatile @Nullable WriteLog log;
  private final Path tableFiles;
  private final StorageFaults faults = new StorageFaults();
  // Native handles must not be used after close: operations hold the read lock, close the write
  // lock, and close also releases the cursors and snapshots still open.
  // Held shared by every call into RocksDB and exclusively by close(). A StampedLock, not a
  // ReentrantReadWriteLock: that one keeps per-thread hold counts in ThreadLocals, whose upkeep
  // was a fifth of a node's CPU while it streamed a migration. Never taken reentrantly.
  private final StampedLock guard = new StampedLock();
  private final Set<Releasable> open = ConcurrentHashMap.newKeySet();
  private boolean closed;

  // Two data memtables (16 MiB each): the data family still flushes by its own size.
  private static final long MAX_TOTAL_WAL_BYTES = 32L << 20;

  private LocalStore(
      DBOptions dbOptions,
      ColumnFamilyOptions dataOptions,
      ColumnFamilyOptions metaOptions,
      RocksDB db,
      List<ColumnFamilyHandle> handles,
      boolean sync,
      Path tableFiles) {
    this.tableFiles = tableFiles;
    this.dbOptions = dbOptions;
    this.dataOptions = dataOptions;
    this.metaOptions = metaOptions;
    this.db = db;
    this.data = handles.get(0);
    this.meta = handles.get(1);
    this.changes = handles.get(2);
    this.transactions = handles.get(3);
    this.writeOptions = new WriteOptions().setSync(sync);
  }

  /** Opens the store in the directory, creating it if needed. */
  static LocalStore open(Path dir, boolean sync) throws RocksDBException {
    DBOptions dbOptions =
        new DBOptions()
            .setCreateIfMissing(true)
            .setCreateMissingColumnFamilies(true)
            .setIncreaseParallelism(Math.max(2, Runtime.getRuntime().availableProcessors()))
            .setMaxBackgroundJobs(2)
            .setKeepLogFileNum(3)
            // The metadata and change-log families take few writes and so rarely fill a memtable:
            // without a bound, RocksDB kept every write-ahead log since their last flush (about as
            // much disk as the data after 1,000,000 keys, all replayed by a restart). Past this
            // total it flushes the family holding the oldest log, so old logs can go.
            .setMaxTotalWalSize(MAX_TOTAL_WAL_BYTES)
            // Table files are read through memory maps rather than a pread system call per block:
            // a third less per row scanned and about half the time of a point read that misses
            // the block cache, measured on this project's development machine.
            .setAllowMmapReads(true);
    ColumnFamilyOptions dataOptions =
        new ColumnFamilyOptions()
            .setCompressionType(CompressionType.LZ4_COMPRESSION)
            // Memtable lookups are cache-miss bound: a smaller memtable keeps the skiplist
            // shallow, and its whole-key bloom filter lets reads of flushed keys skip it.
            .setWriteBufferSize(16L << 20)
            .setMemtablePrefixBloomSizeRatio(0.05)
            .setMemtableWholeKeyFiltering(true)
            .setTableFormatConfig(
                new BlockBasedTableConfig().setFilterPolicy(new BloomFilter(10, false)));
    ColumnFamilyOptions metaOptions = new ColumnFamilyOptions();
    List<ColumnFamilyDescriptor> descriptors =
        new ArrayList<>(
            List.of(
                new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, dataOptions),
                new ColumnFamilyDescriptor("meta".getBytes(StandardCharsets.UTF_8), metaOptions),
                new ColumnFamilyDescriptor("changes".getBytes(StandardCharsets.UTF_8), metaOptions),
                new ColumnFamilyDescriptor(
                    "transactions".getBytes(StandardCharsets.UTF_8), metaOptions)));
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try {
      byte[] upgradeFamily = LayoutUpgrade.UPGRADE_FAMILY.getBytes(StandardCharsets.UTF_8);
      if (hasFamily(dir, upgradeFamily)) {
        descriptors.add(new ColumnFamilyDescriptor(upgradeFamily, metaOptions));
      }
      RocksDB db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
      try {
        LayoutUpgrade.run(
            db, handles.get(0), handles.get(1), handles.size() > 4 ? handles.get(4) : null);
      } catch (RocksDBException | RuntimeException e) {
        handles.forEach(ColumnFamilyHandle::close);
        db.close();
        throw e;
      }
      Path tableFiles = dir.resolveSibling(dir.getFileName() + "-table-files");
      deleteTableFiles(tableFiles);
      return new LocalStore(
          dbOptions, dataOptions, metaOptions, db, handles.subList(0, 4), sync, tableFiles);
    } catch (RocksDBException | RuntimeException e) {
      dbOptions.close();
      dataOptions.close();
      metaOptions.close();
      throw e;
    }
  }

  /** Table files of copies interrupted by a crash are of no use: copies resume by key. */
  private static void deleteTableFiles(Path dir) {
    try {
      Files.createDirectories(dir);
      try (var files = Files.list(dir)) {
        for (Path file : (Iterable<Path>) files::iterator) {
          Files.delete(file);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clear " + dir, e);
    }
  }

  private static boolean hasFamily(Path dir, byte[] name) throws RocksDBException {
    if (!Files.exists(dir.resolve("CURRENT"))) {
      return false;
    }
    try (Options options = new Options()) {
      return RocksDB.listColumnFamilies(options, dir.toString()).stream()
          .anyMatch(family -> Arrays.equals(family, name));
    }
  }

  private interface RocksCall<T> {
    T run() throws RocksDBException;
  }

  /** Native resources released when the store closes, if their owner has not. */
  private interface Releasable {
    void release();
  }

  private void guarded(String what, RocksWrite write) {
    guarded(
        what,
        () -> {
          write.run();
          return Boolean.TRUE;
        });
  }

  private <T> T guarded(String what, RocksCall<T> call) {
    long stamp = guard.readLock();
    try {
      if (closed) {
        throw ShardClusterException.unavailable("storage is closed");
      }
      T result = call.run();
      if (!faults.writeFault().isEmpty() && what.equals("write")) {
        faults.writeSucceeded();
      }
      return result;
    } catch (RocksDBException e) {
      throw failed(what, e);
    } finally {
      guard.unlockRead(stamp);
    }
  }

  /** The sequence number of the latest write (any column family); it grows with every write. */
  long latestSequence() {
    return guarded("read", db::getLatestSequenceNumber);
  }

  /** The key's value, or null if it has none. */
  byte @Nullable [] get(Keyspace keyspace, byte[] key) {
    return guarded("read", () -> db.get(data, encode(keyspace, key)));
  }

  List<byte[]> multiGet(Keyspace keyspace, List<byte[]> keys) {
    List<ColumnFamilyHandle> families = new ArrayList<>(keys.size());
    List<byte[]> encoded = new ArrayList<>(keys.size());
    for (byte[] key : keys) {
      families.add(data);
      encoded.add(encode(keyspace, key));
    }
    return guarded(
        "read",
        () -> {
          List<byte[]> values = new ArrayList<>(db.multiGetAsList(families, encoded));
          // RocksJava's multi-get answers null both for a missing key and for one whose block
          // failed its checksum; a single get tells them apart (it throws on damage), so that a
          // damaged key is never reported as absent. Only misses pay for it.
          for (int i = 0; i < values.size(); i++) {
            if (values.get(i) == null) {
              values.set(i, db.get(data, encoded.get(i)));
            }
          }
          return values;
        });
  }

  /**
   * Where the writes of a shard with a replica group go: into the group's log, to be applied to
   * this store (and every replica's) by {@link #applyLogged} once a majority has them.
   */
  interface WriteLog {
    /**
     * Returns once the serialized batch is committed in the group's log and applied here; throws
     * (NOT_LEADER, UNAVAILABLE) if it was not, and then it may or may not be applied later.
     */
    void append(byte[] batch);
  }

  /** From now on, every write (except the routing table this node caches) goes through the log. */
  void writeThrough(WriteLog log) {
    this.log = log;
  }

  /** Whether writes go through a replica group's log: no table-file ingestion then. */
  boolean replicated() {
    return log != null;
  }

  /** A replica group log entry: its term and index. */
  record LogPosition(long term, long index) {
    static final LogPosition NONE = new LogPosition(0, 0);

    byte[] encode() {
      byte[] stored = new byte[2 * Long.BYTES];
      putPosition(stored, 0, index);
      putPosition(stored, Long.BYTES, term);
      return stored;
    }

    static LogPosition decode(byte @Nullable [] stored) {
      if (stored == null) {
        return NONE;
      }
      // Stores written before terms were kept hold the index alone.
      ByteBuffer buffer = ByteBuffer.wrap(stored);
      return new LogPosition(
          stored.length >= 2 * Long.BYTES ? buffer.getLong(Long.BYTES) : 0, buffer.getLong(0));
    }
  }

  private static final byte[] APPLIED_KEY = "raft.applied".getBytes(StandardCharsets.UTF_8);
  // The log entry a snapshot of this store stands for (see markSnapshot).
  private static final byte[] SNAPSHOT_KEY = "raft.snapshot".getBytes(StandardCharsets.UTF_8);
  // Present while a leader's store is being installed here (see beginInstall).
  private static final byte[] INSTALLING_KEY = "raft.installing".getBytes(StandardCharsets.UTF_8);
  // The last log entry applied, as stored under APPLIED_KEY; read from the store once (null: not
  // yet). Only the group's state machine thread applies entries.
  private volatile @Nullable LogPosition applied;

  /**
   * Applies a batch from the replica group's log at the log entry, with the entry's position in the
   * same atomic write (so that a restart knows which entries are in); an index at or below the last
   * applied one is skipped (the log replays from the last snapshot after a restart).
   */
  void applyLogged(byte[] batch, LogPosition position) {
    guarded(
        "write",
        () -> {
          if (position.index() <= appliedUnguarded().index()) {
            return;
          }
          try (WriteBatch writes = new WriteBatch(batch)) {
            writes.put(meta, APPLIED_KEY, position.encode());
            db.write(writeOptions, writes);
          }
          applied = position;
        });
  }

  /** The last replica group log entry applied here; {@link LogPosition#NONE} for none. */
  LogPosition applied() {
    return guarded("read", this::appliedUnguarded);
  }

  private LogPosition appliedUnguarded() throws RocksDBException {
    LogPosition known = applied;
    if (known == null) {
      known = LogPosition.decode(db.get(meta, APPLIED_KEY));
      applied = known;
    }
    return known;
  }

  /**
   * Makes this store a snapshot of the group's log up to the last applied entry: every write so far
   * made durable, and that entry recorded, so the log before it may be deleted. Returns it.
   */
  LogPosition markSnapshot() {
    return guarded(
        "write",
        () -> {
          LogPosition position = appliedUnguarded();
          db.flushWal(true);
          try (WriteOptions synced = new WriteOptions().setSync(true)) {
            db.put(meta, synced, SNAPSHOT_KEY, position.encode());
          }
          return position;
        });
  }

  /** The log entry of the last snapshot (see {@link #markSnapshot}); NONE if there is none. */
  LogPosition lastSnapshot() {
    return guarded("read", () -> LogPosition.decode(db.get(meta, SNAPSHOT_KEY)));
  }

  /** Receives a whole store, family by family, then the log entry it is at. */
  interface StoreSink {
    void rows(int family, List<byte[]> keys, List<byte[]> values);

    void end(LogPosition position);
  }

  private List<ColumnFamilyHandle> families() {
    return List.of(data, meta, changes, transactions);
  }

  /**
   * Reads this whole store from one RocksDB snapshot: each family's rows in order, in chunks of
   * about {@code chunkBytes}, then the last log entry applied in that snapshot.
   */
  void readAll(int chunkBytes, StoreSink sink) {
    guarded(
        "read",
        () -> {
          org.rocksdb.Snapshot snapshot = db.getSnapshot();
          try (ReadOptions options = new ReadOptions().setSnapshot(snapshot).setFillCache(false)) {
            List<ColumnFamilyHandle> families = families();
            for (int family = 0; family < families.size(); family++) {
              try (RocksIterator it = db.newIterator(families.get(family), options)) {
                List<byte[]> keys = new ArrayList<>();
                List<byte[]> values = new ArrayList<>();
                long bytes = 0;
                for (it.seekToFirst(); it.isValid(); it.next()) {
                  keys.add(it.key());
                  values.add(it.value());
                  bytes += keys.get(keys.size() - 1).length + values.get(values.size() - 1).length;
                  if (bytes >= chunkBytes) {
                    sink.rows(family, keys, values);
                    keys = new ArrayList<>();
                    values = new ArrayList<>();
                    bytes = 0;
                  }
                }
                it.status();
                if (!keys.isEmpty()) {
                  sink.rows(family, keys, values);
                }
              }
            }
            sink.end(LogPosition.decode(db.get(meta, options, APPLIED_KEY)));
          } finally {
            db.releaseSnapshot(snapshot);
          }
        });
  }

  /**
   * Replaces this store's contents with a replica group leader's (a follower installing a snapshot;
   * written straight into RocksDB, not through the log). Call {@link StoreInstall#finish} once
   * every row is in; until then the store is incomplete.
   */
  StoreInstall beginInstall() {
    guarded(
        "write",
        () -> {
          clearAll();
          try (WriteOptions synced = new WriteOptions().setSync(true)) {
            db.put(meta, synced, INSTALLING_KEY, new byte[0]);
          }
        });
    return new StoreInstall();
  }

  /**
   * Whether an install stopped halfway (the process died during it): the store then holds part of a
   * leader's rows and nothing else, and must be emptied (see {@link #clearInterruptedInstall}).
   */
  boolean installInterrupted() {
    return guarded("read", () -> db.get(meta, INSTALLING_KEY) != null);
  }

  /** Empties a store whose install was interrupted, so that it starts over as a new replica's. */
  void clearInterruptedInstall() {
    guarded(
        "write",
        () -> {
          clearAll();
          db.flushWal(true);
        });
  }

  /** Deletes every row of every family: nothing applied any more. */
  private void clearAll() throws RocksDBException {
    for (ColumnFamilyHandle family : families()) {
      clear(family);
    }
    applied = LogPosition.NONE;
  }

  /** Deletes every row of a family (whatever its key order). */
  private void clear(ColumnFamilyHandle family) throws RocksDBException {
    byte[] first;
    byte[] last;
    try (RocksIterator it = db.newIterator(family)) {
      it.seekToFirst();
      if (!it.isValid()) {
        it.status();
        return;
      }
      first = it.key();
      it.seekToLast();
      last = it.key();
    }
    db.deleteRange(family, writeOptions, first, last);
    db.delete(family, writeOptions, last);
  }

  /** A store being replaced by {@link #beginInstall}. */
  final class StoreInstall {
    private StoreInstall() {}

    void rows(int family, List<byte[]> keys, List<byte[]> values) {
      guarded(
          "write",
          () -> {
            ColumnFamilyHandle handle = families().get(family);
            try (WriteBatch writes = new WriteBatch()) {
              for (int i = 0; i < keys.size(); i++) {
                writes.put(handle, keys.get(i), values.get(i));
              }
              db.write(writeOptions, writes);
            }
          });
    }

    /** The store now stands for the leader's log up to the position: durable, and a snapshot. */
    void finish(LogPosition position) {
      guarded(
          "write",
          () -> {
            try (WriteOptions synced = new WriteOptions().setSync(true);
                WriteBatch writes = new WriteBatch()) {
              writes.put(meta, APPLIED_KEY, position.encode());
              writes.put(meta, SNAPSHOT_KEY, position.encode());
              writes.delete(meta, INSTALLING_KEY);
              db.flushWal(true);
              db.write(synced, writes);
            }
            applied = position;
          });
    }
  }

  /** Writes the batch: into RocksDB, or through the replica group's log. */
  private void commit(WriteBatch writes) throws RocksDBException {
    WriteLog current = log;
    if (current == null) {
      db.write(writeOptions, writes);
    } else {
      current.append(writes.data());
    }
  }

  void put(Keyspace keyspace, byte[] key, byte[] value) {
    if (log != null) {
      write(batch().put(keyspace, key, value));
      return;
    }
    guarded(
        "write",
        () -> {
          db.put(data, writeOptions, encode(keyspace, key), value);
        });
  }

  void delete(Keyspace keyspace, byte[] key) {
    if (log != null) {
      write(batch().delete(keyspace, key));
      return;
    }
    guarded(
        "write",
        () -> {
          db.delete(data, writeOptions, encode(keyspace, key));
        });
  }

  /**
   * Deletes every key of the keyspace (one range deletion); false if it had none, so that a
   * repeated call costs one seek.
   */
  boolean dropKeyspace(String keyspace) {
    byte[] first = keyspaceStart(keyspace);
    byte[] end = keyspaceEnd(keyspace);
    return guarded(
        "write",
        () -> {
          try (Slice bound = new Slice(end);
              ReadOptions options = new ReadOptions().setIterateUpperBound(bound);
              RocksIterator it = db.newIterator(data, options)) {
            it.seek(first);
            if (!it.isValid()) {
              it.status();
              return false;
            }
          }
          try (WriteBatch deletes = new WriteBatch()) {
            deletes.deleteRange(data, first, end);
            commit(deletes);
          }
          return true;
        });
  }

  /** A new atomic batch of writes; apply it with {@link #write(Batch)}. */
  Batch batch() {
    return new Batch();
  }

  /** Applies the batch atomically (through the replica group's log, if any), and closes it. */
  void write(Batch batch) {
    try (WriteBatch writes = batch.writes) {
      guarded("write", () -> commit(writes));
    }
  }

  /**
   * Applies the batch to this replica only, never through the log: for what this process caches for
   * itself (the routing table it last saw).
   */
  private void writeLocally(Batch batch) {
    try (WriteBatch writes = batch.writes) {
      guarded(
          "write",
          () -> {
            db.write(writeOptions, writes);
          });
    }
  }

  /** Writes to any of the column families, applied together by {@link #write(Batch)}. */
  final class Batch {
    private final WriteBatch writes = new WriteBatch();

    Batch put(Keyspace keyspace, byte[] key, byte[] value) {
      return apply(() -> writes.put(data, encode(keyspace, key), value));
    }

    Batch delete(Keyspace keyspace, byte[] key) {
      return apply(() -> writes.delete(data, encode(keyspace, key)));
    }

    Batch putMeta(String key, byte[] value) {
      return apply(() -> writes.put(meta, key.getBytes(StandardCharsets.UTF_8), value));
    }

    Batch deleteMeta(String key) {
      return apply(() -> writes.delete(meta, key.getBytes(StandardCharsets.UTF_8)));
    }

    Batch putTxn(byte[] key, byte[] value) {
      return apply(() -> writes.put(transactions, key, value));
    }

    Batch deleteTxn(byte[] key) {
      return apply(() -> writes.delete(transactions, key));
    }

    /** Records a change of a migration's log under its sequence number. */
    Batch putChange(String log, long sequence, byte[] change) {
      return apply(() -> writes.put(changes, changeKey(log, sequence), change));
    }

    /** Drops a migration's log entries with sequence numbers below {@code end}. */
    Batch deleteChangesBefore(String log, long end) {
      return apply(() -> writes.deleteRange(changes, changeKey(log, 0), changeKey(log, end)));
    }

    int size() {
      return writes.count();
    }

    private Batch apply(RocksWrite write) {
      try {
        write.run();
      } catch (RocksDBException e) {
        throw failed("write", e);
      }
      return this;
    }
  }

  private interface RocksWrite {
    void run() throws RocksDBException;
  }

  private static byte[] changeKey(String log, long sequence) {
    byte[] name = log.getBytes(StandardCharsets.UTF_8);
    byte[] key = Arrays.copyOf(name, name.length + 1 + Long.BYTES);
    for (int i = 0; i < Long.BYTES; i++) {
      key[name.length + 1 + i] = (byte) (sequence >>> (56 - 8 * i));
    }
    return key;
  }

  /** A change from a migration's log. */
  record LoggedChange(long sequence, byte[] change) {}

  /** Up to {@code max} changes of the log with sequence numbers from {@code from}, in order. */
  List<LoggedChange> changes(String log, long from, int max) {
    return guarded(
        "read",
        () -> {
          List<LoggedChange> found = new ArrayList<>();
          try (Slice bound = new Slice(changeKey(log, -1L));
              ReadOptions options = new ReadOptions().setIterateUpperBound(bound);
              RocksIterator it = db.newIterator(changes, options)) {
            for (it.seek(changeKey(log, from)); it.isValid() && found.size() < max; it.next()) {
              found.add(new LoggedChange(sequenceOf(it.key()), it.value()));
            }
            it.status();
          }
          return found;
        });
  }

  private static long sequenceOf(byte[] key) {
    long sequence = 0;
    for (int i = key.length - Long.BYTES; i < key.length; i++) {
      sequence = (sequence << 8) | (key[i] & 0xff);
    }
    return sequence;
  }

  /** The highest sequence number in the log, or 0 if it is empty. */
  long lastChange(String log) {
    return guarded(
        "read",
        () -> {
          try (RocksIterator it = db.newIterator(changes)) {
            it.seekForPrev(changeKey(log, -1L));
            if (!it.isValid()) {
              it.status();
              return 0L;
            }
            byte[] key = it.key();
            byte[] prefix = changeKey(log, 0);
            int nameLength = prefix.length - Long.BYTES;
            boolean sameLog =
                key.length == prefix.length
                    && Arrays.equals(key, 0, nameLength, prefix, 0, nameLength);
            return sameLog ? sequenceOf(key) : 0L;
          }
        });
  }

  /** Every transaction lock and record entry, in key order. */
  void forEachTxn(java.util.function.BiConsumer<byte[], byte[]> visitor) {
    guarded(
        "read",
        () -> {
          try (RocksIterator it = db.newIterator(transactions)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
              visitor.accept(it.key(), it.value());
            }
            it.status();
          }
        });
  }

  byte @Nullable [] getMeta(String key) {
    return guarded("read", () -> db.get(meta, key.getBytes(StandardCharsets.UTF_8)));
  }

  /** Metadata entries whose key starts with the prefix, in key order. */
  List<byte[]> metaWithPrefix(String prefix) {
    byte[] start = prefix.getBytes(StandardCharsets.UTF_8);
    return guarded(
        "read",
        () -> {
          List<byte[]> values = new ArrayList<>();
          try (RocksIterator it = db.newIterator(meta)) {
            for (it.seek(start); it.isValid(); it.next()) {
              byte[] key = it.key();
              if (key.length < start.length
                  || !Arrays.equals(key, 0, start.length, start, 0, start.length)) {
                break;
              }
              values.add(it.value());
            }
            it.status();
          }
          return values;
        });
  }

  /**
   * Keys of the keyspace in {@code [start, end)} (empty end: to the last key), in the keyspace's
   * scan order, after the key {@code after} in that order if not null, from the snapshot (null: a
   * consistent view taken now). In a range keyspace the bounds are a range of stored keys; in a
   * hash or directory keyspace a single key ({@code end} its successor) is one seek and any other
   * bounds filter a walk of the whole keyspace, since its keys are not stored in key order. Close
   * the cursor when done.
   */
  Cursor scan(
      @Nullable Snapshot snapshot,
      Keyspace keyspace,
      byte[] start,
      byte[] end,
      byte @Nullable [] after) {
    List<Bounds> bounds;
    KeyRange filter = null;
    if (ScanOrder.isKeyOrder(keyspace)) {
      bounds =
          List.of(
              new Bounds(
                  encode(keyspace, start),
                  end.length == 0 ? keyspaceEnd(keyspace.name()) : encode(keyspace, end)));
    } else if (end.length == start.length + 1
        && end[start.length] == 0
        && Arrays.equals(end, 0, start.length, start, 0, start.length)) {
      byte[] stored = encode(keyspace, start);
      bounds = List.of(new Bounds(stored, Arrays.copyOf(stored, stored.length + 1)));
    } else {
      bounds = List.of(wholeKeyspace(keyspace.name()));
      if (start.length > 0 || end.length > 0) {
        filter = new KeyRange(ByteString.copyFrom(start), ByteString.copyFrom(end));
      }
    }
    return new Cursor(keyspace, bounds, filter, after, snapshot);
  }

  /** Every key of the keyspace, in its scan order, from a consistent view taken now. */
  Cursor scan(Keyspace keyspace) {
    return scan(null, keyspace, new byte[0], new byte[0], null);
  }

  /**
   * The stored keys that may belong to a migration's moving set, in the keyspace's scan order,
   * after the key {@code after} if not null, from a snapshot if not null: a range of stored keys
   * for each range of positions, key range or group of the set; the whole keyspace only for
   * directory entries of a hash keyspace, whose keys lie anywhere. The caller still tests each key.
   */
  Cursor scan(
      @Nullable Snapshot snapshot, Keyspace keyspace, MovingSet moving, byte @Nullable [] after) {
    return new Cursor(keyspace, boundsOf(keyspace, moving), null, after, snapshot);
  }

  /**
   * Deletes the moving set's keys by range deletions, one per range of stored keys, if those ranges
   * hold exactly the set's keys (ranges of positions of a hash keyspace without directory entries,
   * key ranges of a range keyspace, ranges of group positions of a directory keyspace); then drops
   * the table files that lie wholly inside them. False, changing nothing, for any other set: the
   * caller deletes its keys one by one.
   */
  boolean deleteRanges(Keyspace keyspace, MovingSet moving) {
    boolean exact =
        moving.entries().isEmpty()
            && moving.groups().isEmpty()
            && (keyspace.isRange() || keyspace.isDirectory() || keyspace.directory().isEmpty());
    if (!exact) {
      return false;
    }
    List<Bounds> bounds = boundsOf(keyspace, moving);
    guarded(
        "write",
        () -> {
          try (WriteBatch deletes = new WriteBatch()) {
            for (Bounds range : bounds) {
              deletes.deleteRange(data, range.lower(), range.upper());
            }
            commit(deletes);
          }
          List<byte[]> files = new ArrayList<>();
          for (Bounds range : bounds) {
            files.add(range.lower());
            files.add(range.upper());
          }
          // The range tombstones already hide the keys; dropping whole files returns their space
          // at once, and leaves compaction less to rewrite.
          db.deleteFilesInRanges(data, files, false);
        });
    return true;
  }

  /** A new table file for a copy, in the node's directory for them; the name must be unique. */
  TableFile newTableFile(String name) {
    return new TableFile(tableFiles.resolve(name));
  }

  /** A path for a table file received from another node. */
  Path tableFilePath(String name) {
    return tableFiles.resolve(name);
  }

  /** An entry read from a table file. */
  interface EntryVisitor {
    void visit(byte[] key, byte[] value);
  }

  /**
   * Reads every entry of a table file of the keyspace (checking its blocks' checksums), in order,
   * with keys as the keyspace's keys rather than as stored.
   */
  void readTableFile(Path file, Keyspace keyspace, EntryVisitor visitor) {
    int prefixLength =
        keyspace.name().getBytes(StandardCharsets.UTF_8).length
            + 1
            + (ScanOrder.isKeyOrder(keyspace) ? 0 : Long.BYTES);
    guarded(
        "read",
        () -> {
          try (Options options = new Options(dbOptions, dataOptions);
              SstFileReader reader = new SstFileReader(options)) {
            reader.open(file.toString());
            reader.verifyChecksum();
            try (ReadOptions readOptions = new ReadOptions().setFillCache(false);
                SstFileReaderIterator it = reader.newIterator(readOptions)) {
              for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] stored = it.key();
                visitor.visit(Arrays.copyOfRange(stored, prefixLength, stored.length), it.value());
              }
              it.status();
            }
          }
        });
  }

  /**
   * Adds finished table files to the data, each atomically: RocksDB moves them in (no copy) and
   * gives their keys a sequence number above every write so far.
   */
  void ingest(List<Path> files) {
    if (log != null) {
      throw new IllegalStateException("table files cannot go through a replica group's log");
    }
    guarded(
        "write",
        () -> {
          try (IngestExternalFileOptions options =
              new IngestExternalFileOptions()
                  .setMoveFiles(true)
                  .setAllowGlobalSeqNo(true)
                  .setAllowBlockingFlush(true)) {
            db.ingestExternalFile(data, files.stream().map(Path::toString).toList(), options);
          }
        });
  }

  /**
   * A table file of the data family (the same options, so it can be ingested as it is), written in
   * stored-key order. Not thread-safe.
   */
  final class TableFile implements AutoCloseable {
    private final Path path;
    private final EnvOptions envOptions = new EnvOptions();
    private final Options options = new Options(dbOptions, dataOptions);
    private final SstFileWriter writer = new SstFileWriter(envOptions, options);
    private long entries;
    private boolean finished;

    private TableFile(Path path) {
      this.path = path;
      guarded("write", () -> writer.open(path.toString()));
    }

    /** Adds an entry; keys must come in the keyspace's scan order. */
    void put(Keyspace keyspace, byte[] key, byte[] value) {
      guarded("write", () -> writer.put(encode(keyspace, key), value));
      entries++;
    }

    long entries() {
      return entries;
    }

    /** The bytes written so far (an estimate until finished). */
    long size() {
      return guarded("read", writer::fileSize);
    }

    /** Completes the file; returns its path. */
    Path finish() {
      guarded("write", writer::finish);
      finished = true;
      return path;
    }

    @Override
    public void close() {
      writer.close();
      options.close();
      envOptions.close();
      if (!finished) {
        try {
          Files.deleteIfExists(path);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    }
  }

  /** Stored keys {@code [lower, upper)}. */
  private record Bounds(byte[] lower, byte[] upper) {}

  private static Bounds wholeKeyspace(String keyspace) {
    return new Bounds(keyspaceStart(keyspace), keyspaceEnd(keyspace));
  }

  /** The ranges of stored keys that hold a moving set's keys, sorted and disjoint. */
  private static List<Bounds> boundsOf(Keyspace keyspace, MovingSet moving) {
    String name = keyspace.name();
    boolean onlyKeyRanges =
        moving.ranges().isEmpty() && moving.entries().isEmpty() && moving.groups().isEmpty();
    if (keyspace.isRange() ? !onlyKeyRanges : !moving.entries().isEmpty()) {
      return List.of(wholeKeyspace(name));
    }
    List<Bounds> found = new ArrayList<>();
    for (KeyRange range : moving.keyRanges()) {
      found.add(
          new Bounds(
              encode(keyspace, range.start().toByteArray()),
              range.end().isEmpty()
                  ? keyspaceEnd(name)
                  : encode(keyspace, range.end().toByteArray())));
    }
    for (PositionRange range : moving.ranges()) {
      found.add(
          new Bounds(
              positionStart(name, range.start()),
              range.end() == 0 ? keyspaceEnd(name) : positionStart(name, range.end())));
    }
    for (ByteString group : moving.groups()) {
      long position = KeyHash.position(group.toByteArray());
      found.add(
          new Bounds(
              positionStart(name, position),
              position == -1L ? keyspaceEnd(name) : positionStart(name, position + 1)));
    }
    found.sort(Comparator.comparing(Bounds::lower, Arrays::compareUnsigned));
    List<Bounds> merged = new ArrayList<>();
    for (Bounds range : found) {
      Bounds last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
      if (last != null && Arrays.compareUnsigned(range.lower(), last.upper()) <= 0) {
        if (Arrays.compareUnsigned(range.upper(), last.upper()) > 0) {
          merged.set(merged.size() - 1, new Bounds(last.lower(), range.upper()));
        }
      } else {
        merged.add(range);
      }
    }
    return merged;
  }

  /** A consistent view of the data as of now; close it to let RocksDB drop what it pins. */
  Snapshot snapshot() {
    return guarded("read", () -> new Snapshot(db.getSnapshot()));
  }

  /** A value as of the snapshot, or null. */
  byte @Nullable [] get(Snapshot snapshot, Keyspace keyspace, byte[] key) {
    return guarded(
        "read",
        () -> {
          try (ReadOptions options = new ReadOptions().setSnapshot(snapshot.snapshot)) {
            return db.get(data, options, encode(keyspace, key));
          }
        });
  }

  /** A RocksDB snapshot of this store. */
  final class Snapshot implements AutoCloseable, Releasable {
    private final org.rocksdb.Snapshot snapshot;
    private boolean released;

    private Snapshot(org.rocksdb.Snapshot snapshot) {
      this.snapshot = snapshot;
      open.add(this);
    }

    @Override
    public synchronized void release() {
      if (!released) {
        released = true;
        db.releaseSnapshot(snapshot);
      }
    }

    @Override
    public void close() {
      long stamp = guard.readLock();
      try {
        if (!closed) {
          release();
        }
        open.remove(this);
      } finally {
        guard.unlockRead(stamp);
      }
    }
  }

  /** The number of keys of the keyspace stored in {@code [start, end)}. */
  long count(Keyspace keyspace, byte[] start, byte[] end) {
    long count = 0;
    try (Cursor cursor = scan(null, keyspace, start, end, null)) {
      while (cursor.advance()) {
        count++;
      }
    }
    return count;
  }

  /** The number of keys stored in the keyspace, whatever its kind. */
  long countAll(String keyspace) {
    return guarded(
        "read",
        () -> {
          long count = 0;
          try (Slice bound = new Slice(keyspaceEnd(keyspace));
              ReadOptions options = new ReadOptions().setIterateUpperBound(bound);
              RocksIterator it = db.newIterator(data, options)) {
            for (it.seek(keyspaceStart(keyspace)); it.isValid(); it.next()) {
              count++;
            }
            it.status();
          }
          return count;
        });
  }

  /** The last routing table this node saw, serialized, or null. */
  byte @Nullable [] loadRouting() {
    return getMeta(ROUTING_KEY);
  }

  void saveRouting(byte[] table) {
    writeLocally(batch().putMeta(ROUTING_KEY, table));
  }

  /** The stored key of a key (see the class comment). */
  static byte[] encode(Keyspace keyspace, byte[] key) {
    byte[] name = keyspace.name().getBytes(StandardCharsets.UTF_8);
    if (ScanOrder.isKeyOrder(keyspace)) {
      byte[] encoded = Arrays.copyOf(name, name.length + 1 + key.length);
      System.arraycopy(key, 0, encoded, name.length + 1, key.length);
      return encoded;
    }
    byte[] encoded = Arrays.copyOf(name, name.length + 1 + Long.BYTES + key.length);
    putPosition(encoded, name.length + 1, ScanOrder.positionOf(keyspace, key));
    System.arraycopy(key, 0, encoded, name.length + 1 + Long.BYTES, key.length);
    return encoded;
  }

  /** The first stored key a position can have in a hash or directory keyspace. */
  private static byte[] positionStart(String keyspace, long position) {
    byte[] name = keyspace.getBytes(StandardCharsets.UTF_8);
    byte[] encoded = Arrays.copyOf(name, name.length + 1 + Long.BYTES);
    putPosition(encoded, name.length + 1, position);
    return encoded;
  }

  private static void putPosition(byte[] into, int at, long position) {
    for (int i = 0; i < Long.BYTES; i++) {
      into[at + i] = (byte) (position >>> (56 - 8 * i));
    }
  }

  /** The first stored key of the keyspace: {@code keyspace 0x00}. */
  static byte[] keyspaceStart(String keyspace) {
    byte[] name = keyspace.getBytes(StandardCharsets.UTF_8);
    return Arrays.copyOf(name, name.length + 1);
  }

  /** The end of the keyspace's stored keys: everything of it sorts before {@code keyspace 0x01}. */
  static byte[] keyspaceEnd(String keyspace) {
    byte[] end = keyspaceStart(keyspace);
    end[end.length - 1] = 1;
    return end;
  }

  /**
   * The error for a failed RocksDB call: DATA_LOSS, recorded in {@link #faults()}, if RocksDB found
   * the data damaged (a block checksum, a corrupt table file); UNAVAILABLE otherwise (closed,
   * read-only after an I/O error, out of space). A write that failed on an I/O error is recorded
   * too: RocksDB then refuses every write until it is reopened (out of space excepted, which it
   * recovers from by itself), so the node says in its stats that it needs a restart.
   */
  private ShardClusterException failed(String what, RocksDBException e) {
    Status status = e.getStatus();
    if (status != null && status.getCode() == Status.Code.Corruption) {
      String message = "stored data is damaged (" + what + "): " + e.getMessage();
      faults.record(message);
      return ShardClusterException.dataLoss(message);
    }
    if (what.equals("write") && status != null && status.getCode() == Status.Code.IOError) {
      faults.writeFailed("storage refuses writes: " + e.getMessage());
    }
    return ShardClusterException.unavailable("storage " + what + " failed: " + e.getMessage());
  }

  /** What has gone wrong with the storage since it opened: damaged data, refused writes. */
  StorageFaults faults() {
    return faults;
  }

  @Override
  public void close() {
    long stamp = guard.writeLock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      // Iterators and snapshots must go before the database does.
      open.forEach(Releasable::release);
      open.clear();
      writeOptions.close();
      data.close();
      meta.close();
      changes.close();
      transactions.close();
      db.close();
      dbOptions.close();
      dataOptions.close();
      metaOptions.close();
    } finally {
      guard.unlockWrite(stamp);
    }
  }

  /**
   * A forward iterator over ranges of one keyspace's stored keys, in order, optionally filtered by
   * key bounds. Not thread-safe.
   */
  final class Cursor implements AutoCloseable, Releasable {
    private final int prefixLength;
    private final List<Bounds> bounds;
    private final @Nullable KeyRange filter;
    private final byte @Nullable [] lowest;
    private final Slice upperBound;
    private final ReadOptions readOptions;
    private final RocksIterator iterator;
    private int range;
    private boolean started;
    private boolean exhausted;
    private boolean released;
    // Entries are copied out of RocksDB into these, then into arrays of their exact size: a Java
    // allocation costs less than an array made through JNI for every key and value.
    private byte[] keyBuffer = new byte[256];
    private byte[] valueBuffer = new byte[4096];
    private byte @Nullable [] key;

    private Cursor(
        Keyspace keyspace,
        List<Bounds> bounds,
        @Nullable KeyRange filter,
        byte @Nullable [] after,
        @Nullable Snapshot snapshot) {
      this.bounds = bounds;
      this.filter = filter;
      int nameLength = keyspace.name().getBytes(StandardCharsets.UTF_8).length;
      prefixLength = nameLength + 1 + (ScanOrder.isKeyOrder(keyspace) ? 0 : Long.BYTES);
      if (after != null) {
        byte[] stored = encode(keyspace, after);
        lowest = Arrays.copyOf(stored, stored.length + 1);
      } else {
        lowest = null;
      }
      exhausted = bounds.isEmpty();
      upperBound =
          new Slice(
              bounds.isEmpty()
                  ? keyspaceEnd(keyspace.name())
                  : bounds.get(bounds.size() - 1).upper());
      readOptions = new ReadOptions().setIterateUpperBound(upperBound).setFillCache(false);
      if (snapshot != null) {
        readOptions.setSnapshot(snapshot.snapshot);
      }
      iterator =
          guarded(
              "read",
              () -> {
                RocksIterator it = db.newIterator(data, readOptions);
                open.add(this);
                return it;
              });
    }

    /** Where the current range's keys start: its lower bound, or later past {@code after}. */
    private byte[] seekTarget() {
      byte[] lower = bounds.get(range).lower();
      return lowest != null && Arrays.compareUnsigned(lowest, lower) > 0 ? lowest : lower;
    }

    /**
     * Positions the iterator on the next stored key inside the ranges; false past the last one.
     * Reads the key into the buffer and returns its length through {@code length[0]}.
     */
    private boolean nextInRanges(int[] length) {
      if (!started) {
        started = true;
        iterator.seek(seekTarget());
      } else {
        iterator.next();
      }
      while (true) {
        if (!iterator.isValid()) {
          return false;
        }
        int n = iterator.key(keyBuffer, 0, keyBuffer.length);
        if (n > keyBuffer.length) {
          keyBuffer = new byte[n];
          iterator.key(keyBuffer, 0, n);
        }
        byte[] upper = bounds.get(range).upper();
        if (Arrays.compareUnsigned(keyBuffer, 0, n, upper, 0, upper.length) < 0) {
          length[0] = n;
          return true;
        }
        if (++range == bounds.size()) {
          return false;
        }
        iterator.seek(seekTarget());
      }
    }

    /** Moves to the next entry and reads its key; false at the end. */
    boolean advance() {
      return guarded(
          "read",
          () -> {
            if (exhausted) {
              key = null;
              return false;
            }
            int[] length = new int[1];
            while (nextInRanges(length)) {
              byte[] found = Arrays.copyOfRange(keyBuffer, prefixLength, length[0]);
              if (filter == null || filter.contains(found)) {
                key = found;
                return true;
              }
            }
            // A RocksDB iterator must not be moved on past its end.
            exhausted = true;
            iterator.status();
            key = null;
            return false;
          });
    }

    /** The current entry's key, without the keyspace prefix; after advance() returned true. */
    byte[] key() {
      return requireNonNull(key, "no current entry");
    }

    /** The current entry's value. */
    byte[] value() {
      return guarded(
          "read",
          () -> {
            int length = iterator.value(valueBuffer, 0, valueBuffer.length);
            if (length > valueBuffer.length) {
              valueBuffer = new byte[length];
              iterator.value(valueBuffer, 0, length);
            }
            return Arrays.copyOf(valueBuffer, length);
          });
    }

    @Override
    public synchronized void release() {
      if (!released) {
        released = true;
        iterator.close();
        readOptions.close();
        upperBound.close();
      }
    }

    @Override
    public void close() {
      long stamp = guard.readLock();
      try {
        if (!closed) {
          release();
        }
        open.remove(this);
      } finally {
        guard.unlockRead(stamp);
      }
    }
  }
}
