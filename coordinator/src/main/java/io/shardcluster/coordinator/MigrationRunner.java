package io.shardcluster.coordinator;

import static java.util.Objects.requireNonNull;

import com.google.common.base.Ticker;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.Checkpoint;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.proto.v1.MigrationRef;
import io.shardcluster.proto.v1.MigrationSpec;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.rpc.StatusErrors;
import io.shardcluster.server.Failpoints;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * Drives one migration through its phases: begin (the source records changes), copy and catch up
 * (the target pulls a snapshot, which both sides checksum as it passes, then the changes since),
 * cutover (fence, drain, final checksums, commit: the single point where ownership changes),
 * cleanup. Every step is idempotent and the phase is persisted, so a step that fails is simply
 * repeated, by this runner or by the next coordinator after a crash. Migrations of one group (see
 * {@link CommitGroups}) fence once all have copied and commit together.
 */
final class MigrationRunner implements Runnable {
  private static final Logger logger = Logger.getLogger(MigrationRunner.class.getName());
  // How long a member of a group waits for the others before checking again.
  private static final long GROUP_WAIT_MS = 2_000;

  private final String id;
  private final Cluster cluster;
  private final MigrationNodes nodes;
  private final Failpoints failpoints;
  private final MigrationControl control;
  private final long throttleBytesPerSec;
  private final Clock clock;
  // Measures how long a cutover is held up and how long a fence lasts.
  private final Ticker ticker;
  private final Runnable copyEnded;
  private final CommitGroups groups;
  private final Duration cutoverTimeout;
  // Whether the cutover is held up (a call failing, the group not ready), since when (the
  // ticker's nanos) and by what.
  private boolean heldUp;
  private long heldUpSince;
  private @Nullable String heldUpBy;

  /** {@code copyEnded} runs once the copy is over or found empty, freeing a copy slot. */
  MigrationRunner(
      String id,
      Cluster cluster,
      MigrationNodes nodes,
      Failpoints failpoints,
      MigrationControl control,
      long throttleBytesPerSec,
      Clock clock,
      Ticker ticker,
      Runnable copyEnded,
      CommitGroups groups,
      Duration cutoverTimeout) {
    this.id = id;
    this.cutoverTimeout = cutoverTimeout;
    this.groups = groups;
    this.cluster = cluster;
    this.nodes = nodes;
    this.failpoints = failpoints;
    this.control = control;
    this.throttleBytesPerSec = throttleBytesPerSec;
    this.clock = clock;
    this.ticker = ticker;
    this.copyEnded = copyEnded;
  }

  /** A checksum disagreement: the copy is wrong, so the migration is rolled back. */
  private static final class ChecksumMismatch extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ChecksumMismatch(String message) {
      super(message);
    }

