package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.shardcluster.proto.v1.Checkpoint;
import io.shardcluster.proto.v1.MigrationProgress;
import io.shardcluster.proto.v1.MigrationSpec;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.KeyHash;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.server.Failpoints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The target side of a migration against a real source: a source node's migration service on an
 * in-process channel, over its own store, and the target's store beside it.
 */
class IncomingMigrationsTest {
  // How the default keyspace is stored: a hash keyspace, in position order.
  private static final Keyspace STORED = Keyspace.hash(Keyspace.DEFAULT);

  private static final int KEYS = 3_000;
  private static final String SOURCE = "source:1";
  private static final PositionRange MOVING = new PositionRange(0, Long.MIN_VALUE);

  @TempDir Path dir;

  private final RoutingTable table =
      new RoutingTable(
          3,
          Map.of("n1", SOURCE, "n2", "target:2"),
          Map.of(
              Keyspace.DEFAULT,
              Keyspace.hash(Keyspace.DEFAULT).withRing(HashRing.of(List.of(0L), List.of("n1")))));
  private final MigrationSpec spec =
      MigrationSpec.newBuilder()
          .setId("m1")
          .setSource("n1")
          .setSourceAddress(SOURCE)
          .setTarget("n2")
          .setMoving(
              RoutingTables.toProto(new MovingSet(Keyspace.DEFAULT, List.of(MOVING), List.of())))
          .build();
  private final ExecutorService executor = Executors.newCachedThreadPool();
  private LocalStore sourceStore;
  private LocalStore targetStore;
  private OutgoingMigrations outgoing;
  private IncomingMigrations incoming;
  private NodeChannels channels;
  private Server source;

  @BeforeEach
  void open() throws Exception {
    sourceStore = LocalStore.open(dir.resolve("source"), false);
    targetStore = LocalStore.open(dir.resolve("target"), false);
    for (int i = 0; i < KEYS; i++) {
      sourceStore.put(STORED, key(i), bytes("v" + i));
    }
    outgoing =
        new OutgoingMigrations("n1", sourceStore, () -> table, epoch -> table, new CopyPacer(0));
    IncomingMigrations sourceIncoming =
        new IncomingMigrations(
            "n1", sourceStore, () -> table, new Ownership(null), null, Failpoints.none());
    source =
        InProcessServerBuilder.forName(SOURCE)
            .directExecutor()
            .addService(
                new KeyMigrationService(
                    outgoing,
                    sourceIncoming,
                    executor,
                    new MovingKeyEstimate(
                        sourceStore, "n1", () -> table, () -> KeyCounts.NONE, () -> 0L)))
            .build()
            .start();
    channels = new NodeChannels(IncomingMigrationsTest::channel);
    incoming =
        new IncomingMigrations(
            "n2", targetStore, () -> table, new Ownership(null), channels, Failpoints.none());
  }

  private static ManagedChannel channel(String address) {
    return InProcessChannelBuilder.forName(address).directExecutor().build();
  }

  @AfterEach
  void close() {
    channels.close();
    source.shutdownNow();
    executor.shutdownNow();
    sourceStore.close();
    targetStore.close();
  }

  private static byte[] key(int i) {
    return bytes("k" + i);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static boolean moves(int i) {
    return MOVING.contains(KeyHash.position(key(i)));
  }

  /** A moving key, and one that stays. */
  private static int first(boolean moving) {
    for (int i = 0; ; i++) {
      if (moves(i) == moving) {
        return i;
      }
    }
  }

  @Test
  void run_thenDrainAfterTheFence_copiesTheMovingKeysWithTheWritesSinceTheSnapshot() {
    outgoing.begin(spec);
    List<MigrationProgress> progress = new ArrayList<>();
    incoming.run(spec, progress::add);
    assertThat(progress).isNotEmpty();
    assertThat(progress.get(progress.size() - 1).getSnapshotDone()).isTrue();

    // Written at the source after the copy: the change log carries them to the target.
    int updated = first(true);
    int stays = first(false);
    outgoing.write(
        table,
        Keyspace.DEFAULT,
        table.keyspace(Keyspace.DEFAULT),
        List.of(
            new OutgoingMigrations.Mutation(key(updated), bytes("new")),
            new OutgoingMigrations.Mutation(key(stays), bytes("new"))));
    outgoing.fence(spec.getId());
    Checkpoint atSource = outgoing.finalChecksum(spec.getId());
    incoming.drain(spec);
    Checkpoint atTarget = incoming.finalChecksum(spec);

    assertThat(atTarget).isEqualTo(atSource);
    int moved = 0;
    for (int i = 0; i < KEYS; i++) {
      byte[] value = targetStore.get(STORED, key(i));
      if (moves(i)) {
        moved++;
        assertThat(value).as("k%d", i).isEqualTo(bytes(i == updated ? "new" : "v" + i));
      } else {
        assertThat(value).as("k%d stays at the source", i).isNull();
      }
    }
    assertThat(atTarget.getCount()).isEqualTo(moved);
  }

  @Test
  void abort_dropsWhatWasCopied() {
    outgoing.begin(spec);
    incoming.run(spec, progress -> {});
    assertThat(targetStore.get(STORED, key(first(true)))).isNotNull();

    incoming.abort(spec);

    for (int i = 0; i < KEYS; i++) {
      assertThat(targetStore.get(STORED, key(i))).as("k%d", i).isNull();
    }
    assertThat(incoming.specs()).isEmpty();
  }
}
