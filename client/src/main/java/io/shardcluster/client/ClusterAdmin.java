package io.shardcluster.client;

import com.google.protobuf.ByteString;
import io.grpc.Channel;
import io.shardcluster.proto.v1.AdminGrpc;
import io.shardcluster.proto.v1.ListNodesRequest;
import io.shardcluster.proto.v1.ListNodesResponse;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.proto.v1.NodeStatus;
import io.shardcluster.proto.v1.RemoveDirectoryEntryRequest;
import io.shardcluster.proto.v1.SetDirectoryEntryRequest;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.wire.Limits;
import io.shardcluster.wire.RoutingTables;
import io.shardcluster.wire.StatusErrors;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Operator commands, sent to the coordinator. Obtain it from {@link ShardClient#admin()}. Each
 * method blocks for one call and fails with a {@link ShardClusterException} naming what was wrong;
 * UNAVAILABLE names the coordinator if it cannot be reached.
 */
public final class ClusterAdmin {
  private final Channel coordinator;
  private final String coordinatorAddress;
  private final Duration timeout;

  ClusterAdmin(Channel coordinator, String coordinatorAddress, Duration timeout) {
    this.coordinator = coordinator;
    this.coordinatorAddress = coordinatorAddress;
    this.timeout = timeout;
  }

  /** The cluster's epoch and every member node with its state and load. */
  public Nodes nodes() {
    ListNodesResponse response =
        call(() -> stub().listNodes(ListNodesRequest.getDefaultInstance()));
    return new Nodes(
        response.getEpoch(), response.getNodesList().stream().map(ClusterAdmin::toInfo).toList());
  }

  /** The member nodes and the epoch they were read at. */
  public record Nodes(long epoch, List<NodeInfo> nodes) {}

  /**
   * Places a key ({@code prefix == false}) or every key with the prefix on a node, overriding the
   * ring. FAILED_PRECONDITION while another node still holds keys the entry covers. Returns the new
   * epoch.
   */
  public long setDirectoryEntry(byte[] key, boolean prefix, String node) {
    Limits.checkKey(key.length);
    DirectoryEntry entry = new DirectoryEntry(ByteString.copyFrom(key), prefix, node);
    return call(() ->
            stub()
                .setDirectoryEntry(
                    SetDirectoryEntryRequest.newBuilder()
                        .setKeyspace(Keyspace.DEFAULT)
                        .setEntry(RoutingTables.toProto(entry))
                        .build()))
        .getEpoch();
  }

  /** Removes a directory entry; NOT_FOUND if there is none. Returns the new epoch. */
  public long removeDirectoryEntry(byte[] key, boolean prefix) {
    Limits.checkKey(key.length);
    return call(() ->
            stub()
                .removeDirectoryEntry(
                    RemoveDirectoryEntryRequest.newBuilder()
                        .setKeyspace(Keyspace.DEFAULT)
                        .setKey(ByteString.copyFrom(key))
                        .setPrefix(prefix)
                        .build()))
        .getEpoch();
  }

  private AdminGrpc.AdminBlockingStub stub() {
    return AdminGrpc.newBlockingStub(coordinator)
        .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private <T> T call(Supplier<T> rpc) {
    try {
      return rpc.get();
    } catch (RuntimeException e) {
      ShardClusterException error = StatusErrors.fromStatus(e);
      if (error.code() == ErrorCode.UNAVAILABLE || error.code() == ErrorCode.DEADLINE_EXCEEDED) {
        throw new ShardClusterException(
            error.code(),
            "coordinator at " + coordinatorAddress + " is unreachable: " + error.getMessage(),
            e);
      }
      throw error;
    }
  }

  private static NodeInfo toInfo(NodeStatus status) {
    NodeStats stats = status.getStats();
    return new NodeInfo(
        status.getId(),
        status.getAddress(),
        status.getState() == io.shardcluster.proto.v1.NodeState.UP ? NodeState.UP : NodeState.DOWN,
        status.getShare(),
        status.getIntervals(),
        stats.getKeys(),
        stats.getBytes(),
        stats.getReadsPerSec(),
        stats.getWritesPerSec(),
        stats.getReadP99Ms(),
        stats.getWriteP99Ms(),
        status.getMillisSinceHeartbeat());
  }
}
