package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
        store.put("ks", b(k), b(k.toUpperCase()));
      }
      assertThat(keys(store, "ks", "b", "d")).containsExactly("b=B", "c=C");
      assertThat(keys(store, "ks", "c", "")).containsExactly("c=C", "d=D", "e=E");
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
