package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.shardcluster.client.ShardClient;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.PutRequest;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.testing.JvmProcess;
import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Bad input gets one clear line and a non-zero exit (or the right status), and changes nothing. */
class BadInputIT {
  private static LocalCluster cluster;
  private static ShardClient client;
  private static RoutingTable before;

  @BeforeAll
  static void start() throws Exception {
    cluster = LocalCluster.start("bad-input", 3);
    client = cluster.client();
    client.put("stable", "value");
    before = client.refreshRoutingTable();
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      // Nothing any test here did changed the routing or the data.
      assertThat(client.refreshRoutingTable()).isEqualTo(before);
      assertThat(client.get("stable")).contains("value");
      assertThat(cluster.nodeStates()).containsOnlyKeys("node-1", "node-2", "node-3");
    } finally {
      cluster.close();
    }
  }

  private static void assertOneLineError(Shardctl.Result result, int exitCode, String message) {
    assertThat(result.exitCode()).as(result.err()).isEqualTo(exitCode);
    assertThat(result.errLines()).as(result.err()).hasSize(1);
    assertThat(result.errLines().get(0)).startsWith("shardctl: ").contains(message);
  }

  @Test
  void emptyAndOversizedKeysAndValues_areInvalidArgument() throws Exception {
    assertOneLineError(cluster.shardctl("put", "", "v"), 3, "key must not be empty");
    assertOneLineError(cluster.shardctl("put", "k", ""), 3, "value must not be empty");
    assertOneLineError(
        cluster.shardctl("put", "k".repeat(5000), "v"),
        3,
        "key is 5000 bytes; the limit is 4096 bytes");
    assertOneLineError(cluster.shardctl("get", ""), 3, "key must not be empty");

    assertThatThrownBy(() -> client.put(new byte[] {1}, new byte[2 * 1024 * 1024]))
        .isInstanceOfSatisfying(
            ShardClusterException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
        .hasMessageContaining("value is 2097152 bytes; the limit is 1048576 bytes");
  }

  @Test
  void oversizedValueSentStraightToANode_isInvalidArgumentStatus() {
    ManagedChannel channel = NodeChannels.plaintext(before.address("node-1").orElseThrow());
    try {
      assertThatThrownBy(
              () ->
                  ShardNodeGrpc.newBlockingStub(channel)
                      .put(
                          PutRequest.newBuilder()
                              .setKey(ByteString.copyFromUtf8("k"))
                              .setValue(ByteString.copyFrom(new byte[2 * 1024 * 1024]))
                              .setEpoch(before.epoch())
                              .build()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void unknownCommandOrOption_isUsageError() throws Exception {
    Shardctl.Result unknown = cluster.shardctl("frobnicate");
    assertThat(unknown.exitCode()).isEqualTo(2);
    assertThat(unknown.err()).contains("frobnicate").contains("see 'shardctl --help'");
    assertThat(unknown.err().lines().count()).isEqualTo(1);
    Shardctl.Result bogus = cluster.shardctl("get", "--bogus", "k");
    assertThat(bogus.exitCode()).isEqualTo(2);
    assertThat(bogus.err().strip())
        .isEqualTo("shardctl: Unknown option: '--bogus' (see 'shardctl get --help')");
  }

  @Test
  void unreachableOrMalformedCoordinator_isOneLine() throws Exception {
    assertOneLineError(
        Shardctl.run(List.of("--coordinator", "127.0.0.1:1", "get", "k")),
        3,
        "coordinator at 127.0.0.1:1 is unreachable");
    assertOneLineError(
        Shardctl.run(List.of("--coordinator", "127.0.0.1:1", "nodes")),
        3,
        "coordinator at 127.0.0.1:1 is unreachable");
    assertOneLineError(
        Shardctl.run(List.of("--coordinator", "nonsense", "get", "k")),
        3,
        "malformed address 'nonsense'");
    // health answers the question it was asked: unhealthy, since the coordinator does not answer.
    Shardctl.Result health = Shardctl.run(List.of("--coordinator", "127.0.0.1:1", "health"));
    assertThat(health.exitCode()).isEqualTo(1);
    assertThat(health.out())
        .containsPattern("coordinator +FAIL +coordinator at 127.0.0.1:1 is unreachable")
        .endsWith("unhealthy: 1 check(s) failed\n");
    assertThat(health.err()).isEmpty();
  }

  @Test
  void directoryEntryForUnknownNode_isNotFound() throws Exception {
    assertOneLineError(
        cluster.shardctl("directory", "set", "tenant:", "node-9", "--prefix"),
        3,
        "no node named node-9");
    assertOneLineError(
        cluster.shardctl("directory", "remove", "tenant:", "--prefix"),
        3,
        "no directory entry for prefix 'tenant:'");
  }

  @Test
  void rebalancingCommands_unknownNodesAndMigrations_areOneLine() throws Exception {
    assertOneLineError(cluster.shardctl("drain", "node-9"), 3, "no node named node-9");
    assertOneLineError(
        cluster.shardctl("migrations", "cancel", "m999999"), 3, "no migration m999999");
    assertOneLineError(
        cluster.shardctl("migrations", "pause", "m999999"), 3, "no migration m999999");
    assertOneLineError(cluster.shardctl("remove", "node-2"), 3, "--force");
    assertOneLineError(cluster.shardctl("remove", "node-9", "--force"), 3, "no node named node-9");
  }

  private JvmProcess node(String name, List<String> args) throws Exception {
    return new JvmProcess(name, LocalCluster.jar("shard-node"), cluster.dir, args).start();
  }

  private static void assertExitsWithOneLine(JvmProcess process, String program, String message)
      throws Exception {
    assertThat(process.awaitExit(Duration.ofSeconds(60))).isEqualTo(1);
    List<String> errors =
        process.lastLog().lines().filter(line -> line.startsWith(program + ": ")).toList();
    assertThat(errors).as(process.lastLog()).hasSize(1);
    assertThat(errors.get(0)).contains(message);
  }

  @Test
  void secondCoordinatorOnTheSamePort_exitsWithOneLine() throws Exception {
    JvmProcess second =
        new JvmProcess(
                "coordinator-dup",
                LocalCluster.jar("coordinator"),
                cluster.dir,
                List.of(
                    "--port",
                    String.valueOf(cluster.coordinatorPort()),
                    "--data-dir",
                    cluster.dir.resolve("other-coordinator").toString()))
            .start();
    assertExitsWithOneLine(
        second, "coordinator", "cannot listen on 127.0.0.1:" + cluster.coordinatorPort());
  }

  @Test
  void nodeOnAPortInUse_exitsWithOneLine() throws Exception {
    int taken = cluster.coordinatorPort();
    JvmProcess node =
        node(
            "node-port",
            List.of(
                "--id",
                "node-x",
                "--port",
                String.valueOf(taken),
                "--data-dir",
                cluster.dir.resolve("node-x").toString(),
                "--coordinator",
                cluster.coordinatorAddress()));
    assertExitsWithOneLine(node, "shard-node", "cannot listen on 127.0.0.1:" + taken);
  }

  @Test
  void dataDirThatIsAFile_exitsWithOneLine() throws Exception {
    Path file = Files.writeString(cluster.dir.resolve("not-a-dir"), "x");
    JvmProcess node =
        node(
            "node-file",
            List.of(
                "--id",
                "node-y",
                "--port",
                "0",
                "--data-dir",
                file.toString(),
                "--coordinator",
                cluster.coordinatorAddress()));
    assertExitsWithOneLine(node, "shard-node", "is not a directory");
  }

  @Test
  void dataDirOfAnotherNode_exitsWithOneLine() throws Exception {
    JvmProcess node =
        node(
            "node-steal",
            List.of(
                "--id",
                "node-9",
                "--port",
                "0",
                "--data-dir",
                cluster.dataDir("node-1").toString(),
                "--coordinator",
                cluster.coordinatorAddress()));
    assertExitsWithOneLine(node, "shard-node", "belongs to node node-1, not node-9");
  }

  @Test
  void idOfALiveNodeOnAnotherDataDir_exitsWithOneLine() throws Exception {
    JvmProcess node =
        node(
            "node-impostor",
            List.of(
                "--id",
                "node-1",
                "--port",
                "0",
                "--data-dir",
                cluster.dir.resolve("impostor").toString(),
                "--coordinator",
                cluster.coordinatorAddress()));
    assertExitsWithOneLine(node, "shard-node", "node id node-1 is already in use by a live node");
  }

  @Test
  void dataDirInUseByARunningNode_exitsWithOneLine() throws Exception {
    JvmProcess node =
        node(
            "node-twin",
            List.of(
                "--port",
                "0",
                "--data-dir",
                cluster.dataDir("node-2").toString(),
                "--coordinator",
                cluster.coordinatorAddress()));
    assertExitsWithOneLine(node, "shard-node", "in use by another process");
  }

  @Test
  void badServerArguments_areOneLine() throws Exception {
    JvmProcess node =
        node(
            "node-badcoord",
            List.of(
                "--id",
                "node-z",
                "--port",
                "0",
                "--data-dir",
                cluster.dir.resolve("node-z").toString(),
                "--coordinator",
                "nowhere"));
    assertExitsWithOneLine(node, "shard-node", "malformed address 'nowhere'");
    assertThat(Map.of()).isEmpty();
  }
}
