package io.shardcluster.coordinator;

import io.grpc.stub.StreamObserver;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.HeartbeatRequest;
import io.shardcluster.proto.v1.HeartbeatResponse;
import io.shardcluster.proto.v1.MembershipGrpc;
import io.shardcluster.proto.v1.OfferSpareRequest;
import io.shardcluster.proto.v1.OfferSpareResponse;
import io.shardcluster.proto.v1.RegisterRequest;
import io.shardcluster.proto.v1.RegisterResponse;
import io.shardcluster.rpc.HostPort;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.server.ServerResponses;

/** Serves shard nodes' registrations and heartbeats. */
final class MembershipService extends MembershipGrpc.MembershipImplBase {
  private final Cluster cluster;
  private final Rebalancer rebalancer;
  private final Spares spares;

  MembershipService(Cluster cluster, Rebalancer rebalancer, Spares spares) {
    this.cluster = cluster;
    this.rebalancer = rebalancer;
    this.spares = spares;
  }

  @Override
  public void offerSpare(OfferSpareRequest request, StreamObserver<OfferSpareResponse> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          HostPort.parse(request.getAddress());
          ShardClusterException.requireArgument(
              request.getRaftPort() > 0 && request.getRaftPort() <= 65535,
              "raft port must be 1-65535, got %s",
              request.getRaftPort());
          spares.offer(request);
          return OfferSpareResponse.getDefaultInstance();
        });
  }

  @Override
  public void register(RegisterRequest request, StreamObserver<RegisterResponse> observer) {
    ServerResponses.unary(
        observer,
        () ->
            RegisterResponse.newBuilder()
                .setRouting(
                    RoutingTables.toProto(
                        cluster
                            .membership()
                            .register(
                                request.getNodeId(),
                                request.getAddress(),
                                request.getInstanceId(),
                                request.getSessionId(),
                                request.getClusterId(),
                                RoutingTables.fromProto(request.getRouting()),
                                request.getReplica())))
                .setClusterId(cluster.clusterId())
                .build());
  }

  @Override
  public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> observer) {
    ServerResponses.unary(
        observer,
        () ->
            HeartbeatResponse.newBuilder()
                .setEpoch(
                    cluster
                        .membership()
                        .heartbeat(
                            request.getNodeId(),
                            request.getInstanceId(),
                            request.getSessionId(),
                            request.getStats(),
                            request.getReplica())
                        .epoch())
                .addAllActiveMigrations(rebalancer.activeFor(request.getNodeId()))
                .build());
  }
}
