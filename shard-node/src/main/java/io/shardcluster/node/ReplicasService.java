package io.shardcluster.node;

import com.google.protobuf.UnsafeByteOperations;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.shardcluster.proto.v1.FetchStoreRequest;
import io.shardcluster.proto.v1.ReplaceReplicaRequest;
import io.shardcluster.proto.v1.ReplaceReplicaResponse;
import io.shardcluster.proto.v1.ReplicasGrpc;
import io.shardcluster.proto.v1.StoreChunk;
import io.shardcluster.proto.v1.StoreRow;
import io.shardcluster.proto.v1.TransferLeaderRequest;
import io.shardcluster.proto.v1.TransferLeaderResponse;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.rpc.StatusErrors;
import io.shardcluster.server.ServerResponses;
import java.util.List;
import java.util.logging.Logger;

/**
 * A replica group's own operations, on its leader: streams its whole store, as of one applied log
 * entry, to a replica that needs entries the group's log no longer has; replaces a member.
 */
final class ReplicasService extends ReplicasGrpc.ReplicasImplBase {
  private static final Logger logger = Logger.getLogger(ReplicasService.class.getName());
  static final int CHUNK_BYTES = 1 << 20;

  private final String nodeId;
  private final LocalStore store;
  private final ReplicaGroup group;

  ReplicasService(String nodeId, LocalStore store, ReplicaGroup group) {
    this.nodeId = nodeId;
    this.store = store;
    this.group = group;
  }

  @Override
  public void replaceReplica(
      ReplaceReplicaRequest request, StreamObserver<ReplaceReplicaResponse> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          GroupPeer added = GroupPeer.parse(request.getNewPeer());
          List<GroupPeer> members = group.replace(request.getOldReplica(), added);
          return ReplaceReplicaResponse.newBuilder()
              .addAllMembers(members.stream().map(GroupPeer::toString).toList())
              .build();
        });
  }

  @Override
  public void transferLeader(
      TransferLeaderRequest request, StreamObserver<TransferLeaderResponse> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          group.transferLeadership(request.getReplicaId());
          return TransferLeaderResponse.getDefaultInstance();
        });
  }

  @Override
  public void fetchStore(FetchStoreRequest request, StreamObserver<StoreChunk> observer) {
    var call = (ServerCallStreamObserver<StoreChunk>) observer;
    FlowControl flow = new FlowControl(call);
    logger.info(nodeId + ": sending the whole store to replica " + request.getReplicaId());
    DaemonThreads.named(nodeId + "-store-snapshot")
        .newThread(
            () -> {
              try {
                store.readAll(
                    CHUNK_BYTES,
                    new LocalStore.StoreSink() {
                      @Override
                      public void rows(int family, List<byte[]> keys, List<byte[]> values) {
                        StoreChunk.Builder chunk = StoreChunk.newBuilder().setFamily(family);
                        for (int i = 0; i < keys.size(); i++) {
                          chunk.addRows(
                              StoreRow.newBuilder()
                                  .setKey(UnsafeByteOperations.unsafeWrap(keys.get(i)))
                                  .setValue(UnsafeByteOperations.unsafeWrap(values.get(i))));
                        }
                        flow.awaitReady();
                        call.onNext(chunk.build());
                      }

                      @Override
                      public void end(LocalStore.LogPosition position) {
                        flow.awaitReady();
                        call.onNext(
                            StoreChunk.newBuilder()
                                .setDone(true)
                                .setAppliedIndex(position.index())
                                .setAppliedTerm(position.term())
                                .build());
                      }
                    });
                call.onCompleted();
              } catch (RuntimeException e) {
                if (!call.isCancelled()) {
                  call.onError(StatusErrors.toStatus(e));
                }
              }
            })
        .start();
  }
}
