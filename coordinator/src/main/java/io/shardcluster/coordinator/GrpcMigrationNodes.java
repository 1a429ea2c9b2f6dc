package io.shardcluster.coordinator;

import io.grpc.Context;
import io.shardcluster.proto.v1.Checkpoint;
import io.shardcluster.proto.v1.KeyMigrationGrpc;
import io.shardcluster.proto.v1.MigrationProgress;
import io.shardcluster.proto.v1.MigrationRef;
import io.shardcluster.proto.v1.MigrationSpec;
import io.shardcluster.rpc.NodeChannels;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** {@link MigrationNodes} over the nodes' KeyMigration service. */
final class GrpcMigrationNodes implements MigrationNodes {
  private static final long CALL_TIMEOUT_MS = 60_000;

  private final NodeChannels channels;

  GrpcMigrationNodes(NodeChannels channels) {
    this.channels = channels;
  }

  @Override
  public long beginSource(String source, MigrationSpec spec) {
    return stub(source).beginSource(spec).getEstimatedKeys();
  }

  @Override
  public void runTarget(
      String target,
      MigrationSpec spec,
      MigrationControl control,
      Consumer<MigrationProgress> progress) {
    Context.CancellableContext context = Context.current().withCancellation();
    control.attach(context);
    try {
      context.run(
          () -> {
            // No deadline: a large copy takes as long as it takes; pause and cancel end it.
            Iterator<MigrationProgress> updates =
                KeyMigrationGrpc.newBlockingStub(channels.channel(target)).runTarget(spec);
            updates.forEachRemaining(progress);
          });
    } finally {
      control.detach();
      context.cancel(null);
    }
  }

  @Override
  public Checkpoint fence(String source, MigrationRef ref) {
    return stub(source).fence(ref);
  }

  @Override
  public Checkpoint drainTarget(String target, MigrationSpec spec, Duration timeout) {
    return stub(target)
        .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
        .drainTarget(spec);
  }

  @Override
  public void finishSource(String source, MigrationRef ref) {
    var unused = stub(source).finishSource(ref);
  }

  @Override
  public void finishTarget(String target, MigrationRef ref) {
    var unused = stub(target).finishTarget(ref);
  }

  @Override
  public void abortSource(String source, MigrationRef ref) {
    var unused = stub(source).abortSource(ref);
  }

  @Override
  public void abortTarget(String target, MigrationSpec spec) {
    var unused = stub(target).abortTarget(spec);
  }

  private KeyMigrationGrpc.KeyMigrationBlockingStub stub(String address) {
    // A node that restarted must be reached at once, not after gRPC's reconnect backoff.
    channels.resetConnectBackoff(address);
    return KeyMigrationGrpc.newBlockingStub(channels.channel(address))
        .withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS);
  }
}
