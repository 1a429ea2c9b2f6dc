package io.shardcluster.coordinator;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.AdminGrpc;
import io.shardcluster.proto.v1.CreateKeyspaceRequest;
import io.shardcluster.proto.v1.DirectoryChangeResponse;
import io.shardcluster.proto.v1.DrainNodeRequest;
import io.shardcluster.proto.v1.DropKeyspaceRequest;
import io.shardcluster.proto.v1.KeyspaceChangeResponse;
import io.shardcluster.proto.v1.ListGroupsRequest;
import io.shardcluster.proto.v1.ListGroupsResponse;
import io.shardcluster.proto.v1.ListKeyspacesRequest;
import io.shardcluster.proto.v1.ListKeyspacesResponse;
import io.shardcluster.proto.v1.ListMigrationsRequest;
import io.shardcluster.proto.v1.ListNodesRequest;
import io.shardcluster.proto.v1.ListNodesResponse;
import io.shardcluster.proto.v1.ListRepairsRequest;
import io.shardcluster.proto.v1.ListRepairsResponse;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationIdRequest;
import io.shardcluster.proto.v1.MigrationsResponse;
import io.shardcluster.proto.v1.MoveDirectoryEntryRequest;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.proto.v1.NodeStatus;
import io.shardcluster.proto.v1.PinLeaderRequest;
import io.shardcluster.proto.v1.PinLeaderResponse;
import io.shardcluster.proto.v1.PlannedMove;
import io.shardcluster.proto.v1.RebalancePlanProto;
import io.shardcluster.proto.v1.RebalanceRequest;
import io.shardcluster.proto.v1.RemoveDirectoryEntryRequest;
import io.shardcluster.proto.v1.RemoveNodeRequest;
import io.shardcluster.proto.v1.RemoveNodeResponse;
import io.shardcluster.proto.v1.SetDirectoryEntryRequest;
import io.shardcluster.proto.v1.SplitRangeRequest;
import io.shardcluster.proto.v1.StrategyProto;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.server.ServerResponses;
import java.util.List;
import java.util.function.Supplier;

/** Serves operator commands: converts between the wire and the cluster and rebalancer. */
final class AdminService extends AdminGrpc.AdminImplBase {
  private final Cluster cluster;
  private final Rebalancer rebalancer;
  private final Liveness liveness;
  private final int vnodes;
  private final Repairs repairs;

  AdminService(
      Cluster cluster, Rebalancer rebalancer, Liveness liveness, int vnodes, Repairs repairs) {
    this.repairs = repairs;
    this.cluster = cluster;
    this.rebalancer = rebalancer;
    this.liveness = liveness;
    this.vnodes = vnodes;
  }

