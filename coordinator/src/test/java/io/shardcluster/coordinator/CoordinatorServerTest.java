package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import io.shardcluster.proto.v1.AdminGrpc;
import io.shardcluster.proto.v1.CountRequest;
import io.shardcluster.proto.v1.CountResponse;
import io.shardcluster.proto.v1.DirectoryEntryProto;
import io.shardcluster.proto.v1.DrainNodeRequest;
import io.shardcluster.proto.v1.HeartbeatRequest;
import io.shardcluster.proto.v1.ListNodesRequest;
import io.shardcluster.proto.v1.ListNodesResponse;
import io.shardcluster.proto.v1.MembershipGrpc;
import io.shardcluster.proto.v1.MigrationIdRequest;
import io.shardcluster.proto.v1.RegisterRequest;
import io.shardcluster.proto.v1.RemoveNodeRequest;
import io.shardcluster.proto.v1.RoutingGrpc;
import io.shardcluster.proto.v1.RoutingTableProto;
import io.shardcluster.proto.v1.SetDirectoryEntryRequest;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.proto.v1.WatchRoutingTableRequest;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The coordinator's services over in-process gRPC, with stand-in nodes that hold no data. */
class CoordinatorServerTest {
  @TempDir Path dir;

  private final String name = InProcessServerBuilder.generateName();
  private final List<Server> fakeNodes = new ArrayList<>();
  private CoordinatorServer coordinator;
  private ManagedChannel channel;

  private static ManagedChannel inProcess(String target) {
    return InProcessChannelBuilder.forName(target).directExecutor().build();
  }

  @BeforeEach
  void start() throws Exception {
    for (int i = 1; i <= 3; i++) {
      fakeNodes.add(
          InProcessServerBuilder.forName("n" + i + ":1")
              .directExecutor()
              .addService(
                  new ShardNodeGrpc.ShardNodeImplBase() {
                    @Override
                    public void count(
                        CountRequest request, StreamObserver<CountResponse> observer) {
                      observer.onNext(CountResponse.getDefaultInstance());
                      observer.onCompleted();
                    }
                  })
              .build()
              .start());
    }
    coordinator =
        new CoordinatorServer(
                CoordinatorConfig.defaults("127.0.0.1", 0, dir),
                InProcessServerBuilder.forName(name).directExecutor(),
                Clock.systemUTC(),
                CoordinatorServerTest::inProcess)
            .start();
    channel = inProcess(name);
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    coordinator.stop();
    fakeNodes.forEach(Server::shutdownNow);
  }

  private RoutingTableProto register(String node) {
    return MembershipGrpc.newBlockingStub(channel)
        .register(
            RegisterRequest.newBuilder()
                .setNodeId(node)
                .setAddress(node + ":1")
                .setInstanceId("instance-" + node)
                .build())
        .getRouting();
  }

  @Test
  void register_firstNodeIsUp_nextOnesJoin() {
    register("n1");
    register("n2");
    RoutingTableProto table = register("n3");

    ListNodesResponse nodes =
        AdminGrpc.newBlockingStub(channel).listNodes(ListNodesRequest.getDefaultInstance());
    assertThat(nodes.getEpoch()).isEqualTo(table.getEpoch());
    assertThat(nodes.getNodesList())
        .extracting(n -> n.getId() + "=" + n.getState())
        .contains("n1=UP", "n2=JOINING", "n3=JOINING");
    assertThat(nodes.getNodes(0).getShare()).isEqualTo(1.0);
  }

  @Test
  void adminCommands_unknownNamesAndBadStates_getTheRightStatus() {
    register("n1");
    AdminGrpc.AdminBlockingStub admin = AdminGrpc.newBlockingStub(channel);
    assertThatThrownBy(
            () -> admin.drainNode(DrainNodeRequest.newBuilder().setNodeId("ghost").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    assertThatThrownBy(() -> admin.drainNode(DrainNodeRequest.newBuilder().setNodeId("n1").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
              assertThat(e.getStatus().getDescription()).contains("last node");
            });
    assertThatThrownBy(
            () -> admin.cancelMigration(MigrationIdRequest.newBuilder().setId("m999").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    assertThatThrownBy(
            () -> admin.removeNode(RemoveNodeRequest.newBuilder().setNodeId("n1").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getDescription()).contains("--force"));
  }

  @Test
  void watch_sendsCurrentTable_thenEachNewOne() {
    register("n1");
    Iterator<RoutingTableProto> updates =
        RoutingGrpc.newBlockingStub(channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .watchRoutingTable(WatchRoutingTableRequest.getDefaultInstance());
    long first = updates.next().getEpoch();

    RoutingTableProto afterJoin = register("n2");

    RoutingTableProto pushed = updates.next();
    assertThat(pushed.getEpoch()).isEqualTo(afterJoin.getEpoch()).isGreaterThan(first);
    assertThat(pushed.getNodesCount()).isEqualTo(2);
  }

  @Test
  void heartbeat_unknownNode_isNotFound() {
    assertThatThrownBy(
            () ->
                MembershipGrpc.newBlockingStub(channel)
                    .heartbeat(
                        HeartbeatRequest.newBuilder()
                            .setNodeId("ghost")
                            .setInstanceId("x")
                            .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
  }

  @Test
  void setDirectoryEntry_badInput_getsTheRightStatus() {
    register("n1");
    AdminGrpc.AdminBlockingStub admin = AdminGrpc.newBlockingStub(channel);

    assertThatThrownBy(
            () ->
                admin.setDirectoryEntry(
                    SetDirectoryEntryRequest.newBuilder()
                        .setEntry(
                            DirectoryEntryProto.newBuilder()
                                .setKey(ByteString.copyFromUtf8("k"))
                                .setOwner("ghost"))
                        .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    assertThatThrownBy(
            () ->
                admin.setDirectoryEntry(
                    SetDirectoryEntryRequest.newBuilder()
                        .setEntry(DirectoryEntryProto.newBuilder().setOwner("n1"))
                        .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
  }

  @Test
  void register_sameIdFromAnotherInstance_isAlreadyExists() {
    register("n1");
    assertThatThrownBy(
            () ->
                MembershipGrpc.newBlockingStub(channel)
                    .register(
                        RegisterRequest.newBuilder()
                            .setNodeId("n1")
                            .setAddress("n9:1")
                            .setInstanceId("someone-else")
                            .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS));
  }

  @Test
  void healthAndReflection_areServed() throws Exception {
    HealthCheckResponse health =
        HealthGrpc.newBlockingStub(channel).check(HealthCheckRequest.getDefaultInstance());
    assertThat(health.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);

    List<String> services = new ArrayList<>();
    var done = new CountDownLatch(1);
    var requests =
        ServerReflectionGrpc.newStub(channel)
            .serverReflectionInfo(
                new StreamObserver<ServerReflectionResponse>() {
                  @Override
                  public void onNext(ServerReflectionResponse response) {
                    response
                        .getListServicesResponse()
                        .getServiceList()
                        .forEach(s -> services.add(s.getName()));
                  }

                  @Override
                  public void onError(Throwable t) {
                    done.countDown();
                  }

                  @Override
                  public void onCompleted() {
                    done.countDown();
                  }
                });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    requests.onCompleted();
    assertThat(done.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(services)
        .contains(
            "shardcluster.v1.Admin",
            "shardcluster.v1.Membership",
            "shardcluster.v1.Routing",
            "grpc.health.v1.Health");
  }
}
