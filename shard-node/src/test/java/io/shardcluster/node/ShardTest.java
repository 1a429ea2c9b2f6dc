package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.routing.ScanOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardTest {
  // How the default keyspace is stored: a hash keyspace, in position order.
  private static final Keyspace STORED = Keyspace.hash(Keyspace.DEFAULT);

  @TempDir Path dir;

  // n1 owns the lower half of the ring, n2 the upper half.
  private final RoutingTable table =
      new RoutingTable(
          7,
          Map.of("n1", "h:1", "n2", "h:2"),
          Map.of(
              Keyspace.DEFAULT,
              Keyspace.hash(Keyspace.DEFAULT)
                  .withRing(HashRing.of(List.of(0L, Long.MIN_VALUE), List.of("n1", "n2")))));
  private final AtomicReference<RoutingTable> current = new AtomicReference<>(table);
  private LocalStore store;
  private Shard shard;

  @BeforeEach
  void open() throws Exception {
    store = LocalStore.open(dir, false);
    shard =
        new Shard(
            "n1",
            store,
            epoch -> current.get(),
            new NodeMetrics(System::nanoTime),
            new OutgoingMigrations(
                "n1", store, current::get, epoch -> current.get(), new CopyPacer(0)),
            // These tests use hash and range keyspaces only: no group lookups.
            new Ownership(null));
  }

  @AfterEach
  void close() {
    store.close();
  }

  private List<String> keysOwnedBy(String node, int count) {
    List<String> keys = new ArrayList<>();
    for (int i = 0; keys.size() < count; i++) {
      if (table.ownerOf(Keyspace.DEFAULT, b("k" + i)).equals(node)) {
        keys.add("k" + i);
      }
    }
    return keys;
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void put_ownedKey_isStoredAndReadable() {
    String key = keysOwnedBy("n1", 1).get(0);
    shard.put(Keyspace.DEFAULT, b(key), b("v"), 7);
    assertThat(shard.get(Keyspace.DEFAULT, b(key), 7))
        .hasValueSatisfying(v -> assertThat(v).isEqualTo(b("v")));
  }

  @Test
  void put_keyOfAnotherNode_isWrongShardWithOwner_andNothingIsStored() {
    String key = keysOwnedBy("n2", 1).get(0);
    assertThatThrownBy(() -> shard.put(Keyspace.DEFAULT, b(key), b("v"), 7))
        .isInstanceOfSatisfying(
            WrongShardException.class,
            e -> {
              assertThat(e.epoch()).isEqualTo(7);
              assertThat(e.owner()).contains("n2");
              assertThat(e.ownerAddress()).contains("h:2");
            });
    assertThat(store.get(STORED, b(key))).isNull();
  }

  @Test
  void multiPut_anyForeignKey_refusesWholeBatch() {
    List<OutgoingMigrations.Mutation> entries = new ArrayList<>();
    keysOwnedBy("n1", 3).forEach(k -> entries.add(new OutgoingMigrations.Mutation(b(k), b("v"))));
    entries.add(new OutgoingMigrations.Mutation(b(keysOwnedBy("n2", 1).get(0)), b("v")));

    assertThatThrownBy(() -> shard.multiPut(Keyspace.DEFAULT, entries, 7))
        .isInstanceOf(WrongShardException.class);
    assertThat(store.count(STORED, new byte[0], new byte[0])).isZero();
  }

  @Test
  void scan_returnsOnlyOwnedKeys_inPositionOrder_upToLimit() {
    for (String key : keysOwnedBy("n1", 5)) {
      store.put(STORED, b(key), b("v"));
    }
    // A key this node stores but no longer owns must not be served.
    store.put(STORED, b(keysOwnedBy("n2", 1).get(0)), b("stale"));

    List<String> seen = new ArrayList<>();
    try (Shard.Scan scan = shard.scan(Keyspace.DEFAULT, new byte[0], new byte[0], null, 4, 7)) {
      while (scan.advance()) {
        seen.add(new String(scan.key(), StandardCharsets.UTF_8));
      }
    }
    assertThat(seen)
        .hasSize(4)
        .isSortedAccordingTo(
            Comparator.comparing(
                ShardTest::b, (x, y) -> ScanOrder.compare(table.keyspace(Keyspace.DEFAULT), x, y)));
    seen.forEach(k -> assertThat(table.ownerOf(Keyspace.DEFAULT, b(k))).isEqualTo("n1"));
  }

  @Test
  void scan_runsOnlyAtItsEpoch_refusedAtAnother_andStopsWhenTheTableChanges() {
    for (String key : keysOwnedBy("n1", 3)) {
      store.put(STORED, b(key), b("v"));
    }
    assertThatThrownBy(() -> shard.scan(Keyspace.DEFAULT, new byte[0], new byte[0], null, 0, 6))
        .isInstanceOfSatisfying(WrongShardException.class, e -> assertThat(e.epoch()).isEqualTo(7));

    try (Shard.Scan scan = shard.scan(Keyspace.DEFAULT, new byte[0], new byte[0], null, 0, 7)) {
      assertThat(scan.advance()).isTrue();
      current.set(table.withEpoch(8));
      assertThatThrownBy(scan::advance)
          .isInstanceOfSatisfying(
              WrongShardException.class, e -> assertThat(e.epoch()).isEqualTo(8));
    }
    // Epoch 0: by whatever table the node has.
    try (Shard.Scan scan = shard.scan(Keyspace.DEFAULT, new byte[0], new byte[0], null, 0, 0)) {
      int rows = 0;
      while (scan.advance()) {
        rows++;
      }
      assertThat(rows).isEqualTo(3);
    }
  }

  @Test
  void requests_withoutAnyRoutingTable_areWrongShardAtEpochZero() {
    current.set(RoutingTable.empty());
    assertThatThrownBy(() -> shard.get(Keyspace.DEFAULT, b("k"), 0))
        .isInstanceOfSatisfying(WrongShardException.class, e -> assertThat(e.epoch()).isZero());
  }

  @Test
  void badInput_isInvalidArgument() {
    assertThat(code(() -> shard.put(Keyspace.DEFAULT, new byte[0], b("v"), 7)))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> shard.put(Keyspace.DEFAULT, b("k"), new byte[0], 7)))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> shard.get(Keyspace.DEFAULT, new byte[5000], 7)))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> shard.scan(Keyspace.DEFAULT, b("z"), b("a"), null, 0, 7)))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> shard.get("nope", b("k"), 7))).isEqualTo(ErrorCode.NOT_FOUND);
  }

  private static ErrorCode code(Runnable action) {
    try {
      action.run();
    } catch (ShardClusterException e) {
      return e.code();
    }
    throw new AssertionError("expected a failure");
  }
}
