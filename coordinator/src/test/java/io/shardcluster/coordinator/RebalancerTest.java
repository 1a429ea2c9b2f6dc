package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.base.Ticker;
import com.google.protobuf.ByteString;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.proto.v1.MigrationProgress;
import io.shardcluster.proto.v1.MigrationSpec;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingTables;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RebalancerTest {
  @TempDir Path dir;

  private final LivenessTest.ManualClock clock = new LivenessTest.ManualClock();
  private final Liveness liveness = new Liveness(clock, Duration.ofSeconds(3));

  private static Migration migration(MigrationPhase phase, long estimatedKeys) {
    return Migration.newBuilder().setPhase(phase).setEstimatedKeys(estimatedKeys).build();
  }

  @Test
  void holdsCopySlot_onlyWhileAboutToCopyOrCopyingKeys() {
    // Before it begins, nobody knows how much it will copy.
    assertThat(Rebalancer.holdsCopySlot(migration(MigrationPhase.PLANNED, 0))).isTrue();
    assertThat(Rebalancer.holdsCopySlot(migration(MigrationPhase.COPYING, 10))).isTrue();
    assertThat(Rebalancer.holdsCopySlot(migration(MigrationPhase.CATCHING_UP, 10))).isTrue();
    // A source with no keys to move has nothing to copy.
    assertThat(Rebalancer.holdsCopySlot(migration(MigrationPhase.COPYING, 0))).isFalse();
    assertThat(Rebalancer.holdsCopySlot(migration(MigrationPhase.CATCHING_UP, 0))).isFalse();
    // Past the copy: fencing, committing, cleaning up, ended.
    for (MigrationPhase phase :
        new MigrationPhase[] {
          MigrationPhase.CUTOVER,
          MigrationPhase.COMMITTED,
          MigrationPhase.DONE,
          MigrationPhase.CANCELLED
        }) {
      assertThat(Rebalancer.holdsCopySlot(migration(phase, 10))).as(phase.name()).isFalse();
    }
  }

  /**
   * A rolled back "directory set" of pinned to node-1 whose entry says node-1 already (a drain of
   * its source, say, moved the entry there), and a rolled back "directory remove" of an entry that
   * is gone: nothing is left to change, so the coordinator marks each superseded rather than
   * looking at it on every tick, and health stops saying it is tried again.
   */
  @Test
  void aRolledBackDirectoryChangeWithNothingLeftToChange_isSuperseded() throws Exception {
    MetadataStore store = MetadataStore.open(dir);
    Cluster cluster = Cluster.open(store, liveness, (node, address, keyspace, start, end) -> 0L);
    Rebalancer rebalancer =
        new Rebalancer(
            cluster,
            liveness,
            new GrpcMigrationNodes(new NodeChannels(NodeChannels::plaintext)),
            CoordinatorConfig.defaults("127.0.0.1", 0, dir),
            clock,
            Ticker.systemTicker());
    try {
      cluster.membership().register("node-1", "127.0.0.1:1", "i1");
      DirectoryEntry pinned =
          new DirectoryEntry(ByteString.copyFromUtf8("pinned"), false, "node-1");
      cluster.directory().setDirectoryEntry(Keyspace.DEFAULT, pinned);
      DirectoryEntry gone = new DirectoryEntry(ByteString.copyFromUtf8("gone"), false, "node-2");
      Migration set =
          rolledBack(
              "m000001",
              "directory set",
              new MovingSet(Keyspace.DEFAULT, List.of(), List.of(pinned)));
      Migration remove =
          rolledBack(
                  "m000002",
                  "directory remove",
                  new MovingSet(Keyspace.DEFAULT, List.of(), List.of(gone)))
              .toBuilder()
              .addRemoves(RoutingTables.toProto(gone))
              .build();
      cluster.update(s -> s.withMigration(set).withMigration(remove));
      assertThat(RollbackRetries.unanswered(cluster.state(), Keyspace.DEFAULT)).hasSize(2);

      rebalancer.start();

      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> RollbackRetries.unanswered(cluster.state(), Keyspace.DEFAULT).isEmpty());
      assertThat(cluster.state().migrations().values())
          .allSatisfy(m -> assertThat(m.getSuperseded()).as(m.getId()).isTrue())
          .hasSize(2);
      assertThat(cluster.routing().keyspace(Keyspace.DEFAULT).directory().entries())
          .containsExactly(pinned);
    } finally {
      rebalancer.close();
      store.close();
    }
  }

  /**
   * Five moves planned at once with --max-migrations 2: at most two copy at a time, and each one
   * that ends lets the next start, until all five are done.
   */
  @Test
  void maxMigrations_capsTheCopiesRunningAtOnce() throws Exception {
    MetadataStore store = MetadataStore.open(dir);
    Cluster cluster = Cluster.open(store, liveness, (node, address, keyspace, start, end) -> 0L);
    CopyingNodes nodes = new CopyingNodes();
    CoordinatorConfig defaults = CoordinatorConfig.defaults("127.0.0.1", 0, dir);
    CoordinatorConfig config =
        new CoordinatorConfig(
            defaults.host(),
            defaults.port(),
            defaults.dataDir(),
            defaults.vnodes(),
            defaults.heartbeatTimeout(),
            2,
            defaults.handoverSteps(),
            defaults.throttleBytesPerSec(),
            defaults.cutoverTimeout(),
            defaults.targetDownTimeout(),
            false,
            defaults.balanceBy(),
            defaults.balanceThreshold(),
            defaults.balanceTarget(),
            defaults.balanceWindow(),
            defaults.rangeSplitKeys(),
            defaults.rangeSplitOps(),
            false,
            defaults.replaceAfter(),
            defaults.failpoints());
    Rebalancer rebalancer =
        new Rebalancer(cluster, liveness, nodes, config, clock, Ticker.systemTicker());
    try {
      cluster.membership().register("n1", "127.0.0.1:1", "i1");
      cluster.membership().register("n2", "127.0.0.1:2", "i2");
      // n2 is UP: no join of its own to plan, only the five moves.
      cluster.update(
          s ->
              s.withMember(
                  s.member("n2").orElseThrow().toBuilder().setState(NodeStateProto.UP).build()));
      List<Migration> moves = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        long start = i * (MigrationRunnerTest.QUARTER / 8);
        moves.add(
            MigrationRunnerTest.planned(
                String.format("m%06d", i + 1),
                new PositionRange(start, start + MigrationRunnerTest.QUARTER / 8)));
      }
      rebalancer.create(moves);
      rebalancer.start();

      for (int released = 0; released < 5; released++) {
        await().atMost(Duration.ofSeconds(30)).until(() -> nodes.copying.get() >= 1);
        assertThat(nodes.copying.get()).isLessThanOrEqualTo(2);
        nodes.finishOne.release();
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  cluster.state().migrations().values().stream()
                      .allMatch(m -> m.getPhase() == MigrationPhase.DONE));
      assertThat(nodes.mostAtOnce.get()).isEqualTo(2);
    } finally {
      rebalancer.close();
      store.close();
    }
  }

  /** Nodes whose copies each wait for the test to let one finish. */
  private static final class CopyingNodes extends MigrationRunnerTest.FakeNodes {
    final AtomicInteger copying = new AtomicInteger();
    final AtomicInteger mostAtOnce = new AtomicInteger();
    final Semaphore finishOne = new Semaphore(0);

    @Override
    public void runTarget(
        String target,
        MigrationSpec spec,
        MigrationControl control,
        Consumer<MigrationProgress> progress) {
      mostAtOnce.accumulateAndGet(copying.incrementAndGet(), Math::max);
      try {
        finishOne.acquireUninterruptibly();
        super.runTarget(target, spec, control, progress);
      } finally {
        copying.decrementAndGet();
      }
    }
  }

  /** A change from node-2 (since gone) that a failure rolled back 10 s ago, after its first try. */
  private Migration rolledBack(String id, String reason, MovingSet moving) {
    long now = clock.millis();
    return Migration.newBuilder()
        .setId(id)
        .setSource("node-2")
        .setTarget("node-1")
        .setReason(reason)
        .setMoving(RoutingTables.toProto(moving))
        .setPhase(MigrationPhase.CANCELLED)
        .setRetryable(true)
        .setAttempt(1)
        .setCreatedMs(now - 11_000)
        .setFinishedMs(now - 10_000)
        .build();
  }
}
