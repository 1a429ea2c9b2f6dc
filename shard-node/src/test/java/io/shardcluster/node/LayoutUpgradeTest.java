package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.shardcluster.proto.v1.IncomingState;
import io.shardcluster.routing.Grouping;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RangeMap;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.routing.ScanOrder;
import io.shardcluster.rpc.RoutingTables;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;

/**
 * A store written in the old layout (every key as {@code keyspace 0x00 key}) opened by this one.
 */
class LayoutUpgradeTest {
  private static final Keyspace HASH = Keyspace.hash(Keyspace.DEFAULT);
  private static final Keyspace RANGE = Keyspace.range("events", RangeMap.single("n1"));
  private static final Keyspace TENANTS =
      Keyspace.directory("tenants", new Grouping(Grouping.DEFAULT_SEPARATOR, 0));
  private static final int KEYS = 300;

  @TempDir Path dir;

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] oldKey(String keyspace, String key) {
    byte[] name = b(keyspace);
    byte[] stored = Arrays.copyOf(name, name.length + 1 + key.length());
    System.arraycopy(b(key), 0, stored, name.length + 1, key.length());
    return stored;
  }

  /** Writes an old-layout store; with {@code interrupted}, one whose upgrade stopped halfway. */
  private void writeOldStore(boolean interrupted) throws Exception {
    RocksDB.loadLibrary();
    List<ColumnFamilyDescriptor> families =
        new ArrayList<>(
            List.of(
                new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY),
                new ColumnFamilyDescriptor(b("meta")),
                new ColumnFamilyDescriptor(b("changes"))));
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try (DBOptions options =
            new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
        RocksDB db = RocksDB.open(options, dir.toString(), families, handles)) {
      ColumnFamilyHandle data = handles.get(0);
      ColumnFamilyHandle meta = handles.get(1);
      RoutingTable table = RoutingTable.empty().with(1, HASH).with(2, RANGE).with(3, TENANTS);
      db.put(meta, b(LocalStore.ROUTING_KEY), RoutingTables.toProto(table).toByteArray());
      IncomingState copying =
          IncomingState.newBuilder().setAfterKey(ByteString.copyFromUtf8("k5")).build();
      db.put(meta, b(IncomingMigrations.META_PREFIX + "m1"), copying.toByteArray());
      for (int i = 0; i < KEYS; i++) {
        db.put(data, oldKey(HASH.name(), "k" + i), b("h" + i));
        db.put(data, oldKey(RANGE.name(), "e" + i), b("r" + i));
        db.put(data, oldKey(TENANTS.name(), "t" + (i % 7) + ":" + i), b("d" + i));
      }
      if (interrupted) {
        // Converted in full, and half copied back before the crash.
        ColumnFamilyHandle upgrade =
            db.createColumnFamily(new ColumnFamilyDescriptor(b(LayoutUpgrade.UPGRADE_FAMILY)));
        for (int i = 0; i < KEYS; i++) {
          db.put(upgrade, LocalStore.encode(HASH, b("k" + i)), b("h" + i));
          db.put(upgrade, LocalStore.encode(TENANTS, b("t" + (i % 7) + ":" + i)), b("d" + i));
          if (i % 2 == 0) {
            db.put(data, LocalStore.encode(HASH, b("k" + i)), b("h" + i));
          }
        }
        db.put(meta, b(LayoutUpgrade.LAYOUT_KEY), b("converted"));
        upgrade.close();
      }
      handles.forEach(ColumnFamilyHandle::close);
    }
  }

  private static List<String> scanned(LocalStore store, Keyspace keyspace) {
    List<String> keys = new ArrayList<>();
    try (LocalStore.Cursor cursor = store.scan(keyspace)) {
      while (cursor.advance()) {
        keys.add(new String(cursor.key(), StandardCharsets.UTF_8));
      }
    }
    return keys;
  }

  private void assertConverted() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      for (int i = 0; i < KEYS; i++) {
        assertThat(store.get(HASH, b("k" + i))).isEqualTo(b("h" + i));
        assertThat(store.get(RANGE, b("e" + i))).isEqualTo(b("r" + i));
        assertThat(store.get(TENANTS, b("t" + (i % 7) + ":" + i))).isEqualTo(b("d" + i));
      }
      for (Keyspace keyspace : List.of(HASH, RANGE, TENANTS)) {
        List<String> keys = scanned(store, keyspace);
        assertThat(keys)
            .as(keyspace.name())
            .hasSize(KEYS)
            .isSortedAccordingTo(
                Comparator.comparing(
                    LayoutUpgradeTest::b, (x, y) -> ScanOrder.compare(keyspace, x, y)));
      }
      // A copy into this node resumed by a key of the old order starts again.
      IncomingState state =
          IncomingState.parseFrom(store.getMeta(IncomingMigrations.META_PREFIX + "m1"));
      assertThat(state.getAfterKey()).isEmpty();
    }
    // Opening again changes nothing.
    try (LocalStore store = LocalStore.open(dir, false)) {
      assertThat(scanned(store, HASH)).hasSize(KEYS);
    }
  }

  @Test
  void oldStore_isConvertedAtOpen_losingNothing() throws Exception {
    writeOldStore(false);
    assertConverted();
  }

  @Test
  void upgradeInterruptedWhileCopyingBack_isFinishedAtTheNextOpen() throws Exception {
    writeOldStore(true);
    assertConverted();
  }
}
