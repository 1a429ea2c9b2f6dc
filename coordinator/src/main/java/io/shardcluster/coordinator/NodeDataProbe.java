package io.shardcluster.coordinator;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.CountRequest;
import io.shardcluster.proto.v1.IdentifyRequest;
import io.shardcluster.proto.v1.IdentifyResponse;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.StatusErrors;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Asks shard nodes over gRPC how many keys they store in a range, and which process they are. */
final class NodeDataProbe implements DataProbe, AutoCloseable {
  private static final long SESSION_TIMEOUT_MS = 1_000;

  private final NodeChannels channels;
  private final Duration timeout;

  NodeDataProbe(NodeChannels channels, Duration timeout) {
    this.channels = channels;
    this.timeout = timeout;
  }

  @Override
  public long countKeys(
      String node, String address, String keyspace, ByteString start, ByteString end) {
    try {
      return ShardNodeGrpc.newBlockingStub(channels.channel(address))
          .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .count(
              CountRequest.newBuilder().setKeyspace(keyspace).setStart(start).setEnd(end).build())
          .getCount();
    } catch (RuntimeException e) {
      throw ShardClusterException.failedPrecondition(
          "cannot check which keys node "
              + node
              + " at "
              + address
              + " stores: "
              + StatusErrors.fromStatus(e).getMessage());
    }
  }

  @Override
  public Optional<String> session(String node, String address) {
    try {
      IdentifyResponse answer =
          ShardNodeGrpc.newBlockingStub(channels.channel(address))
              .withDeadlineAfter(SESSION_TIMEOUT_MS, TimeUnit.MILLISECONDS)
              .identify(IdentifyRequest.getDefaultInstance());
      return answer.getNodeId().equals(node)
          ? Optional.of(answer.getSessionId())
          : Optional.empty();
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  @Override
  public void close() {
    channels.close();
  }
}
