package io.shardcluster.node;

import com.google.protobuf.InvalidProtocolBufferException;
import io.shardcluster.proto.v1.IncomingState;
import io.shardcluster.proto.v1.RoutingTableProto;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.RoutingTables;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Converts a store written before hash and directory keyspaces were kept in position order (every
 * key stored as {@code keyspace 0x00 key}) to the current layout, when the node opens it.
 * Crash-safe and restartable: the converted keys are first written to a column family of their own;
 * only once they are all there (a marker in the metadata says so) are the old keys range-deleted
 * and the new ones copied over, a step that is repeated whole after a crash. Range keyspaces keep
 * their layout. A migration that was copying into this node starts its copy again, since its resume
 * point was a key in the old order.
 */
final class LayoutUpgrade {
  private static final Logger logger = Logger.getLogger(LayoutUpgrade.class.getName());

  /** The metadata key of the layout marker. */
  static final String LAYOUT_KEY = "layout";

  /** The column family that holds converted keys while an upgrade runs. */
  static final String UPGRADE_FAMILY = "upgrade";

  private static final byte[] POSITION_ORDERED = bytes("position-ordered");
  private static final byte[] CONVERTED = bytes("converted");
  private static final int BATCH_ROWS = 10_000;

  private final RocksDB db;
  private final ColumnFamilyHandle data;
  private final ColumnFamilyHandle meta;
  private final WriteOptions durable = new WriteOptions().setSync(true);

