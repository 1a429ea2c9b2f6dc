package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.shardcluster.proto.v1.CopyBatch;
import io.shardcluster.proto.v1.MigrationSpec;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.KeyHash;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.RoutingTables;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The source side of a migration over a real store: what its copy sends, and how fast. */
class OutgoingMigrationsTest {
  // How the default keyspace is stored: a hash keyspace, in position order.
  private static final Keyspace STORED = Keyspace.hash(Keyspace.DEFAULT);

  private static final int KEYS = 12_000;
  // The lower half of the ring moves.
  private static final PositionRange MOVING = new PositionRange(0, Long.MIN_VALUE);

  @TempDir Path dir;

  private final RoutingTable table =
      new RoutingTable(
          3,
          Map.of("n1", "h:1", "n2", "h:2"),
          Map.of(
              Keyspace.DEFAULT,
              Keyspace.hash(Keyspace.DEFAULT).withRing(HashRing.of(List.of(0L), List.of("n1")))));
  private LocalStore store;
  private OutgoingMigrations outgoing;

  @BeforeEach
  void open() throws Exception {
    store = LocalStore.open(dir, false);
    byte[] value = new byte[100];
    for (int i = 0; i < KEYS; i++) {
      store.put(STORED, key(i), value);
    }
    outgoing = new OutgoingMigrations("n1", store, () -> table, epoch -> table, new CopyPacer(0));
    outgoing.begin(
        MigrationSpec.newBuilder()
            .setId("m1")
            .setSource("n1")
            .setTarget("n2")
            .setMoving(
                RoutingTables.toProto(new MovingSet(Keyspace.DEFAULT, List.of(MOVING), List.of())))
            .build());
  }

  @AfterEach
  void close() {
    store.close();
  }

  private static byte[] key(int i) {
    return ("k" + i).getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void copy_sendsExactlyTheMovingKeys() {
    List<CopyBatch> batches = new ArrayList<>();
    outgoing.copy("m1", new byte[0], 0, false, batches::add);

    Set<String> sent = new TreeSet<>();
    batches.forEach(b -> b.getEntriesList().forEach(e -> sent.add(e.getKey().toStringUtf8())));
    Set<String> moving = new TreeSet<>();
    for (int i = 0; i < KEYS; i++) {
      if (MOVING.contains(KeyHash.position(key(i)))) {
        moving.add("k" + i);
      }
    }
    assertThat(moving).hasSizeBetween(KEYS / 3, 2 * KEYS / 3);
    assertThat(sent).isEqualTo(moving);
    assertThat(batches).as("batches of at most 4,096 rows").hasSizeGreaterThan(1);
  }

  /**
   * A throttled copy sends no faster than its rate: every batch but the first waits for the bytes
   * before it (Guava's RateLimiter lets the first go at once). Only the lower bound is checked; it
   * holds however slow the machine.
   */
  @Test
  void copy_throttled_holdsItsRate() {
    long bytesPerSecond = 200_000;
    List<CopyBatch> batches = new ArrayList<>();
    long started = System.nanoTime();
    outgoing.copy("m1", new byte[0], bytesPerSecond, false, batches::add);
    double seconds = (System.nanoTime() - started) / 1e9;

    long paidFor = 0;
    for (int i = 0; i < batches.size() - 1; i++) {
      for (var entry : batches.get(i).getEntriesList()) {
        paidFor += entry.getKey().size() + entry.getValue().size();
      }
    }
    assertThat(paidFor).as("bytes that had to wait").isGreaterThan(bytesPerSecond);
    assertThat(seconds).isGreaterThanOrEqualTo(0.95 * paidFor / bytesPerSecond);
  }

  /**
   * A write whose ownership was checked with a table older than the node's now is refused: a
   * migration that ended in between may have deleted its keys here (the race a directory move hit
   * in CI), and the write must not land after that.
   */
  @Test
  void aWriteCheckedWithAnOlderTable_isRefusedAsWrongShard_andWritesNothing() {
    RoutingTable older =
        new RoutingTable(
            2, table.nodeAddresses(), Map.of(Keyspace.DEFAULT, table.keyspace(Keyspace.DEFAULT)));
    byte[] key = "fresh".getBytes(StandardCharsets.UTF_8);
    List<OutgoingMigrations.Mutation> put =
        List.of(new OutgoingMigrations.Mutation(key, new byte[] {1}));

    assertThatThrownBy(() -> outgoing.write(older, Keyspace.DEFAULT, STORED, put))
        .isInstanceOfSatisfying(
            io.shardcluster.errors.WrongShardException.class,
            e -> assertThat(e.epoch()).as("the node's epoch, for the retry").isEqualTo(3));
    assertThat(store.multiGet(STORED, List.of(key))).containsOnlyNulls();

    outgoing.write(table, Keyspace.DEFAULT, STORED, put);
    assertThat(store.multiGet(STORED, List.of(key)).get(0)).isEqualTo(new byte[] {1});
  }
}
