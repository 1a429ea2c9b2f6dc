package io.shardcluster.coordinator;

import com.google.protobuf.InvalidProtocolBufferException;
import io.shardcluster.wire.RoutingTables;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The coordinator's durable metadata in RocksDB. Every save is one atomic, fsynced write batch, so
 * a crash leaves either the old state or the new one.
 */
final class MetadataStore implements AutoCloseable {
  private static final byte[] ROUTING = bytes("routing");
  private static final String INSTANCE_PREFIX = "instance/";

  static {
    RocksDB.loadLibrary();
  }

  private final Options options;
  private final RocksDB db;
  private final WriteOptions syncWrites = new WriteOptions().setSync(true);

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
  Optional<ClusterState> load() throws RocksDBException {
    byte[] routing = db.get(ROUTING);
    if (routing == null) {
      return Optional.empty();
    }
    Map<String, String> instances = new HashMap<>();
    try (RocksIterator it = db.newIterator()) {
      byte[] prefix = bytes(INSTANCE_PREFIX);
      for (it.seek(prefix); it.isValid(); it.next()) {
        String key = new String(it.key(), StandardCharsets.UTF_8);
        if (!key.startsWith(INSTANCE_PREFIX)) {
          break;
        }
        instances.put(
            key.substring(INSTANCE_PREFIX.length()),
            new String(it.value(), StandardCharsets.UTF_8));
      }
    }
    try {
      return Optional.of(
          new ClusterState(
              RoutingTables.fromProto(io.shardcluster.proto.v1.RoutingTable.parseFrom(routing)),
              instances));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("the saved routing table is corrupt: " + e.getMessage(), e);
    }
  }

  /** Saves the state durably (fsync) in one atomic batch. */
  void save(ClusterState state) throws RocksDBException {
    try (WriteBatch batch = new WriteBatch()) {
      batch.put(ROUTING, RoutingTables.toProto(state.routing()).toByteArray());
      for (var instance : state.instances().entrySet()) {
        batch.put(bytes(INSTANCE_PREFIX + instance.getKey()), bytes(instance.getValue()));
      }
      db.write(syncWrites, batch);
    }
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    syncWrites.close();
    db.close();
    options.close();
  }
}
