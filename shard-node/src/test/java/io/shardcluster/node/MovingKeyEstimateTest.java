package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.shardcluster.routing.Directory;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.routing.RoutingTable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MovingKeyEstimateTest {
  // How the default keyspace is stored: a hash keyspace, in position order.
  private static final Keyspace STORED = Keyspace.hash(Keyspace.DEFAULT);

  @TempDir Path dir;

  private final AtomicReference<RoutingTable> table = new AtomicReference<>(table(7));
  private final AtomicReference<KeyCounts> counts = new AtomicReference<>(KeyCounts.NONE);
  private final AtomicLong writes = new AtomicLong();
  // The lower half of the positions, of which n1 owns all.
  private final MovingSet moving =
      new MovingSet(Keyspace.DEFAULT, List.of(new PositionRange(0, Long.MIN_VALUE)), List.of());
  private LocalStore store;
  private MovingKeyEstimate estimate;

  private static RoutingTable table(long epoch, DirectoryEntry... entries) {
    return new RoutingTable(
        epoch,
        Map.of("n1", "h:1"),
        Map.of(
            Keyspace.DEFAULT,
            Keyspace.hash(Keyspace.DEFAULT)
                .withRing(HashRing.of(List.of(0L), List.of("n1")))
                .withDirectory(Directory.of(List.of(entries)))));
  }

  @BeforeEach
  void open() throws Exception {
    store = LocalStore.open(dir, false);
    estimate = new MovingKeyEstimate(store, "n1", table::get, counts::get, writes::get);
  }

  @AfterEach
  void close() {
    store.close();
  }

  /** Writes keys k{from}..k{to - 1} as the node would, and returns how many of all keys move. */
  private long write(int from, int to) {
    for (int i = from; i < to; i++) {
      store.write(store.batch().put(STORED, key(i), key(i)));
      writes.incrementAndGet();
    }
    long moved = 0;
    for (int i = 0; i < to; i++) {
      moved += moving.contains(table.get().keyspaces().get(Keyspace.DEFAULT), key(i)) ? 1 : 0;
    }
    return moved;
  }

  private static byte[] key(int i) {
    return ("k" + i).getBytes(StandardCharsets.UTF_8);
  }

  private void countNow() {
    counts.set(KeyCounts.count(store, table.get(), "n1", writes.get()));
  }

  @Test
  void aCurrentCount_givesTheMovingShareOfIt_withoutReadingKeys() {
    write(0, 2_000);
    countNow();
    // Writes since the count, within a tenth of it: the count still serves (half of its keys).
    long moved = write(2_000, 2_150);
    assertThat(moved).isBetween(900L, 1_200L).isNotEqualTo(1_000);
    assertThat(estimate.of(moving)).isEqualTo(1_000);
  }

  @Test
  void afterABulkLoad_theCountIsStale_andTheMovingKeysAreCounted() {
    write(0, 10);
    countNow();
    long moved = write(10, 5_000);
    assertThat(estimate.of(moving)).isEqualTo(moved);
  }

  @Test
  void afterOwnershipChanged_theCountIsStale_andTheMovingKeysAreCounted() {
    long moved = write(0, 3_000);
    countNow();
    assertThat(moved).isNotEqualTo(1_500);
    assertThat(estimate.of(moving)).isEqualTo(1_500);
    table.set(table(8));
    assertThat(estimate.of(moving)).isEqualTo(moved);
  }

  @Test
  void withoutACount_theMovingKeysAreCounted() {
    long moved = write(0, 1_000);
    assertThat(estimate.of(moving)).isEqualTo(moved);
  }

  @Test
  void anEntryTheMigrationAdds_hasItsKeysCounted() {
    write(0, 2_000);
    countNow();
    // A new prefix entry takes k1, k10-k19 and k100-k199 (111 keys) from the ring.
    MovingSet adding =
        new MovingSet(
            Keyspace.DEFAULT,
            List.of(),
            List.of(new DirectoryEntry(ByteString.copyFromUtf8("k1"), true, "n2")));
    assertThat(estimate.of(adding)).isEqualTo(111 + 1_000);
  }

  @Test
  void keysTheNodesDirectoryEntriesPlace_areNotCountedAsMovingWithItsRing() {
    // Prefix k1 on n1 places k1, k10-k19, k100-k199 and k1000-k1999: 1,111 of 2,000 keys.
    table.set(table(7, new DirectoryEntry(ByteString.copyFromUtf8("k1"), true, "n1")));
    write(0, 2_000);
    countNow();
    long moved = 0;
    for (int i = 0; i < 2_000; i++) {
      moved +=
          !("k" + i).startsWith("k1")
                  && moving.contains(table.get().keyspaces().get(Keyspace.DEFAULT), key(i))
              ? 1
              : 0;
    }
    // Half of the 889 keys the ring places, not half of all 2,000.
    assertThat(estimate.of(moving)).isEqualTo(445);
    assertThat(moved).isBetween(380L, 510L);
  }
}
