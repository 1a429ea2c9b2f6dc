package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.base.Ticker;
import io.grpc.Status;
import io.shardcluster.proto.v1.Checkpoint;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.proto.v1.MigrationProgress;
import io.shardcluster.proto.v1.MigrationRef;
import io.shardcluster.proto.v1.MigrationSpec;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.server.Failpoints;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The migration state machine against fake nodes: no processes, no sockets. */
class MigrationRunnerTest {
  static final long QUARTER = 1L << 62;
  private static final Duration CUTOVER_TIMEOUT = Duration.ofSeconds(10);

  @TempDir Path dir;

  private final LivenessTest.ManualClock clock = new LivenessTest.ManualClock();
  private final FakeTicker ticker = new FakeTicker();
  private final FakeNodes nodes = new FakeNodes();
  private final MigrationControl control = new MigrationControl();
  private final AtomicInteger copiesEnded = new AtomicInteger();
  private MetadataStore store;
  private Cluster cluster;

  @BeforeEach
  void open() throws Exception {
    store = MetadataStore.open(dir);
    cluster =
        Cluster.open(
            store,
            new Liveness(clock, Duration.ofSeconds(3)),
            (node, address, keyspace, start, end) -> 0L);
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    cluster.membership().register("n2", "127.0.0.1:2", "i2");
  }

  @AfterEach
  void close() {
    store.close();
  }

  /** A migration of the first quarter of the ring from n1 to n2, as planned. */
  static Migration planned(String id, PositionRange range) {
    return Migration.newBuilder()
        .setId(id)
        .setSource("n1")
        .setTarget("n2")
        .setMoving(
            RoutingTables.toProto(new MovingSet(Keyspace.DEFAULT, List.of(range), List.of())))
        .setPhase(MigrationPhase.PLANNED)
        .setReason("test")
        .setAttempt(1)
        .build();
  }

  private MigrationRunner runner(String id) {
    return new MigrationRunner(
        id,
        cluster,
        nodes,
        Failpoints.none(),
        control,
        0,
        clock,
        ticker,
        copiesEnded::incrementAndGet,
        new CommitGroups(),
        CUTOVER_TIMEOUT);
  }

  private Migration migration(String id) {
    return cluster.state().migrations().get(id);
  }

  @Test
  void run_nodesThatAgree_commitsAtTheNextEpochThenCleansUp() {
    cluster.update(s -> s.withMigration(planned("m000001", new PositionRange(0, QUARTER))));
    long epochBefore = cluster.routing().epoch();

    runner("m000001").run();

    Migration done = migration("m000001");
    assertThat(done.getPhase()).isEqualTo(MigrationPhase.DONE);
    assertThat(done.getCommittedEpoch()).isEqualTo(epochBefore + 1);
    assertThat(done.getEstimatedKeys()).isEqualTo(100);
    assertThat(cluster.routing().keyspace(Keyspace.DEFAULT).ring().ownerOf(QUARTER / 2))
        .isEqualTo("n2");
    assertThat(nodes.calls)
        .containsExactly(
            "begin 127.0.0.1:1",
            "run 127.0.0.1:2",
            "fence 127.0.0.1:1",
            "drain 127.0.0.1:2",
            "finish 127.0.0.1:1",
            "finish 127.0.0.1:2");
    assertThat(copiesEnded).hasValue(1);
  }

  @Test
  void cutover_checksumsDiffer_rollsBackKeepsOwnershipAndTellsBothNodes() {
    nodes.targetChecksum = 0xbad;
    cluster.update(s -> s.withMigration(planned("m000001", new PositionRange(0, QUARTER))));
    long epochBefore = cluster.routing().epoch();
    String ownerBefore = cluster.routing().keyspace(Keyspace.DEFAULT).ring().ownerOf(QUARTER / 2);

    runner("m000001").run();

    Migration rolledBack = migration("m000001");
    assertThat(rolledBack.getPhase()).isEqualTo(MigrationPhase.CANCELLED);
    assertThat(rolledBack.getRetryable())
        .as("a failure, tried again by its join or drain")
        .isTrue();
    assertThat(rolledBack.getLastError()).contains("final checksums differ");
    assertThat(cluster.routing().epoch()).isEqualTo(epochBefore);
    assertThat(cluster.routing().keyspace(Keyspace.DEFAULT).ring().ownerOf(QUARTER / 2))
        .isEqualTo(ownerBefore);
    assertThat(nodes.calls)
        .contains("abort 127.0.0.1:1", "abort 127.0.0.1:2")
        .doesNotContain("finish 127.0.0.1:1");
  }

