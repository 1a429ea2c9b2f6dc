package io.shardcluster.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.shardcluster.client.internal.NodeChannels;
import io.shardcluster.proto.v1.AdminGrpc;
import io.shardcluster.proto.v1.ListNodesRequest;
import io.shardcluster.proto.v1.ListNodesResponse;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Admin calls over a real socket to a coordinator that goes away and comes back. */
class ClusterAdminTest {
  private final NodeChannels channels = NodeChannels.netty(1);
  private Server coordinator;

  @AfterEach
  void tearDown() throws Exception {
    channels.close();
    if (coordinator != null) {
      coordinator.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** A coordinator that answers ListNodes with epoch 42, on the port (0: any free one). */
  private Server startCoordinator(int port) throws Exception {
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
        .addService(
            new AdminGrpc.AdminImplBase() {
              @Override
              public void listNodes(
                  ListNodesRequest request, StreamObserver<ListNodesResponse> observer) {
                observer.onNext(ListNodesResponse.newBuilder().setEpoch(42).build());
                observer.onCompleted();
              }
            })
        .build()
        .start();
  }

  @Test
  void aCoordinatorThatComesBack_isAnsweredAtOnce_notAfterTheChannelsReconnectBackoff()
      throws Exception {
    coordinator = startCoordinator(0);
    int port = coordinator.getPort();
    coordinator.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    ClusterAdmin admin = new ClusterAdmin(channels, "127.0.0.1:" + port, Duration.ofSeconds(5));

    // Down: the call fails at once, naming the coordinator; the channel now waits out gRPC's
    // reconnect backoff (about a second) before it tries again by itself.
    assertThatThrownBy(admin::nodes)
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining("coordinator at 127.0.0.1:" + port + " is unreachable");

    coordinator = startCoordinator(port);
    assertThat(admin.nodes().epoch()).isEqualTo(42);
  }
}