  @Override
  public void listNodes(ListNodesRequest request, StreamObserver<ListNodesResponse> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          ListNodesResponse.Builder response =
              ListNodesResponse.newBuilder()
                  .setEpoch(cluster.routing().epoch())
                  .setClusterId(cluster.clusterId())
                  .addAllRefusedRegistrations(cluster.membership().refusedRegistrations());
          for (Membership.Member member : cluster.membership().members()) {
            NodeStatus.Builder status =
                response
                    .addNodesBuilder()
                    .setId(member.id())
                    .setAddress(member.address())
                    .setState(member.state())
                    .setMemberState(member.recorded())
                    .setShare(member.share())
                    .setIntervals(member.intervals())
                    .addAllReplicas(cluster.membership().replicas(member.id()))
                    .setLeaderZone(cluster.membership().leaderZone(member.id()));
            rebalancer
                .waitingFor(member.id())
                .ifPresent(waiting -> status.setNote(waiting.note()).setStopped(waiting.stopped()));
            member
                .lastHeartbeat()
                .ifPresent(
                    heartbeat ->
                        status
                            .setStats(
                                member.state() == NodeStateProto.REMOVED
                                    // It owns and serves nothing: its last count and load
                                    // are history.
                                    ? heartbeat.stats().toBuilder()
                                        .clearDirectoryLoad()
                                        .clearRangeLoad()
                                        .setKeys(0)
                                        .setBytes(0)
                                        .setKeysStale(false)
                                        .setReadsPerSec(0)
                                        .setWritesPerSec(0)
                                    : heartbeat.stats().toBuilder()
                                        .clearDirectoryLoad()
                                        .clearRangeLoad())
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
            afterMigrations(
                "directory set",
                () ->
                    rebalancer.setDirectoryEntry(
                        keyspace(request.getKeyspace()),
                        RoutingTables.fromProto(request.getEntry()))));
  }

  @Override
  public void removeDirectoryEntry(
      RemoveDirectoryEntryRequest request, StreamObserver<DirectoryChangeResponse> observer) {
    ServerResponses.unary(
        observer,
        () ->
            afterMigrations(
                "directory remove",
                () ->
                    rebalancer.removeDirectoryEntry(
                        keyspace(request.getKeyspace()), request.getKey(), request.getPrefix())));
  }

  @Override
  public void createKeyspace(
      CreateKeyspaceRequest request, StreamObserver<KeyspaceChangeResponse> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          List<byte[]> splitAt =
              request.getSplitAtList().stream().map(ByteString::toByteArray).toList();
          return KeyspaceChangeResponse.newBuilder()
              .setEpoch(
                  afterMigrations(
                      "create keyspace " + request.getName(),
                      () ->
                          cluster
                              .catalog()
                              .createKeyspace(
                                  request.getName(),
                                  request.getStrategy(),
                                  splitAt,
                                  request.hasSeparator() ? request.getSeparator() : null,
                                  vnodes)))
              .build();
        });
  }

  @Override
  public void splitRange(
      SplitRangeRequest request, StreamObserver<KeyspaceChangeResponse> observer) {
    ServerResponses.unary(
        observer,
        () ->
            KeyspaceChangeResponse.newBuilder()
                .setEpoch(
                    afterMigrations(
                        "split",
                        () ->
                            cluster
                                .catalog()
                                .splitRange(
                                    keyspace(request.getKeyspace()),
                                    request.getAt().toByteArray())))
                .build());
  }

  @Override
  public void dropKeyspace(
      DropKeyspaceRequest request, StreamObserver<KeyspaceChangeResponse> observer) {
    ServerResponses.unary(
        observer,
        () ->
            KeyspaceChangeResponse.newBuilder()
                .setEpoch(
                    afterMigrations(
                        "drop keyspace " + request.getName(),
                        () -> cluster.catalog().dropKeyspace(request.getName())))
                .build());
  }

  @Override
  public void listKeyspaces(
      ListKeyspacesRequest request, StreamObserver<ListKeyspacesResponse> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          io.shardcluster.routing.RoutingTable table = cluster.routing();
          ListKeyspacesResponse.Builder response =
              ListKeyspacesResponse.newBuilder().setEpoch(table.epoch());
          for (Keyspace keyspace : table.keyspaces().values()) {
            var info = response.addKeyspacesBuilder().setName(keyspace.name());
            if (keyspace.isDirectory()) {
              info.setStrategy(StrategyProto.DIRECTORY)
                  .setSeparator(keyspace.grouping().separator())
                  .setGroups(cluster.groups().size(keyspace.name()))
                  .putAllGroupsPerNode(cluster.groups().groupsPerOwner(keyspace.name()));
            } else {
              info.setStrategy(keyspace.isRange() ? StrategyProto.RANGE : StrategyProto.HASH)
                  .setIntervals(
                      keyspace.isRange()
                          ? keyspace.ranges().size()
                          : keyspace.ring().intervals().size())
                  .setDirectoryEntries(keyspace.directory().entries().size());
            }
          }
          return response.build();
        });
  }

  @Override
  public void listGroups(ListGroupsRequest request, StreamObserver<ListGroupsResponse> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          io.shardcluster.routing.RoutingTable table = cluster.routing();
          String name = keyspace(request.getKeyspace());
          if (!table.keyspace(name).isDirectory()) {
            throw ShardClusterException.failedPrecondition(
                "keyspace " + name + " is not a directory keyspace; it has no groups");
          }
          int limit = request.getLimit() == 0 ? 1000 : Math.min(request.getLimit(), 100_000);
          ListGroupsResponse.Builder response =
              ListGroupsResponse.newBuilder()
                  .setEpoch(table.epoch())
                  .setTotal(cluster.groups().size(name));
          for (var entry : cluster.groups().list(name, request.getStartAfter(), limit)) {
            response.addEntriesBuilder().setGroup(entry.getKey()).setOwner(entry.getValue());
          }
          return response.build();
        });
  }

  @Override
  public void moveDirectoryEntry(
      MoveDirectoryEntryRequest request, StreamObserver<Migration> observer) {
    ServerResponses.unary(
        observer,
        () ->
            afterMigrations(
                "directory move",
                () ->
                    rebalancer.moveDirectoryEntry(
                        keyspace(request.getKeyspace()),
                        request.getKey(),
                        request.getPrefix(),
                        request.getTarget())));
  }

  @Override
  public void drainNode(DrainNodeRequest request, StreamObserver<MigrationsResponse> observer) {
    ServerResponses.unary(
        observer,
        () ->
            MigrationsResponse.newBuilder()
                .addAllMigrations(
                    afterMigrations(
                        "drain " + request.getNodeId(),
                        () -> rebalancer.drain(request.getNodeId())))
                .build());
  }

  @Override
  public void removeNode(RemoveNodeRequest request, StreamObserver<RemoveNodeResponse> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          MembershipChanges.RemovedNode removed =
              rebalancer.removeForce(request.getNodeId(), request.getForce());
          return RemoveNodeResponse.newBuilder()
              .setEpoch(removed.epoch())
              .setShareLost(removed.shareLost())
              .setDirectoryEntriesReassigned(removed.entriesReassigned())
              .build();
        });
  }

  @Override
  public void rebalance(RebalanceRequest request, StreamObserver<RebalancePlanProto> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          Rebalancer.Rebalance rebalance =
              afterMigrations("rebalance", () -> rebalancer.rebalance(request.getDryRun()));
          RebalancePlanProto.Builder plan =
              RebalancePlanProto.newBuilder()
                  .setMetric(rebalance.metric())
                  .setMaxOverMeanBefore(rebalance.plan().maxOverMeanBefore())
                  .setMaxOverMeanAfter(rebalance.plan().maxOverMeanAfter())
                  .putAllLoadBefore(rebalance.plan().before())
                  .putAllLoadAfter(rebalance.plan().after())
                  .setBalancer(rebalance.balancer());
          for (LoadPlanner.Move move : rebalance.plan().moves()) {
            plan.addMoves(
                PlannedMove.newBuilder()
                    .setSource(move.source())
                    .setTarget(move.target())
                    .setMoving(RoutingTables.toProto(move.moving()))
                    .setLoad(move.load())
                    .setDescription(move.moving().toString()));
          }
          rebalance.started().forEach(m -> plan.addStarted(m.getId()));
          return plan.build();
        });
  }

  @Override
  public void listMigrations(
      ListMigrationsRequest request, StreamObserver<MigrationsResponse> observer) {
    ServerResponses.unary(
        observer,
        () ->
            MigrationsResponse.newBuilder()
                .addAllMigrations(rebalancer.migrations(request.getAll()))
                .build());
  }

  @Override
  public void pauseMigration(MigrationIdRequest request, StreamObserver<Migration> observer) {
    ServerResponses.unary(observer, () -> rebalancer.pause(request.getId()));
  }

  @Override
  public void resumeMigration(MigrationIdRequest request, StreamObserver<Migration> observer) {
    ServerResponses.unary(observer, () -> rebalancer.resume(request.getId()));
  }

  @Override
  public void cancelMigration(MigrationIdRequest request, StreamObserver<Migration> observer) {
    ServerResponses.unary(observer, () -> rebalancer.cancel(request.getId()));
  }

  private static String keyspace(String name) {
    return name.isEmpty() ? Keyspace.DEFAULT : name;
  }

  /**
   * A change that migrations in progress would refuse waits for them to end, within the caller's
   * deadline (see {@link Cluster#afterMigrations}).
   */
  private <T> T afterMigrations(String what, Supplier<T> change) {
    return cluster.afterMigrations(what, CallerDeadline.waitMs(), change);
  }

  @Override
  public void pinLeader(PinLeaderRequest request, StreamObserver<PinLeaderResponse> observer) {
    ServerResponses.unary(
        observer,
        () -> {
          cluster.membership().pinLeader(request.getNodeId(), request.getZone());
          return PinLeaderResponse.getDefaultInstance();
        });
  }

  @Override
  public void listRepairs(
      ListRepairsRequest request, StreamObserver<ListRepairsResponse> observer) {
    ServerResponses.unary(observer, repairs::view);
  }
}
