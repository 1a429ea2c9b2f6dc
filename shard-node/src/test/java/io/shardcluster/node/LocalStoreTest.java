package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalStoreTest {
  @TempDir Path dir;

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static List<String> keys(LocalStore store, String keyspace, String from, String to) {
    List<String> keys = new ArrayList<>();
    try (LocalStore.Cursor cursor = store.scan(keyspace, b(from), b(to))) {
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
      store.put("default", b("k"), b("v"));
      assertThat(store.get("default", b("k"))).isEqualTo(b("v"));
      store.delete("default", b("k"));
      assertThat(store.get("default", b("k"))).isNull();
    }
  }

  @Test
  void latestSequence_growsWithEveryWrite_andOnlyWithWrites() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      long start = store.latestSequence();
      store.put("default", b("k"), b("v"));
      long afterPut = store.latestSequence();
      assertThat(afterPut).isGreaterThan(start);

      store.get("default", b("k"));
      keys(store, "default", "", "");
      assertThat(store.latestSequence()).isEqualTo(afterPut);

      store.delete("default", b("absent"));
      long afterDelete = store.latestSequence();
      assertThat(afterDelete).isGreaterThan(afterPut);
      store.write(store.batch().putMeta("m", b("1")));
      assertThat(store.latestSequence()).isGreaterThan(afterDelete);
    }
  }

  @Test
  void keyspaces_areIsolated_evenWhenNamesArePrefixesOfEachOther() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      store.put("a", b("k"), b("1"));
      store.put("ab", b("k"), b("2"));
      store.put("a", b("\u00ff"), b("3"));

      assertThat(store.get("ab", b("k"))).isEqualTo(b("2"));
      assertThat(keys(store, "a", "", "")).containsExactly("k=1", "\u00ff=3");
      assertThat(keys(store, "ab", "", "")).containsExactly("k=2");
      assertThat(store.count("a", b(""), b(""))).isEqualTo(2);
    }
  }

  @Test
  void scan_returnsKeyOrder_withinHalfOpenRange() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      for (String k : List.of("d", "a", "c", "b", "e")) {
        store.put("ks", b(k), b(k.toUpperCase(Locale.ROOT)));
      }
      assertThat(keys(store, "ks", "b", "d")).containsExactly("b=B", "c=C");
      assertThat(keys(store, "ks", "c", "")).containsExactly("c=C", "d=D", "e=E");
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
      written.forEach((k, v) -> store.put("ks", b(k), b(v)));
      List<String> expected = new ArrayList<>();
      written.forEach((k, v) -> expected.add(k + "=" + v));
      assertThat(keys(store, "ks", "", "")).containsExactlyElementsOf(expected);
    }
    // Again from table files (read through memory maps) rather than the write buffer.
    try (LocalStore store = LocalStore.open(dir, false)) {
      try (var files = Files.list(dir)) {
        assertThat(files.map(Path::toString)).anyMatch(name -> name.endsWith(".sst"));
      }
      List<String> expected = new ArrayList<>();
      written.forEach((k, v) -> expected.add(k + "=" + v));
      assertThat(keys(store, "ks", "", "")).containsExactlyElementsOf(expected);
      List<byte[]> held = new ArrayList<>();
      try (LocalStore.Cursor cursor = store.scan("ks", b(""), b(""))) {
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
      store.write(store.batch().put("ks", b("x"), b("1")).put("ks", b("y"), b("2")));
      List<byte[]> values = store.multiGet("ks", List.of(b("y"), b("nope"), b("x")));
      assertThat(values.get(0)).isEqualTo(b("2"));
      assertThat(values.get(1)).isNull();
      assertThat(values.get(2)).isEqualTo(b("1"));
    }
  }

  @Test
  void reopen_keepsWritesAndRoutingTable() throws Exception {
    try (LocalStore store = LocalStore.open(dir, false)) {
      store.put("default", b("durable"), b("yes"));
      store.saveRouting(b("table-bytes"));
    }
    try (LocalStore store = LocalStore.open(dir, false)) {
      assertThat(store.get("default", b("durable"))).isEqualTo(b("yes"));
      assertThat(store.loadRouting()).isEqualTo(b("table-bytes"));
    }
  }
}
