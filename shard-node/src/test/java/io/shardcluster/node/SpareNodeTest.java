package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.shardcluster.proto.v1.AdoptRequest;
import io.shardcluster.proto.v1.SpareGrpc;
import io.shardcluster.rpc.HostPort;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpareNodeTest {
  @TempDir Path dir;

  @Test
  void anAdoption_isRefusedUnlessThePeersNameTheSpare_andSavedBeforeItIsAnswered()
      throws Exception {
    String name = "spare-" + System.nanoTime();
    ManagedChannel nowhere = InProcessChannelBuilder.forName(name + "-coordinator").build();
    ManagedChannel toSpare = InProcessChannelBuilder.forName(name).build();
    try {
      SpareNode spare =
          new SpareNode(
              new HostPort("127.0.0.1", 7901), 8901, "z1", dir, nowhere, Duration.ofMillis(100));
      CompletableFuture<SpareAdoption> adopted =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return spare.awaitAdoption(InProcessServerBuilder.forName(name));
                } catch (InterruptedException e) {
                  throw new IllegalStateException(e);
                }
              });
      SpareGrpc.SpareBlockingStub stub = SpareGrpc.newBlockingStub(toSpare).withWaitForReady();

      AdoptRequest elsewhere =
          AdoptRequest.newBuilder()
              .setNodeId("node-1")
              .setReplicaId("d")
              .addAllPeers(List.of("a@127.0.0.1:7411/8411", "d@127.0.0.1:7999/8999"))
              .build();
      assertThatThrownBy(() -> stub.withDeadlineAfter(10, TimeUnit.SECONDS).adopt(elsewhere))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                assertThat(e.getStatus().getDescription()).contains("not this spare");
              });
      assertThat(Files.exists(dir.resolve(SpareAdoption.FILE))).isFalse();
      assertThat(adopted).isNotDone();

      List<String> peers = List.of("a@127.0.0.1:7411/8411", "d@127.0.0.1:7901/8901");
      var unused =
          stub.withDeadlineAfter(10, TimeUnit.SECONDS)
              .adopt(
                  AdoptRequest.newBuilder()
                      .setNodeId("node-1")
                      .setReplicaId("d")
                      .addAllPeers(peers)
                      .build());

      SpareAdoption adoption = adopted.get(10, TimeUnit.SECONDS);
      assertThat(adoption.nodeId()).isEqualTo("node-1");
      assertThat(adoption.replicaId()).isEqualTo("d");
      assertThat(adoption.peers()).extracting(GroupPeer::toString).isEqualTo(peers);
      assertThat(SpareAdoption.load(dir)).as("what a restart reads").isEqualTo(adoption);
    } finally {
      nowhere.shutdownNow();
      toSpare.shutdownNow();
    }
  }

  @Test
  void aDamagedAdoptionFile_isNamed() throws Exception {
    Files.writeString(dir.resolve(SpareAdoption.FILE), "node.id=node-1\nreplica.id=d\npeers=\n");
    assertThatThrownBy(() -> SpareAdoption.load(dir)).hasMessageContaining("ADOPTED is damaged");
    assertThat(SpareAdoption.load(dir.resolve("elsewhere"))).isNull();
  }
}
