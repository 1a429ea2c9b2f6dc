package io.shardcluster.coordinator;

import com.google.protobuf.InvalidProtocolBufferException;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.wire.RoutingTables;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The coordinator's durable metadata in RocksDB. Every save is one atomic, fsynced write batch, so
 * a crash leaves either the old state or the new one. Calls after {@link #close()} fail with an
 * exception instead of touching the freed native handle.
 */
final class MetadataStore implements AutoCloseable {
  private static final byte[] ROUTING = bytes("routing");
  private static final String MEMBER = "member/";
  private static final String MIGRATION = "migration/";

  static {
    RocksDB.loadLibrary();
  }

  private final Options options;
  private final RocksDB db;
  private final WriteOptions syncWrites = new WriteOptions().setSync(true);
  private boolean closed;

  private MetadataStore(Options options, RocksDB db) {
    this.options = options;
    this.db = db;
  }

  /** Opens (creating if needed) the store in the directory. */
  static MetadataStore open(Path dir) throws RocksDBException {
    Options options = new Options().setCreateIfMissing(true);
    try {
      return new MetadataStore(options, RocksDB.open(options, dir.toString()));
    } catch (RocksDBException e) {
      options.close();
      throw e;
    }
  }

  /** The saved state, or empty for a new cluster. */
  synchronized Optional<ClusterState> load() throws RocksDBException {
    checkOpen();
    byte[] routing = db.get(ROUTING);
    if (routing == null) {
      return Optional.empty();
    }
    try {
      Map<String, MemberRecord> members = new TreeMap<>();
      for (byte[] value : values(MEMBER)) {
        MemberRecord member = MemberRecord.parseFrom(value);
        members.put(member.getId(), member);
      }
      Map<String, Migration> migrations = new LinkedHashMap<>();
      for (byte[] value : values(MIGRATION)) {
        Migration migration = Migration.parseFrom(value);
        migrations.put(migration.getId(), migration);
      }
      return Optional.of(
          new ClusterState(
              RoutingTables.fromProto(io.shardcluster.proto.v1.RoutingTable.parseFrom(routing)),
              members,
              migrations));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("the saved cluster state is corrupt: " + e.getMessage(), e);
    }
  }

  private java.util.List<byte[]> values(String prefix) {
    java.util.List<byte[]> values = new java.util.ArrayList<>();
    try (RocksIterator it = db.newIterator()) {
      for (it.seek(bytes(prefix)); it.isValid(); it.next()) {
        if (!new String(it.key(), StandardCharsets.UTF_8).startsWith(prefix)) {
          break;
        }
        values.add(it.value());
      }
    }
    return values;
  }

  /** Saves the state durably (fsync) in one atomic batch, replacing what was saved before. */
  synchronized void save(ClusterState state) throws RocksDBException {
    checkOpen();
    try (WriteBatch batch = new WriteBatch()) {
      batch.put(ROUTING, RoutingTables.toProto(state.routing()).toByteArray());
      batch.deleteRange(bytes(MEMBER), bytes(MEMBER.substring(0, MEMBER.length() - 1) + "0"));
      for (MemberRecord member : state.members().values()) {
        batch.put(bytes(MEMBER + member.getId()), member.toByteArray());
      }
      batch.deleteRange(
          bytes(MIGRATION), bytes(MIGRATION.substring(0, MIGRATION.length() - 1) + "0"));
      for (Migration migration : state.migrations().values()) {
        batch.put(bytes(MIGRATION + migration.getId()), migration.toByteArray());
      }
      db.write(syncWrites, batch);
    }
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private void checkOpen() throws RocksDBException {
    if (closed) {
      throw new RocksDBException("the metadata store is closed");
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    syncWrites.close();
    db.close();
    options.close();
  }
}
