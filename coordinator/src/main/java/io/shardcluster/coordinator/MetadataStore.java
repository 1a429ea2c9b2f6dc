package io.shardcluster.coordinator;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.RoutingTableProto;
import io.shardcluster.rpc.RoutingTables;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
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
  private static final byte[] CLUSTER_ID = bytes("cluster-id");
  private static final String MEMBER = "member/";
  private static final String MIGRATION = "migration/";
  // group/<keyspace>/<group> -> owner: the entries of directory keyspaces.
  private static final String GROUP = "group/";

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

  /** The cluster's id, or empty if none was saved (a new store, or one from before ids). */
  synchronized Optional<String> clusterId() throws RocksDBException {
    checkOpen();
    byte[] id = db.get(CLUSTER_ID);
    return id == null ? Optional.empty() : Optional.of(new String(id, StandardCharsets.UTF_8));
  }

  /** Saves the cluster's id durably (fsync). */
  synchronized void saveClusterId(String id) throws RocksDBException {
    checkOpen();
    db.put(syncWrites, CLUSTER_ID, bytes(id));
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
              RoutingTables.fromProto(RoutingTableProto.parseFrom(routing)), members, migrations));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("the saved cluster state is corrupt: " + e.getMessage(), e);
    }
  }

  private List<byte[]> values(String prefix) {
    List<byte[]> values = new ArrayList<>();
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

  /** Loads every saved directory-keyspace entry into the directory. */
  synchronized void loadGroups(GroupDirectory groups) throws RocksDBException {
    checkOpen();
    byte[] prefix = bytes(GROUP);
    try (RocksIterator it = db.newIterator()) {
      for (it.seek(prefix); it.isValid(); it.next()) {
        byte[] key = it.key();
        if (!startsWith(key, prefix)) {
          break;
        }
        int slash = prefix.length;
        while (key[slash] != '/') {
          slash++;
        }
        String keyspace = new String(key, prefix.length, slash - prefix.length, UTF_8);
        groups.put(
            keyspace,
            ByteString.copyFrom(key, slash + 1, key.length - slash - 1),
            new String(it.value(), UTF_8));
      }
    }
  }

  /** Saves directory entries durably (fsync) in one atomic batch. */
  synchronized void saveGroups(GroupDirectory.Changes changes) throws RocksDBException {
    checkOpen();
    try (WriteBatch batch = new WriteBatch()) {
      addGroups(batch, changes);
      db.write(syncWrites, batch);
    }
  }

  private static void addGroups(WriteBatch batch, GroupDirectory.Changes changes)
      throws RocksDBException {
    for (String keyspace : changes.dropped()) {
      batch.deleteRange(bytes(GROUP + keyspace + "/"), bytes(GROUP + keyspace + "0"));
    }
    for (var keyspace : changes.owners().entrySet()) {
      byte[] prefix = bytes(GROUP + keyspace.getKey() + "/");
      for (var entry : keyspace.getValue().entrySet()) {
        batch.put(
            ByteString.copyFrom(prefix).concat(entry.getKey()).toByteArray(),
            bytes(entry.getValue()));
      }
    }
  }

  private static boolean startsWith(byte[] key, byte[] prefix) {
    return key.length >= prefix.length
        && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
  }

  /** Saves the state durably (fsync) in one atomic batch, replacing what was saved before. */
  synchronized void save(ClusterState state) throws RocksDBException {
    save(state, GroupDirectory.Changes.NONE);
  }

  /** Saves the state and directory-entry changes durably (fsync) in one atomic batch. */
  synchronized void save(ClusterState state, GroupDirectory.Changes groups)
      throws RocksDBException {
    checkOpen();
    try (WriteBatch batch = new WriteBatch()) {
      addGroups(batch, groups);
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