    @Override
    public String getMessage() {
      return requireNonNull(super.getMessage());
    }
  }

  @Override
  public void run() {
    long backoff = 100;
    while (true) {
      Migration migration = cluster.state().migrations().get(id);
      if (migration == null || ClusterState.isFinished(migration)) {
        return;
      }
      if (migration.getPhase() != MigrationPhase.CUTOVER) {
        heldUp = false;
      }
      try {
        if (migration.getPhase() != MigrationPhase.COMMITTED) {
          if (control.cancelRequested()) {
            Optional<String> failure = control.failure();
            if (abort(
                migration, failure.orElse("cancelled by the operator"), failure.isPresent())) {
              return;
            }
            continue;
          }
          // A failure: a join, drain or directory change tries again (see RollbackRetries).
          String reason =
              CommitGroups.rolledBackMember(cluster.state(), migration)
                  .map(other -> "migration " + other + " of its group was rolled back")
                  .orElseGet(this::cutoverTimedOut);
          if (reason != null) {
            if (abort(migration, reason, true)) {
              return;
            }
            continue;
          }
        }
        if (migration.getPaused()) {
          control.awaitChange(1000);
          continue;
        }
        step(migration);
        backoff = 100;
        control.clearError();
      } catch (ChecksumMismatch e) {
        logger.severe("migration " + id + ": " + e.getMessage() + "; rolling back");
        if (abort(migration, e.getMessage(), true)) {
          return;
        }
      } catch (RuntimeException e) {
        ShardClusterException error = StatusErrors.fromStatus(e);
        if (error.code() == ErrorCode.CANCELLED || control.interrupted()) {
          continue;
        }
        if (error.code() == ErrorCode.DATA_LOSS
            && migration.getPhase() != MigrationPhase.COMMITTED) {
          // A source's stored data is damaged: copying again would meet the same damage, and
          // copying around it would move holes. Roll back, and leave it to an operator (health
          // shows the node's fault).
          logger.severe("migration " + id + ": " + error.getMessage() + "; rolling back");
          if (abort(migration, error.getMessage(), false)) {
            return;
          }
          continue;
        }
        control.recordError(error.getMessage());
        logger.warning(
            "migration "
                + id
                + " ("
                + migration.getPhase()
                + "): "
                + error.getMessage()
                + "; retrying");
        control.awaitChange(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  /** Takes the migration one phase on; each phase's method persists the next phase. */
  private void step(Migration migration) {
    MigrationSpec spec = spec(migration);
    switch (migration.getPhase()) {
      case PLANNED -> begin(migration, spec);
      case COPYING, CATCHING_UP -> copy(migration, spec);
      case CUTOVER -> cutOver(migration, spec);
      case COMMITTED -> cleanUp(migration);
      default -> throw new IllegalStateException("unexpected phase " + migration.getPhase());
    }
  }

  /** PLANNED: the source starts logging writes to the moving keys and estimates them. */
  private void begin(Migration migration, MigrationSpec spec) {
    long estimate = nodes.beginSource(address(migration.getSource()), spec);
    setPhase(MigrationPhase.COPYING, b -> b.setEstimatedKeys(estimate));
    if (estimate == 0) {
      copyEnded.run();
    }
  }

  /** COPYING and CATCHING_UP: the target copies the snapshot, then the changes since. */
  private void copy(Migration migration, MigrationSpec spec) {
    nodes.runTarget(
        address(migration.getTarget()),
        spec,
        control,
        update -> {
          control.progress(update, clock.millis());
          if (update.getSnapshotDone() && phase(cluster.state()) == MigrationPhase.COPYING) {
            setPhase(MigrationPhase.CATCHING_UP, b -> b);
          }
        });
    setPhase(MigrationPhase.CUTOVER, b -> b);
    copyEnded.run();
  }

  /**
   * CUTOVER: fence the source, drain the target, compare checksums and commit, alone or with the
   * rest of its group. Returns without committing while the group is not ready.
   */
  private void cutOver(Migration migration, MigrationSpec spec) {
    List<Migration> group = CommitGroups.members(cluster.state(), migration);
    if (!CommitGroups.allPastCopy(group)) {
      // Members of a group fence together, once all have copied: a member fenced early would
      // hold its keys' writes back while the others copy.
      awaitChange(s -> CommitGroups.allPastCopy(CommitGroups.members(s, migration)));
      return;
    }
    failpoints.hit(Failpoints.BEFORE_FENCE);
    // The fence is held from here to the commit: keep it to two calls and one fsync.
    long fencedAt = ticker.read();
    Checkpoint atSource =
        nodes.fence(address(migration.getSource()), MigrationRef.newBuilder().setId(id).build());
    long drainStartedAt = ticker.read();
    Checkpoint atTarget;
    try {
      // The last changes only (the catch-up left few): a target that takes longer than the
      // cutover may be held up has died or hangs.
      atTarget = nodes.drainTarget(address(migration.getTarget()), spec, cutoverTimeout);
    } catch (RuntimeException e) {
      // The source's keys are fenced and wait on the target. (A source that fails its fence is
      // not waited on: its keys are out of reach either way, and it commits once back.)
      noteHeldUp(
          migration.getTarget() + ": " + StatusErrors.fromStatus(e).getMessage(), drainStartedAt);
      throw e;
    }
    compare("final", atSource, atTarget);
    failpoints.hit(Failpoints.BEFORE_COMMIT);
    if (control.cancelRequested()) {
      // Cancelled while cutting over: the next turn rolls back instead of committing.
      return;
    }
    long committingAt = ticker.read();
    if (group.size() > 1 && !groups.ready(migration, group)) {
      // Fenced and checked: the member whose report completes the group commits it.
      noteHeldUp("waiting for the rest of its group to be fenced and checked", ticker.read());
      awaitChange(s -> phase(s) != MigrationPhase.CUTOVER);
      return;
    }
    commit(group.size() > 1 ? group : List.of(migration));
    long committedAt = ticker.read();
    logger.info(
        String.format(
            "migration %s: committed %d keys to %s%s; fenced for %.1f ms (fence %.1f, drain"
                + " %.1f, commit %.1f)",
            id,
            atSource.getCount(),
            migration.getTarget(),
            group.size() > 1
                ? " together with "
                    + String.join(
                        ", ",
                        group.stream()
                            .map(Migration::getId)
                            .filter(other -> !other.equals(id))
                            .toList())
                : "",
            (committedAt - fencedAt) / 1e6,
            (drainStartedAt - fencedAt) / 1e6,
            (committingAt - drainStartedAt) / 1e6,
            (committedAt - committingAt) / 1e6));
    failpoints.hit(Failpoints.AFTER_COMMIT);
  }

  /** COMMITTED: the source deletes its copy, the target forgets the migration; then DONE. */
  private void cleanUp(Migration migration) {
    MigrationRef ref =
        MigrationRef.newBuilder()
            .setId(id)
            .setCommittedEpoch(migration.getCommittedEpoch())
            .build();
    nodes.finishSource(address(migration.getSource()), ref);
    nodes.finishTarget(address(migration.getTarget()), ref);
    setPhase(MigrationPhase.DONE, b -> b.setFinishedMs(clock.millis()));
  }

  /**
   * Notes that the cutover cannot go on, and why; the time counts from {@code since} (the ticker's
   * nanos) of the first such turn.
   */
  private void noteHeldUp(String why, long since) {
    if (!heldUp) {
      heldUp = true;
      heldUpSince = since;
    }
    heldUpBy = why;
  }

  /**
   * Why the cutover must be rolled back, if it has been held up for longer than the cutover
   * timeout: a fence is meant to last milliseconds, and its keys can be neither read nor written
   * while it holds. Null otherwise.
   */
  private @Nullable String cutoverTimedOut() {
    if (!heldUp || ticker.read() - heldUpSince < cutoverTimeout.toNanos()) {
      return null;
    }
    return String.format(
        "its cutover was held up for over %.1f s (%s); rolled back so that its keys can be"
            + " written again",
        cutoverTimeout.toMillis() / 1000.0, heldUpBy);
  }

  private void compare(String what, Checkpoint source, Checkpoint target) {
    if (source.getCount() != target.getCount() || source.getChecksum() != target.getChecksum()) {
      throw new ChecksumMismatch(
          what
              + " checksums differ: source has "
              + source.getCount()
              + " keys (sum "
              + Long.toHexString(source.getChecksum())
              + "), target "
              + target.getCount()
              + " (sum "
              + Long.toHexString(target.getChecksum())
              + ")");
    }
  }

  /**
   * The single commit point: new ownership at epoch + 1 and the COMMITTED phase, atomically, for
   * this migration, or for every member of its group (all fenced and checked, none rolled back).
   */
  private void commit(List<Migration> committing) {
    List<GroupDirectory.Move> moves = new ArrayList<>();
    for (Migration migration : committing) {
      moves.add(
          new GroupDirectory.Move(
              RoutingTables.fromProto(migration.getMoving()),
              migration.getSource(),
              migration.getTarget()));
    }
    cluster.update(
        state -> {
          for (Migration migration : committing) {
            Migration current = state.migrations().get(migration.getId());
            if (current == null || current.getPhase() != MigrationPhase.CUTOVER) {
              return state;
            }
          }
          // The update gives this change the next epoch; record it with the phases.
          long now = clock.millis();
          ClusterState next = state;
          for (Migration migration : committing) {
            MovingSet moving = RoutingTables.fromProto(migration.getMoving());
            Keyspace keyspace =
                moving.applyTo(next.routing().keyspace(moving.keyspace()), migration.getTarget());
            for (var removed : migration.getRemovesList()) {
              if (keyspace.directory().get(removed.getKey(), removed.getPrefix()).isPresent()) {
                keyspace =
                    keyspace.withDirectory(
                        keyspace.directory().without(removed.getKey(), removed.getPrefix()));
              }
            }
            next =
                next.withKeyspace(keyspace)
                    .withMigration(
                        requireNonNull(state.migrations().get(migration.getId())).toBuilder()
                            .setPhase(MigrationPhase.COMMITTED)
                            .setCommittedEpoch(state.epoch() + 1)
                            .setCommittedMs(now)
                            .build());
          }
          return next;
        },
        moves);
    groups.forget(committing.get(0));
  }

  /** Waits (a while at most) for a change of the cluster state that passes the test. */
  private void awaitChange(Predicate<ClusterState> test) {
    try {
      cluster.awaitState(s -> test.test(s) || control.cancelRequested(), GROUP_WAIT_MS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ShardClusterException(ErrorCode.CANCELLED, "interrupted");
    }
  }

  /**
   * Rolls back: records the migration CANCELLED, {@code retryable} if a failure (not an operator)
   * ended it, then the source lifts its fence and keeps the keys and the target drops its copy.
   * False if it had committed meanwhile (a member of a group that another member committed): then
   * it goes on.
   */
  private boolean abort(Migration migration, String reason, boolean retryable) {
    boolean[] cancelled = {false};
    cluster.update(
        state -> {
          Migration current = state.migrations().get(id);
          if (current == null
              || ClusterState.isFinished(current)
              || current.getPhase() == MigrationPhase.COMMITTED) {
            return state;
          }
          cancelled[0] = true;
          return state.withMigration(
              current.toBuilder()
                  .setPhase(MigrationPhase.CANCELLED)
                  .setLastError(reason)
                  .setRetryable(retryable)
                  .setFinishedMs(clock.millis())
                  .build());
        });
    Migration now = cluster.state().migrations().get(id);
    if (!cancelled[0] && now != null && now.getPhase() != MigrationPhase.CANCELLED) {
      return false;
    }
    groups.forget(migration);
    MigrationSpec spec = spec(migration);
    // Best effort: a node that cannot be told now rolls back by itself when its heartbeat no
    // longer lists the migration.
    for (int attempt = 0; attempt < 3; attempt++) {
      try {
        nodes.abortSource(
            address(migration.getSource()), MigrationRef.newBuilder().setId(id).build());
        nodes.abortTarget(address(migration.getTarget()), spec);
        break;
      } catch (RuntimeException e) {
        control.recordError(StatusErrors.fromStatus(e).getMessage());
        control.awaitChange(500);
      }
    }
    logger.info("migration " + id + " cancelled: " + reason);
    return true;
  }

  /** This migration's phase in the state; migrations are never deleted. */
  private MigrationPhase phase(ClusterState state) {
    return requireNonNull(state.migrations().get(id)).getPhase();
  }

  private void setPhase(MigrationPhase phase, UnaryOperator<Migration.Builder> more) {
    cluster.update(
        state -> {
          Migration current = state.migrations().get(id);
          if (current == null || current.getPhase() == phase) {
            return state;
          }
          MigrationControl.Progress progress = control.snapshot();
          return state.withMigration(
              more.apply(
                      current.toBuilder()
                          .setPhase(phase)
                          .setKeysCopied(Math.max(current.getKeysCopied(), progress.keysCopied()))
                          .setBytesCopied(
                              Math.max(current.getBytesCopied(), progress.bytesCopied()))
                          .setChangesApplied(
                              Math.max(current.getChangesApplied(), progress.changesApplied())))
                  .build());
        });
  }

  private MigrationSpec spec(Migration migration) {
    return MigrationSpec.newBuilder()
        .setId(id)
        .setSource(migration.getSource())
        .setSourceAddress(address(migration.getSource()))
        .setTarget(migration.getTarget())
        .setMoving(migration.getMoving())
        .setThrottleBytesPerSec(throttleBytesPerSec)
        .setSharedTarget(!migration.getGroup().isEmpty())
        .build();
  }

  private String address(String node) {
    return cluster
        .state()
        .member(node)
        .map(m -> m.getAddress())
        .orElseThrow(() -> ShardClusterException.unavailable("node " + node + " is not a member"));
  }
}
