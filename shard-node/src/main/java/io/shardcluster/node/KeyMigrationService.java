package io.shardcluster.node;

import io.grpc.Context;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.shardcluster.proto.v1.BeginSourceResponse;
import io.shardcluster.proto.v1.Checkpoint;
import io.shardcluster.proto.v1.CopyBatch;
import io.shardcluster.proto.v1.CopySnapshotRequest;
import io.shardcluster.proto.v1.FinishResponse;
import io.shardcluster.proto.v1.KeyMigrationGrpc;
import io.shardcluster.proto.v1.MigrationProgress;
import io.shardcluster.proto.v1.MigrationRef;
import io.shardcluster.proto.v1.MigrationSpec;
import io.shardcluster.proto.v1.PullChangesRequest;
import io.shardcluster.proto.v1.PullChangesResponse;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.rpc.StatusErrors;
import io.shardcluster.server.ServerResponses;
import java.util.concurrent.ExecutorService;
import java.util.function.Supplier;

/**
 * Serves the migration protocol: converts between the wire and {@link OutgoingMigrations} (this
 * node as source) and {@link IncomingMigrations} (as target). Calls scan data, wait on other nodes
 * and may be paused by failpoints, so they run on their own executor, never on the I/O threads.
 */
final class KeyMigrationService extends KeyMigrationGrpc.KeyMigrationImplBase {
  private final OutgoingMigrations outgoing;
  private final IncomingMigrations incoming;
  private final ExecutorService executor;
  private final MovingKeyEstimate movingKeys;

  KeyMigrationService(
      OutgoingMigrations outgoing,
      IncomingMigrations incoming,
      ExecutorService executor,
      MovingKeyEstimate movingKeys) {
    this.outgoing = outgoing;
    this.incoming = incoming;
    this.executor = executor;
    this.movingKeys = movingKeys;
  }

  private <T> void offload(StreamObserver<T> observer, Supplier<T> body) {
    executor.execute(Context.current().wrap(() -> ServerResponses.unary(observer, body)));
  }

  private static FinishResponse done() {
    return FinishResponse.getDefaultInstance();
  }

  @Override
  public void beginSource(MigrationSpec spec, StreamObserver<BeginSourceResponse> observer) {
    offload(
        observer,
        () -> {
          outgoing.begin(spec);
          return BeginSourceResponse.newBuilder()
              .setEstimatedKeys(movingKeys.of(RoutingTables.fromProto(spec.getMoving())))
              .build();
        });
  }

  @Override
  public void copySnapshot(CopySnapshotRequest request, StreamObserver<CopyBatch> observer) {
    var call = (ServerCallStreamObserver<CopyBatch>) observer;
    FlowControl flow = new FlowControl(call);
    executor.execute(
        () -> {
          try {
            outgoing.copy(
                request.getId(),
                request.getAfterKey().toByteArray(),
                request.getThrottleBytesPerSec(),
                request.getTableFiles(),
                batch -> {
                  flow.awaitReady();
                  call.onNext(batch);
                });
            call.onCompleted();
          } catch (RuntimeException e) {
            if (!call.isCancelled()) {
              call.onError(StatusErrors.toStatus(e));
            }
          }
        });
  }

  @Override
  public void pullChanges(
      PullChangesRequest request, StreamObserver<PullChangesResponse> observer) {
    offload(
        observer,
        () ->
            outgoing.pull(
                request.getId(),
                request.getAfterSequence(),
                request.getMaxChanges() == 0 ? 1000 : request.getMaxChanges()));
  }

  @Override
  public void fence(MigrationRef request, StreamObserver<Checkpoint> observer) {
    offload(
        observer,
        () -> {
          outgoing.fence(request.getId());
          return outgoing.finalChecksum(request.getId());
        });
  }

  @Override
  public void finishSource(MigrationRef request, StreamObserver<FinishResponse> observer) {
    offload(
        observer,
        () -> {
          outgoing.finish(request.getId(), request.getCommittedEpoch());
          return done();
        });
  }

  @Override
  public void abortSource(MigrationRef request, StreamObserver<FinishResponse> observer) {
    offload(
        observer,
        () -> {
          outgoing.abort(request.getId());
          return done();
        });
  }

  @Override
  public void runTarget(MigrationSpec spec, StreamObserver<MigrationProgress> observer) {
    var call = (ServerCallStreamObserver<MigrationProgress>) observer;
    call.setOnCancelHandler(() -> {});
    executor.execute(
        Context.current()
            .wrap(
                () -> {
                  try {
                    incoming.run(
                        spec,
                        progress -> {
                          if (!call.isCancelled()) {
                            call.onNext(progress);
                          }
                        });
                    if (!call.isCancelled()) {
                      call.onCompleted();
                    }
                  } catch (RuntimeException e) {
                    if (!call.isCancelled()) {
                      call.onError(StatusErrors.toStatus(e));
                    }
                  }
                }));
  }

  @Override
  public void drainTarget(MigrationSpec spec, StreamObserver<Checkpoint> observer) {
    offload(
        observer,
        () -> {
          incoming.drain(spec);
          return incoming.finalChecksum(spec);
        });
  }

  @Override
  public void finishTarget(MigrationRef request, StreamObserver<FinishResponse> observer) {
    offload(
        observer,
        () -> {
          incoming.finish(request.getId());
          return done();
        });
  }

  @Override
  public void abortTarget(MigrationSpec spec, StreamObserver<FinishResponse> observer) {
    offload(
        observer,
        () -> {
          incoming.abort(spec);
          return done();
        });
  }
}
