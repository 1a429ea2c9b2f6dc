package io.shardcluster.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ConnectivityState;
import io.grpc.Deadline;
import io.grpc.stub.StreamObserver;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.GroupEntry;
import io.shardcluster.proto.v1.LookupGroupsRequest;
import io.shardcluster.proto.v1.LookupGroupsResponse;
import io.shardcluster.proto.v1.RoutingGrpc;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Group lookups over a real socket to a coordinator that goes away and comes back. */
class GroupOwnersTest {
  private static final ByteString ACME = ByteString.copyFromUtf8("acme");

  private final NodeChannels channels = NodeChannels.netty(1);
  private final AtomicInteger lookups = new AtomicInteger();

  // Places every group on node-2, at directory version 3.
  private final SocketCoordinator coordinator =
      new SocketCoordinator(
          new RoutingGrpc.RoutingImplBase() {
            @Override
            public void lookupGroups(
                LookupGroupsRequest request, StreamObserver<LookupGroupsResponse> observer) {
              lookups.incrementAndGet();
              LookupGroupsResponse.Builder response =
                  LookupGroupsResponse.newBuilder().setEpoch(7).setDirectoryVersion(3);
              for (ByteString group : request.getGroupsList()) {
                response.addEntries(GroupEntry.newBuilder().setGroup(group).setOwner("node-2"));
              }
              observer.onNext(response.build());
              observer.onCompleted();
            }
          });

  @AfterEach
  void tearDown() throws Exception {
    channels.close();
    coordinator.close();
  }

  @Test
  void aLookupWhileTheCoordinatorRestarts_waitsForIt_insteadOfFailing() throws Exception {
    String address = coordinator.start().stop().address();
    GroupOwners owners = new GroupOwners(channels, address, Duration.ofSeconds(5), 100);

    CompletableFuture<Map<ByteString, String>> lookup =
        owners.owners("tenants", 0, List.of(ACME), true, Deadline.after(20, TimeUnit.SECONDS));
    // It has tried and found nobody there (the channel failed to connect).
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> channels.channel(address).getState(false) == ConnectivityState.TRANSIENT_FAILURE);
    assertThat(lookup).isNotDone();

    coordinator.start();
    assertThat(lookup.get(10, TimeUnit.SECONDS)).containsEntry(ACME, "node-2");
    assertThat(lookups.get()).isEqualTo(1);
    // Cached now, at the directory version the coordinator answered with.
    assertThat(owners.owner("tenants", 3, ACME)).isEqualTo("node-2");
    assertThat(lookups.get()).isEqualTo(1);
  }

  @Test
  void aCoordinatorThatStaysAway_failsTheLookupAtItsDeadline_namingTheCoordinator()
      throws Exception {
    String address = coordinator.start().stop().address();
    GroupOwners owners = new GroupOwners(channels, address, Duration.ofSeconds(5), 100);

    CompletableFuture<Map<ByteString, String>> lookup =
        owners.owners(
            "tenants", 0, List.of(ACME), false, Deadline.after(400, TimeUnit.MILLISECONDS));
    assertThatThrownBy(() -> lookup.get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining(
            "coordinator at " + address + " is unreachable for a directory lookup");
  }
}
