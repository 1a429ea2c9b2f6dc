package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Grouping;
import io.shardcluster.routing.KeyHash;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.routing.RangeMap;
import io.shardcluster.routing.ScanOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalStoreTest {
  private static final Keyspace HASH = Keyspace.hash("default");
  private static final Keyspace RANGE = Keyspace.range("ks", RangeMap.single("n1"));

  @TempDir Path dir;

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static List<String> keys(LocalStore store, Keyspace keyspace, String from, String to) {
    List<String> keys = new ArrayList<>();
    try (LocalStore.Cursor cursor = store.scan(null, keyspace, b(from), b(to), null)) {
      while (cursor.advance()) {
        keys.add(
            new String(cursor.key(), StandardCharsets.UTF_8)
                + "="
                + new String(cursor.value(), StandardCharsets.UTF_8));
      }
    }
    return keys;
  }

  @Test
  void putGetDelete_roundTrip() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      store.put(HASH, b("k"), b("v"));
      assertThat(store.get(HASH, b("k"))).isEqualTo(b("v"));
      store.delete(HASH, b("k"));
      assertThat(store.get(HASH, b("k"))).isNull();
    }
  }

  @Test
  void latestSequence_growsWithEveryWrite_andOnlyWithWrites() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      long start = store.latestSequence();
      store.put(HASH, b("k"), b("v"));
      long afterPut = store.latestSequence();
      assertThat(afterPut).isGreaterThan(start);

      store.get(HASH, b("k"));
      keys(store, HASH, "", "");
      assertThat(store.latestSequence()).isEqualTo(afterPut);

      store.delete(HASH, b("absent"));
      long afterDelete = store.latestSequence();
      assertThat(afterDelete).isGreaterThan(afterPut);
      store.write(store.batch().putMeta("m", b("1")));
      assertThat(store.latestSequence()).isGreaterThan(afterDelete);
    }
  }

  @Test
  void keyspaces_areIsolated_evenWhenNamesArePrefixesOfEachOther() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      Keyspace a = Keyspace.range("a", RangeMap.single("n1"));
      Keyspace ab = Keyspace.hash("ab");
      store.put(a, b("k"), b("1"));
      store.put(ab, b("k"), b("2"));
      store.put(a, b("\u00ff"), b("3"));

      assertThat(store.get(ab, b("k"))).isEqualTo(b("2"));
      assertThat(keys(store, a, "", "")).containsExactly("k=1", "\u00ff=3");
      assertThat(keys(store, ab, "", "")).containsExactly("k=2");
      assertThat(store.count(a, b(""), b(""))).isEqualTo(2);
    }
  }

  @Test
  void scan_returnsKeyOrder_withinHalfOpenRange() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      for (String k : List.of("d", "a", "c", "b", "e")) {
        store.put(RANGE, b(k), b(k.toUpperCase(Locale.ROOT)));
      }
      assertThat(keys(store, RANGE, "b", "d")).containsExactly("b=B", "c=C");
      assertThat(keys(store, RANGE, "c", "")).containsExactly("c=C", "d=D", "e=E");
    }
  }

  @Test
  void scan_readsEntriesOfEverySize_largerThanTheCursorsBuffers() throws Exception {
    // A scan copies entries through buffers it grows on demand: entries of every size, read in
    // one scan, must come back whole, and each key and value as its own array.
    Map<String, String> written = new TreeMap<>();
    SplittableRandom random = new SplittableRandom(7);
    for (int i = 0; i < 200; i++) {
      int keySize = random.nextInt(4) == 0 ? 300 + random.nextInt(3000) : 1 + random.nextInt(20);
      int valueSize = random.nextInt(4) == 0 ? 5000 + random.nextInt(200_000) : random.nextInt(50);
      written.put(
          String.format("%04d", i) + "k".repeat(keySize),
          String.valueOf((char) ('a' + i % 26)).repeat(valueSize));
    }
    try (LocalStore store = LocalStore.open(dir, false)) {
      written.forEach((k, v) -> store.put(RANGE, b(k), b(v)));
      List<String> expected = new ArrayList<>();
      written.forEach((k, v) -> expected.add(k + "=" + v));
      assertThat(keys(store, RANGE, "", "")).containsExactlyElementsOf(expected);
    }
    // Again from table files (read through memory maps) rather than the write buffer.
    try (LocalStore store = LocalStore.open(dir, false)) {
      try (var files = Files.list(dir)) {
        assertThat(files.map(Path::toString)).anyMatch(name -> name.endsWith(".sst"));
      }
      List<String> expected = new ArrayList<>();
      written.forEach((k, v) -> expected.add(k + "=" + v));
      assertThat(keys(store, RANGE, "", "")).containsExactlyElementsOf(expected);
      List<byte[]> held = new ArrayList<>();
      try (LocalStore.Cursor cursor = store.scan(RANGE)) {
        while (cursor.advance()) {
          held.add(cursor.key());
          held.add(cursor.value());
        }
      }
      List<String> kept = new ArrayList<>();
      for (int i = 0; i < held.size(); i += 2) {
        kept.add(
            new String(held.get(i), StandardCharsets.UTF_8)
                + "="
                + new String(held.get(i + 1), StandardCharsets.UTF_8));
      }
      assertThat(kept).containsExactlyElementsOf(expected);
    }
  }

  @Test
  void putAll_andMultiGet() throws Exception {
    try (LocalStore store = LocalStore.open(dir, true)) {
      store.write(store.batch().put(HASH, b("x"), b("1")).put(HASH, b("y"), b("2")));
      List<byte[]> values = store.multiGet(HASH, List.of(b("y"), b("nope"), b("x")));
      assertThat(values.get(0)).isEqualTo(b("2"));
      assertThat(values.get(1)).isNull();
      assertThat(values.get(2)).isEqualTo(b("1"));
    }
  }

  @Test
  void reopen_keepsWritesAndRoutingTable() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      store.put(HASH, b("durable"), b("yes"));
      store.saveRouting(b("table-bytes"));
    }
    try (LocalStore store = LocalStore.open(dir, false)) {
      assertThat(store.get(HASH, b("durable"))).isEqualTo(b("yes"));
      assertThat(store.loadRouting()).isEqualTo(b("table-bytes"));
    }
  }

  private static List<String> scanned(LocalStore.Cursor cursor) {
    List<String> keys = new ArrayList<>();
    try (cursor) {
      while (cursor.advance()) {
        keys.add(new String(cursor.key(), StandardCharsets.UTF_8));
      }
    }
    return keys;
  }

  private static List<String> written(LocalStore store, Keyspace keyspace, int n) {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String key = "key" + i;
      store.put(keyspace, b(key), b("v"));
      keys.add(key);
    }
    return keys;
  }

  @Test
  void hashKeyspace_isStoredAndScannedInPositionOrder() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      List<String> keys = written(store, HASH, 500);
      List<String> expected = new ArrayList<>(keys);
      expected.sort(Comparator.comparing(k -> b(k), (x, y) -> ScanOrder.compare(HASH, x, y)));
      assertThat(keys(store, HASH, "", ""))
          .map(row -> row.substring(0, row.length() - 2))
          .containsExactlyElementsOf(expected);

      // Resuming after a key goes on in position order from it.
      String middle = expected.get(250);
      assertThat(scanned(store.scan(null, HASH, b(""), b(""), b(middle))))
          .containsExactlyElementsOf(expected.subList(251, 500));
      // Key bounds filter; a single key is found by one seek.
      assertThat(scanned(store.scan(null, HASH, b("key1"), b("key2"), null)))
          .hasSize(111)
          .allMatch(k -> k.startsWith("key1"));
      assertThat(scanned(store.scan(null, HASH, b("key7"), b("key7\0"), null)))
          .containsExactly("key7");
    }
  }

  @Test
  void movingSetOfPositionRanges_readsOnlyItsKeys_andIsDeletedByRanges() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      List<String> keys = written(store, HASH, 1000);
      // A quarter of the space in two ranges, one of them at the end of the space.
      List<PositionRange> ranges =
          List.of(
              new PositionRange(0x1000_0000_0000_0000L, 0x3000_0000_0000_0000L),
              new PositionRange(0xE000_0000_0000_0000L, 0));
      MovingSet moving = new MovingSet(HASH.name(), ranges, List.of());
      List<String> inSet =
          keys.stream().filter(k -> moving.containsPosition(KeyHash.position(b(k)))).toList();
      assertThat(inSet).hasSizeBetween(150, 350);

      assertThat(scanned(store.scan(null, HASH, moving, null)))
          .containsExactlyInAnyOrderElementsOf(inSet);

      assertThat(store.deleteRanges(HASH, moving)).isTrue();
      for (String key : keys) {
        assertThat(store.get(HASH, b(key))).as(key).isEqualTo(inSet.contains(key) ? null : b("v"));
      }
      assertThat(store.count(HASH, b(""), b(""))).isEqualTo(1000 - inSet.size());
    }
  }

  @Test
  void directoryKeyspace_keepsEachGroupContiguous_inKeyOrder() throws Exception {
    Keyspace directory = Keyspace.directory("tenants", new Grouping(Grouping.DEFAULT_SEPARATOR, 0));
    try (LocalStore store = LocalStore.open(dir, false)) {
      for (String tenant : List.of("acme", "globex", "initech")) {
        for (int i = 9; i >= 0; i--) {
          store.put(directory, b(tenant + ":" + i), b("v"));
        }
      }
      List<String> all = scanned(store.scan(directory));
      for (String tenant : List.of("acme", "globex", "initech")) {
        int first = all.indexOf(tenant + ":0");
        assertThat(all.subList(first, first + 10))
            .containsExactly(
                tenant + ":0",
                tenant + ":1",
                tenant + ":2",
                tenant + ":3",
                tenant + ":4",
                tenant + ":5",
                tenant + ":6",
                tenant + ":7",
                tenant + ":8",
                tenant + ":9");
      }
      MovingSet globex =
          MovingSet.ofGroups(
              directory.name(), List.of(ByteString.copyFromUtf8("globex")), List.of());
      assertThat(scanned(store.scan(null, directory, globex, null)))
          .hasSize(10)
          .allMatch(k -> k.startsWith("globex:"));
    }
  }

  @Test
  void movingSetOfDirectoryEntries_inAHashKeyspace_isNotDeletedByRanges() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      written(store, HASH, 10);
      MovingSet entries =
          new MovingSet(
              HASH.name(),
              List.of(),
              List.of(new DirectoryEntry(ByteString.copyFromUtf8("key1"), false, "n2")));
      assertThat(store.deleteRanges(HASH, entries)).isFalse();
      assertThat(store.count(HASH, b(""), b(""))).isEqualTo(10);
      // Its keys may be anywhere: a scan for it reads the whole keyspace.
      assertThat(scanned(store.scan(null, HASH, entries, null))).hasSize(10);
    }
  }

  @Test
  void writeThrough_sendsEveryBatchToTheLog_andApplyLoggedSkipsWhatItHasApplied() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      List<byte[]> logged = new java.util.ArrayList<>();
      store.writeThrough(logged::add);
      assertThat(store.replicated()).isTrue();
      store.put(HASH, b("k"), b("v1"));
      store.delete(HASH, b("gone"));
      assertThat(logged).hasSize(2);
      assertThat(store.get(HASH, b("k"))).as("not applied until the log says so").isNull();

      store.applyLogged(logged.get(0), new LocalStore.LogPosition(1, 7));
      assertThat(store.get(HASH, b("k"))).isEqualTo(b("v1"));
      assertThat(store.applied()).isEqualTo(new LocalStore.LogPosition(1, 7));

      store.put(HASH, b("k"), b("v2"));
      store.applyLogged(
          logged.get(2),
          new LocalStore.LogPosition(1, 7)); // a replay of an index already applied: skipped
      assertThat(store.get(HASH, b("k"))).isEqualTo(b("v1"));
      store.applyLogged(logged.get(2), new LocalStore.LogPosition(2, 8));
      assertThat(store.get(HASH, b("k"))).isEqualTo(b("v2"));

      store.saveRouting(b("table"));
      assertThat(logged).as("the routing cache is this process's own").hasSize(3);
      assertThat(store.loadRouting()).isEqualTo(b("table"));
    }
  }

  @Test
  void aStoreReadWhole_installedIntoAnother_replacesItsRows_andCarriesTheLogPosition()
      throws Exception {
    Path leaderDir = dir.resolve("leader");
    Path followerDir = dir.resolve("follower");
    try (LocalStore leader = LocalStore.open(leaderDir, false);
        LocalStore follower = LocalStore.open(followerDir, false)) {
      List<byte[]> logged = new java.util.ArrayList<>();
      leader.writeThrough(logged::add);
      for (int i = 0; i < 300; i++) {
        leader.put(HASH, b("key-" + i), b("value-" + i));
      }
      for (int i = 0; i < logged.size(); i++) {
        leader.applyLogged(logged.get(i), new LocalStore.LogPosition(3, i + 1));
      }
      follower.put(HASH, b("stale"), b("only on the follower"));
      follower.put(HASH, b("key-1"), b("old"));

      LocalStore.StoreInstall install = follower.beginInstall();
      assertThat(follower.installInterrupted()).as("until it finishes").isTrue();
      List<Integer> chunks = new java.util.ArrayList<>();
      leader.readAll(
          1024,
          new LocalStore.StoreSink() {
            @Override
            public void rows(int family, List<byte[]> keys, List<byte[]> values) {
              chunks.add(keys.size());
              install.rows(family, keys, values);
            }

            @Override
            public void end(LocalStore.LogPosition position) {
              install.finish(position);
            }
          });

      assertThat(chunks.size()).as("read in chunks of about 1 KiB").isGreaterThan(5);
      assertThat(follower.get(HASH, b("stale"))).isNull();
      assertThat(follower.get(HASH, b("key-1"))).isEqualTo(b("value-1"));
      assertThat(follower.get(HASH, b("key-299"))).isEqualTo(b("value-299"));
      assertThat(follower.applied()).isEqualTo(new LocalStore.LogPosition(3, 300));
      assertThat(follower.lastSnapshot()).isEqualTo(new LocalStore.LogPosition(3, 300));
      assertThat(follower.installInterrupted()).isFalse();
    }
    try (LocalStore reopened = LocalStore.open(followerDir, false)) {
      assertThat(reopened.applied()).as("durable").isEqualTo(new LocalStore.LogPosition(3, 300));
      assertThat(reopened.get(HASH, b("key-7"))).isEqualTo(b("value-7"));
    }
  }

  @Test
  void anInstallStoppedHalfway_isSeenAtTheNextOpen_andCleared() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      store.put(HASH, b("old"), b("v"));
      LocalStore.StoreInstall install = store.beginInstall();
      install.rows(0, List.of(b("x")), List.of(b("partial")));
    }
    try (LocalStore store = LocalStore.open(dir, false)) {
      assertThat(store.installInterrupted()).isTrue();
      store.clearInterruptedInstall();
      assertThat(store.installInterrupted()).isFalse();
      assertThat(store.get(HASH, b("old"))).isNull();
      assertThat(store.applied()).isEqualTo(LocalStore.LogPosition.NONE);
    }
  }

  @Test
  void markSnapshot_recordsTheLastAppliedEntry() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      assertThat(store.lastSnapshot()).isEqualTo(LocalStore.LogPosition.NONE);
      List<byte[]> logged = new java.util.ArrayList<>();
      store.writeThrough(logged::add);
      store.put(HASH, b("k"), b("v"));
      store.applyLogged(logged.get(0), new LocalStore.LogPosition(2, 41));
      assertThat(store.markSnapshot()).isEqualTo(new LocalStore.LogPosition(2, 41));
      assertThat(store.lastSnapshot()).isEqualTo(new LocalStore.LogPosition(2, 41));
    }
  }
}