  private LayoutUpgrade(RocksDB db, ColumnFamilyHandle data, ColumnFamilyHandle meta) {
    this.db = db;
    this.data = data;
    this.meta = meta;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Brings the store to the current layout; {@code upgrade} is the upgrade column family if the
   * store has one (an upgrade was interrupted), which this drops once done.
   */
  static void run(
      RocksDB db,
      ColumnFamilyHandle data,
      ColumnFamilyHandle meta,
      @Nullable ColumnFamilyHandle upgrade)
      throws RocksDBException {
    LayoutUpgrade run = new LayoutUpgrade(db, data, meta);
    try {
      run.upgrade(upgrade);
    } finally {
      run.durable.close();
    }
  }

  private void upgrade(@Nullable ColumnFamilyHandle upgrade) throws RocksDBException {
    byte[] marker = db.get(meta, bytes(LAYOUT_KEY));
    if (Arrays.equals(marker, POSITION_ORDERED)) {
      dropFamily(upgrade);
      return;
    }
    if (marker == null && isEmpty(data)) {
      db.put(meta, durable, bytes(LAYOUT_KEY), POSITION_ORDERED);
      dropFamily(upgrade);
      return;
    }
    long started = System.nanoTime();
    // An interrupted upgrade's family is kept until the upgrade is done: after the marker says
    // it holds every converted key, it is the only copy of them.
    ColumnFamilyHandle converted =
        upgrade != null
            ? upgrade
            : db.createColumnFamily(new ColumnFamilyDescriptor(bytes(UPGRADE_FAMILY)));
    if (marker == null) {
      logger.info("converting the store to position order (written by an older release)");
      convert(converted);
      db.put(meta, durable, bytes(LAYOUT_KEY), CONVERTED);
    }
    long keys = replace(converted);
    restartIncomingCopies();
    db.put(meta, durable, bytes(LAYOUT_KEY), POSITION_ORDERED);
    dropFamily(converted);
    logger.info(
        String.format(
            "converted %,d keys of hash and directory keyspaces to position order in %d ms",
            keys, (System.nanoTime() - started) / 1_000_000));
  }

  /** Where one stored entry goes: put into the batch, or nowhere. */
  private interface Rewrite {
    /** Adds the entry's new form to the batch; false if it has none. */
    boolean add(WriteBatch batch, byte[] key, byte[] value) throws RocksDBException;
  }

  /** Rewrites every entry of the family, in durable batches; returns how many it added. */
  private long rewriteAll(ColumnFamilyHandle from, Rewrite rewrite) throws RocksDBException {
    long added = 0;
    try (RocksIterator it = db.newIterator(from)) {
      WriteBatch batch = new WriteBatch();
      try {
        for (it.seekToFirst(); it.isValid(); it.next()) {
          if (rewrite.add(batch, it.key(), it.value())) {
            added++;
          }
          if (batch.count() >= BATCH_ROWS) {
            db.write(durable, batch);
            batch.close();
            batch = new WriteBatch();
          }
        }
        it.status();
        db.write(durable, batch);
      } finally {
        batch.close();
      }
    }
    return added;
  }

  /** Writes every key of a hash or directory keyspace, in the new layout, to the family. */
  private void convert(ColumnFamilyHandle converted) throws RocksDBException {
    Map<String, Keyspace> keyspaces = savedTable().keyspaces();
    rewriteAll(
        data,
        (batch, stored, value) -> {
          int zero = indexOfZero(stored);
          if (zero < 0) {
            return false;
          }
          String name = new String(stored, 0, zero, StandardCharsets.UTF_8);
          // A keyspace the last table does not name was dropped: its keys go as hash keys.
          Keyspace keyspace = keyspaces.getOrDefault(name, Keyspace.hash(name));
          if (keyspace.isRange()) {
            return false;
          }
          byte[] key = Arrays.copyOfRange(stored, zero + 1, stored.length);
          batch.put(converted, LocalStore.encode(keyspace, key), value);
          return true;
        });
  }

  /**
   * Deletes the old keys of every converted keyspace and copies the converted ones in; repeatable.
   */
  private long replace(ColumnFamilyHandle converted) throws RocksDBException {
    try (RocksIterator it = db.newIterator(converted);
        WriteBatch deletes = new WriteBatch()) {
      for (it.seekToFirst(); it.isValid(); ) {
        byte[] stored = it.key();
        String name = new String(stored, 0, indexOfZero(stored), StandardCharsets.UTF_8);
        deletes.deleteRange(data, LocalStore.keyspaceStart(name), LocalStore.keyspaceEnd(name));
        it.seek(LocalStore.keyspaceEnd(name));
      }
      it.status();
      db.write(durable, deletes);
    }
    return rewriteAll(
        converted,
        (batch, key, value) -> {
          batch.put(data, key, value);
          return true;
        });
  }

  /** Copies into this node that had not finished their snapshot copy start it again. */
  private void restartIncomingCopies() throws RocksDBException {
    byte[] prefix = bytes(IncomingMigrations.META_PREFIX);
    try (RocksIterator it = db.newIterator(meta);
        WriteBatch batch = new WriteBatch()) {
      for (it.seek(prefix); it.isValid(); it.next()) {
        byte[] key = it.key();
        if (key.length < prefix.length
            || !Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length)) {
          break;
        }
        IncomingState state = IncomingState.parseFrom(it.value());
        if (!state.getSnapshotDone() && !state.getAfterKey().isEmpty()) {
          batch.put(meta, key, state.toBuilder().clearAfterKey().build().toByteArray());
        }
      }
      it.status();
      db.write(durable, batch);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("damaged migration state in the node's metadata", e);
    }
  }

  private RoutingTable savedTable() throws RocksDBException {
    byte[] saved = db.get(meta, bytes(LocalStore.ROUTING_KEY));
    if (saved == null) {
      return RoutingTable.empty();
    }
    try {
      return RoutingTables.fromProto(RoutingTableProto.parseFrom(saved));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("damaged routing table in the node's metadata", e);
    }
  }

  private boolean isEmpty(ColumnFamilyHandle family) {
    try (RocksIterator it = db.newIterator(family)) {
      it.seekToFirst();
      return !it.isValid();
    }
  }

  private void dropFamily(@Nullable ColumnFamilyHandle family) throws RocksDBException {
    if (family != null) {
      db.dropColumnFamily(family);
      family.close();
    }
  }

  private static int indexOfZero(byte[] stored) {
    for (int i = 0; i < stored.length; i++) {
      if (stored[i] == 0) {
        return i;
      }
    }
    return -1;
  }
}
