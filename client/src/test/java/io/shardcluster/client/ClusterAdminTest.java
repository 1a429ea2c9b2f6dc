package io.shardcluster.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.ConnectivityState;
import io.grpc.stub.StreamObserver;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.AdminGrpc;
import io.shardcluster.proto.v1.ListNodesRequest;
import io.shardcluster.proto.v1.ListNodesResponse;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.SocketCoordinator;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Admin calls over a real socket to a coordinator that goes away and comes back. */
class ClusterAdminTest {
  private final NodeChannels channels = NodeChannels.netty(1);

  // Answers ListNodes with epoch 42.
  private final SocketCoordinator coordinator =
      new SocketCoordinator(
          new AdminGrpc.AdminImplBase() {
            @Override
            public void listNodes(
                ListNodesRequest request, StreamObserver<ListNodesResponse> observer) {
              observer.onNext(ListNodesResponse.newBuilder().setEpoch(42).build());
              observer.onCompleted();
            }
          });

  @AfterEach
  void tearDown() throws Exception {
    channels.close();
    coordinator.close();
  }

  @Test
  void aCoordinatorThatComesBack_isAnsweredAtOnce_notAfterTheChannelsReconnectBackoff()
      throws Exception {
    String address = coordinator.start().stop().address();
    ClusterAdmin admin = new ClusterAdmin(channels, address, Duration.ofSeconds(5));

    // Down: the call fails at once, naming the coordinator; the channel now waits out gRPC's
    // reconnect backoff (about a second) before it tries again by itself.
    assertThatThrownBy(admin::nodes)
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining("coordinator at " + address + " is unreachable");
    // The channel has settled into its failure: gRPC may make one more attempt at once, which a
    // coordinator back within those milliseconds would still refuse (seen once in a full run); a
    // real restart takes seconds.
    await()
        .during(Duration.ofMillis(100))
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(10))
        .until(
            () -> channels.channel(address).getState(false) == ConnectivityState.TRANSIENT_FAILURE);

    coordinator.start();
    assertThat(admin.nodes().epoch()).isEqualTo(42);
  }
}
