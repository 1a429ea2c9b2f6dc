package io.shardcluster.coordinator;

import io.grpc.stub.StreamObserver;
import io.shardcluster.client.NodeState;
import io.shardcluster.proto.v1.AdminGrpc;
import io.shardcluster.proto.v1.DirectoryChangeResponse;
import io.shardcluster.proto.v1.ListNodesRequest;
import io.shardcluster.proto.v1.ListNodesResponse;
import io.shardcluster.proto.v1.NodeStatus;
import io.shardcluster.proto.v1.RemoveDirectoryEntryRequest;
import io.shardcluster.proto.v1.SetDirectoryEntryRequest;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.wire.RoutingTables;
import io.shardcluster.wire.ServerResponses;

/** Serves operator commands. */
final class AdminService extends AdminGrpc.AdminImplBase {
  private final Cluster cluster;
  private final Liveness liveness;

  AdminService(Cluster cluster, Liveness liveness) {
    this.cluster = cluster;
    this.liveness = liveness;
  }

  @Override
  public void listNodes(ListNodesRequest request, StreamObserver<ListNodesResponse> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          ListNodesResponse.Builder response =
              ListNodesResponse.newBuilder().setEpoch(cluster.routing().epoch());
          for (Cluster.Member member : cluster.members()) {
            NodeStatus.Builder status =
                response
                    .addNodesBuilder()
                    .setId(member.id())
                    .setAddress(member.address())
                    .setState(
                        member.state() == NodeState.UP
                            ? io.shardcluster.proto.v1.NodeState.UP
                            : io.shardcluster.proto.v1.NodeState.DOWN)
                    .setShare(member.share())
                    .setIntervals(member.intervals());
            member
                .lastHeartbeat()
                .ifPresent(
                    heartbeat ->
                        status
                            .setStats(heartbeat.stats())
                            .setMillisSinceHeartbeat(
                                Math.max(1, liveness.since(heartbeat.at()).toMillis())));
          }
          return response.build();
        });
  }

  @Override
  public void setDirectoryEntry(
      SetDirectoryEntryRequest request, StreamObserver<DirectoryChangeResponse> observer) {
    ServerResponses.unary(
        observer,
        () ->
            DirectoryChangeResponse.newBuilder()
                .setEpoch(
                    cluster.setDirectoryEntry(
                        keyspace(request.getKeyspace()),
                        RoutingTables.fromProto(request.getEntry())))
                .build());
  }

  @Override
  public void removeDirectoryEntry(
      RemoveDirectoryEntryRequest request, StreamObserver<DirectoryChangeResponse> observer) {
    ServerResponses.unary(
        observer,
        () ->
            DirectoryChangeResponse.newBuilder()
                .setEpoch(
                    cluster.removeDirectoryEntry(
                        keyspace(request.getKeyspace()), request.getKey(), request.getPrefix()))
                .build());
  }

  private static String keyspace(String name) {
    return name.isEmpty() ? Keyspace.DEFAULT : name;
  }
}