  @Test
  void cutover_targetHungPastTheTimeout_rollsBackByTheTicker() throws Exception {
    nodes.drainFails = true;
    cluster.update(s -> s.withMigration(planned("m000001", new PositionRange(0, QUARTER))));
    Thread running = new Thread(runner("m000001"));
    running.start();

    // The drain keeps failing, but no time passes on the ticker: the fence stays up, the runner
    // keeps trying.
    assertThat(nodes.drainAttempts.await(30, TimeUnit.SECONDS)).isTrue();
    assertThat(migration("m000001").getPhase()).isEqualTo(MigrationPhase.CUTOVER);
    ticker.advance(CUTOVER_TIMEOUT.plusSeconds(1));
    running.join(Duration.ofSeconds(30).toMillis());

    assertThat(running.isAlive()).isFalse();
    Migration rolledBack = migration("m000001");
    assertThat(rolledBack.getPhase()).isEqualTo(MigrationPhase.CANCELLED);
    assertThat(rolledBack.getLastError())
        .contains("cutover was held up for over 10.0 s")
        .contains("n2: ")
        .contains("target hangs");
    assertThat(nodes.calls).contains("abort 127.0.0.1:1", "abort 127.0.0.1:2");
  }

  /** A ticker that moves only when told to. */
  static final class FakeTicker extends Ticker {
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);

    void advance(Duration by) {
      nanos.addAndGet(by.toNanos());
    }

    @Override
    public long read() {
      return nanos.get();
    }
  }

  /**
   * Nodes that answer at once: 100 keys to move, a copy done in one progress message, and the same
   * checksum on both sides unless told otherwise.
   */
  static class FakeNodes implements MigrationNodes {
    final List<String> calls = new CopyOnWriteArrayList<>();
    volatile long targetChecksum = 0x5eed;
    volatile boolean drainFails;
    // Counted down by the first few failed drains.
    final CountDownLatch drainAttempts = new CountDownLatch(3);

    @Override
    public long beginSource(String source, MigrationSpec spec) {
      calls.add("begin " + source);
      return 100;
    }

    @Override
    public void runTarget(
        String target,
        MigrationSpec spec,
        MigrationControl control,
        Consumer<MigrationProgress> progress) {
      calls.add("run " + target);
      progress.accept(
          MigrationProgress.newBuilder().setKeysCopied(100).setSnapshotDone(true).build());
    }

    @Override
    public Checkpoint fence(String source, MigrationRef ref) {
      calls.add("fence " + source);
      return Checkpoint.newBuilder().setCount(100).setChecksum(0x5eed).build();
    }

    @Override
    public Checkpoint drainTarget(String target, MigrationSpec spec, Duration timeout) {
      calls.add("drain " + target);
      if (drainFails) {
        drainAttempts.countDown();
        throw Status.UNAVAILABLE.withDescription("target hangs").asRuntimeException();
      }
      return Checkpoint.newBuilder().setCount(100).setChecksum(targetChecksum).build();
    }

    @Override
    public void finishSource(String source, MigrationRef ref) {
      calls.add("finish " + source);
    }

    @Override
    public void finishTarget(String target, MigrationRef ref) {
      calls.add("finish " + target);
    }

    @Override
    public void abortSource(String source, MigrationRef ref) {
      calls.add("abort " + source);
    }

    @Override
    public void abortTarget(String target, MigrationSpec spec) {
      calls.add("abort " + target);
    }
  }
}
