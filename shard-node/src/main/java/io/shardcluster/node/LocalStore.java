package io.shardcluster.node;

import io.shardcluster.client.ShardClusterException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A node's partition on disk, in RocksDB. Keys of all keyspaces share one column family, each
 * stored as {@code keyspace 0x00 key}, so a keyspace's keys are contiguous and in key order. Every
 * write goes to the write-ahead log before it returns, so it survives a crash of the process; with
 * {@code sync} it is also fsynced (concurrent writers share one fsync: group commit), so it
 * survives a crash of the machine.
 */
final class LocalStore implements AutoCloseable {
  private static final byte[] ROUTING_KEY = "routing".getBytes(StandardCharsets.UTF_8);

  static {
    RocksDB.loadLibrary();
  }

  private final DBOptions dbOptions;
  private final ColumnFamilyOptions dataOptions;
  private final ColumnFamilyOptions metaOptions;
  private final RocksDB db;
  private final ColumnFamilyHandle data;
  private final ColumnFamilyHandle meta;
  private final WriteOptions writeOptions;

  /** A key and value as stored, without the keyspace prefix. */
  record Entry(byte[] key, byte[] value) {}

  private LocalStore(
      DBOptions dbOptions,
      ColumnFamilyOptions dataOptions,
      ColumnFamilyOptions metaOptions,
      RocksDB db,
      List<ColumnFamilyHandle> handles,
      boolean sync) {
    this.dbOptions = dbOptions;
    this.dataOptions = dataOptions;
    this.metaOptions = metaOptions;
    this.db = db;
    this.data = handles.get(0);
    this.meta = handles.get(1);
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
            .setKeepLogFileNum(3);
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
        List.of(
            new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, dataOptions),
            new ColumnFamilyDescriptor("meta".getBytes(StandardCharsets.UTF_8), metaOptions));
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try {
      RocksDB db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
      return new LocalStore(dbOptions, dataOptions, metaOptions, db, handles, sync);
    } catch (RocksDBException e) {
      dbOptions.close();
      dataOptions.close();
      metaOptions.close();
      throw e;
    }
  }

  byte[] get(String keyspace, byte[] key) {
    try {
      return db.get(data, encode(keyspace, key));
    } catch (RocksDBException e) {
      throw failed("read", e);
    }
  }

  List<byte[]> multiGet(String keyspace, List<byte[]> keys) {
    List<ColumnFamilyHandle> families = new ArrayList<>(keys.size());
    List<byte[]> encoded = new ArrayList<>(keys.size());
    for (byte[] key : keys) {
      families.add(data);
      encoded.add(encode(keyspace, key));
    }
    try {
      return db.multiGetAsList(families, encoded);
    } catch (RocksDBException e) {
      throw failed("read", e);
    }
  }

  void put(String keyspace, byte[] key, byte[] value) {
    try {
      db.put(data, writeOptions, encode(keyspace, key), value);
    } catch (RocksDBException e) {
      throw failed("write", e);
    }
  }

  void delete(String keyspace, byte[] key) {
    try {
      db.delete(data, writeOptions, encode(keyspace, key));
    } catch (RocksDBException e) {
      throw failed("write", e);
    }
  }

  /** Writes all entries atomically. */
  void putAll(String keyspace, List<Entry> entries) {
    try (WriteBatch batch = new WriteBatch()) {
      for (Entry entry : entries) {
        batch.put(data, encode(keyspace, entry.key()), entry.value());
      }
      db.write(writeOptions, batch);
    } catch (RocksDBException e) {
      throw failed("write", e);
    }
  }

  /**
   * Keys of the keyspace in {@code [start, end)} (empty end: to the last key), in key order, from a
   * consistent view taken now. Close the cursor when done.
   */
  Cursor scan(String keyspace, byte[] start, byte[] end) {
    return new Cursor(keyspace, start, end);
  }

  /** The number of keys of the keyspace stored in {@code [start, end)}. */
  long count(String keyspace, byte[] start, byte[] end) {
    long count = 0;
    try (Cursor cursor = scan(keyspace, start, end)) {
      while (cursor.advance()) {
        count++;
      }
    }
    return count;
  }

  /** RocksDB's estimate of the number of keys. */
  long estimatedKeys() {
    return property("rocksdb.estimate-num-keys");
  }

  /** Estimated bytes of live data, on disk and in memtables. */
  long estimatedBytes() {
    return property("rocksdb.estimate-live-data-size")
        + property("rocksdb.cur-size-all-mem-tables");
  }

  private long property(String name) {
    try {
      return db.getLongProperty(data, name);
    } catch (RocksDBException e) {
      return 0;
    }
  }

  /** The last routing table this node saw, serialized, or null. */
  byte[] loadRouting() {
    try {
      return db.get(meta, ROUTING_KEY);
    } catch (RocksDBException e) {
      throw failed("read", e);
    }
  }

  void saveRouting(byte[] table) {
    try {
      db.put(meta, writeOptions, ROUTING_KEY, table);
    } catch (RocksDBException e) {
      throw failed("write", e);
    }
  }

  static byte[] encode(String keyspace, byte[] key) {
    byte[] name = keyspace.getBytes(StandardCharsets.UTF_8);
    byte[] encoded = Arrays.copyOf(name, name.length + 1 + key.length);
    System.arraycopy(key, 0, encoded, name.length + 1, key.length);
    return encoded;
  }

  private static ShardClusterException failed(String what, RocksDBException e) {
    return ShardClusterException.unavailable("storage " + what + " failed: " + e.getMessage());
  }

  @Override
  public void close() {
    writeOptions.close();
    data.close();
    meta.close();
    db.close();
    dbOptions.close();
    dataOptions.close();
    metaOptions.close();
  }

  /** A forward iterator over one keyspace's key range. Not thread-safe. */
  final class Cursor implements AutoCloseable {
    private final int prefixLength;
    private final Slice upperBound;
    private final ReadOptions readOptions;
    private final RocksIterator iterator;
    private boolean started;

    private Cursor(String keyspace, byte[] start, byte[] end) {
      byte[] lower = encode(keyspace, start);
      prefixLength = lower.length - start.length;
      byte[] upper;
      if (end.length > 0) {
        upper = encode(keyspace, end);
      } else {
        // Everything of this keyspace sorts before "keyspace 0x01".
        upper = encode(keyspace, new byte[0]);
        upper[upper.length - 1] = 1;
      }
      upperBound = new Slice(upper);
      readOptions = new ReadOptions().setIterateUpperBound(upperBound).setFillCache(false);
      iterator = db.newIterator(data, readOptions);
      iterator.seek(lower);
    }

    /** Moves to the next entry; false at the end. */
    boolean advance() {
      if (started) {
        iterator.next();
      }
      started = true;
      if (!iterator.isValid()) {
        try {
          iterator.status();
        } catch (RocksDBException e) {
          throw failed("read", e);
        }
        return false;
      }
      return true;
    }

    /** The current entry's key, without the keyspace prefix. */
    byte[] key() {
      byte[] stored = iterator.key();
      return Arrays.copyOfRange(stored, prefixLength, stored.length);
    }

    /** The current entry's value. */
    byte[] value() {
      return iterator.value();
    }

    @Override
    public void close() {
      iterator.close();
      readOptions.close();
      upperBound.close();
    }
  }
}
