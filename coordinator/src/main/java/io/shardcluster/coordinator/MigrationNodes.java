package io.shardcluster.coordinator;

import io.shardcluster.proto.v1.Checkpoint;
import io.shardcluster.proto.v1.MigrationProgress;
import io.shardcluster.proto.v1.MigrationRef;
import io.shardcluster.proto.v1.MigrationSpec;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * What a {@link MigrationRunner} asks of the two nodes of a migration, each reached at its address.
 * Every call is idempotent on the node, so a runner repeats one that failed. gRPC in production
 * ({@link GrpcMigrationNodes}); tests put fakes here to drive the state machine without nodes.
 */
interface MigrationNodes {
  /** The source starts logging writes to the moving keys; returns about how many it holds. */
  long beginSource(String source, MigrationSpec spec);

  /**
   * The target copies the snapshot and catches up on the change log, reporting progress until its
   * lag is small. Runs as long as the copy takes; {@code control} can interrupt it.
   */
  void runTarget(
      String target,
      MigrationSpec spec,
      MigrationControl control,
      Consumer<MigrationProgress> progress);

  /** The source refuses writes to the moving keys from now on; returns its checksum of them. */
  Checkpoint fence(String source, MigrationRef ref);

  /** The target applies the last changes and returns its checksum, within {@code timeout}. */
  Checkpoint drainTarget(String target, MigrationSpec spec, Duration timeout);

  /** After the commit: the source deletes its copy and lifts its fence. */
  void finishSource(String source, MigrationRef ref);

  /** After the commit: the target forgets the migration's state. */
  void finishTarget(String target, MigrationRef ref);

  /** Rolled back: the source lifts its fence and keeps its keys. */
  void abortSource(String source, MigrationRef ref);

  /** Rolled back: the target drops what it copied. */
  void abortTarget(String target, MigrationSpec spec);
}
