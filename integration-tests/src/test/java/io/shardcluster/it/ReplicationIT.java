package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.shardcluster.client.ClusterAdmin;
import io.shardcluster.client.KeyValueIterator;
import io.shardcluster.client.NodeInfo;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.ReplicaInfo;
import io.shardcluster.client.ScanOptions;
import io.shardcluster.client.ShardClient;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.proto.v1.GetRequest;
import io.shardcluster.proto.v1.GetResponse;
import io.shardcluster.proto.v1.PutRequest;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.rpc.StatusErrors;
import io.shardcluster.server.FileTrees;
import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;

/**
 * Shards as replica groups of three real processes (Apache Ratis): the leader SIGKILLed under load,
 * again and again; a leader frozen (SIGSTOP) past the election and then thawed; a replica whose
 * data directory was deleted while it was down. Every run records each key's history and checks it
 * is linearizable, and that no acknowledged write was lost.
 */
class ReplicationIT {
  private LocalCluster cluster;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private ShardClient client() {
    return ShardClient.builder()
        .coordinator(cluster.coordinatorAddress())
        .requestTimeout(Duration.ofSeconds(5))
        .build();
  }

  private static NodeInfo node(ShardClient client, String id) {
    return client.admin().nodes().nodes().stream()
        .filter(node -> node.id().equals(id))
        .findFirst()
        .orElseThrow();
  }

  /** The process name of the group's leader, once the coordinator routes to it. */
  private static String awaitLeader(ShardClient client, String node, String notThis) {
    String[] leader = new String[1];
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              NodeInfo info = node(client, node);
              Optional<ReplicaInfo> leading =
                  info.replicas().stream()
                      .filter(ReplicaInfo::leader)
                      .filter(replica -> replica.address().equals(info.address()))
                      .filter(replica -> replica.millisSinceHeartbeat() < 1_000)
                      .findFirst();
              if (leading.isEmpty() || (node + "-" + leading.get().replicaId()).equals(notThis)) {
                return false;
              }
              leader[0] = node + "-" + leading.get().replicaId();
              return true;
            });
    return leader[0];
  }

  /**
   * Waits until every replica of the group reports and has applied what the leader had applied when
   * the wait began (under load a follower is always a few entries behind the leader).
   */
  private static void awaitCaughtUp(ShardClient client, String node, int replicas) {
    long target =
        node(client, node).replicas().stream()
            .filter(ReplicaInfo::leader)
            .mapToLong(ReplicaInfo::appliedIndex)
            .max()
            .orElse(0);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .until(
            () -> {
              List<ReplicaInfo> group = node(client, node).replicas();
              return group.size() == replicas
                  && group.stream().allMatch(replica -> replica.millisSinceHeartbeat() < 1_000)
                  && group.stream().allMatch(replica -> replica.appliedIndex() >= target);
            });
  }

  private static void awaitAcknowledged(HistoryWorkload load, long more) {
    long target = load.acknowledged() + more;
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> load.acknowledged() >= target);
  }

  @Test
  void leaderSigkilled_repeatedlyUnderLoad_losesNoAcknowledgedWrite_andHistoryIsLinearizable()
      throws Exception {
    cluster = LocalCluster.startGroups("replication-kill", 1, 3);
    try (ShardClient client = client()) {
      HistoryWorkload load = new HistoryWorkload(client, 200, 8);
      load.start();
      awaitAcknowledged(load, 500);
      // Whole scans and queries (one gathered, one streamed) meanwhile: they ride through an
      // election as single-key requests do.
      AtomicBoolean scanning = new AtomicBoolean(true);
      AtomicLong scans = new AtomicLong();
      AtomicLong queries = new AtomicLong();
      List<Throwable> scanFailures = new CopyOnWriteArrayList<>();
      Thread scanner =
          new Thread(
              () -> {
                while (scanning.get()) {
                  try (KeyValueIterator rows = client.scan(ScanOptions.all())) {
                    rows.forEachRemaining(row -> {});
                    scans.incrementAndGet();
                    assertThat(client.query("SELECT COUNT(*) FROM default").rows()).hasSize(1);
                    assertThat(client.query("SELECT _key FROM default").rows()).isNotEmpty();
                    queries.addAndGet(2);
                  } catch (RuntimeException | AssertionError e) {
                    scanFailures.add(e);
                  }
                }
              },
              "scanner");
      scanner.start();
      String leader = awaitLeader(client, "node-1", "");
      for (int round = 1; round <= 3; round++) {
        cluster.kill(leader);
        long killed = System.nanoTime();
        String next = awaitLeader(client, "node-1", leader);
        awaitAcknowledged(load, 100);
        System.out.printf(
            "round %d: killed %s, %s leads; writes flow again %d ms after the kill%n",
            round, leader, next, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed));
        cluster.restart(leader);
        awaitCaughtUp(client, "node-1", 3);
        leader = next;
      }
      load.close();
      scanning.set(false);
      scanner.join(60_000);
      System.out.printf(
          "%,d operations on %d keys recorded, %,d failed during elections; %,d whole scans,"
              + " %,d queries%n",
          load.history().size(), load.history().keys(), load.failed(), scans.get(), queries.get());
      assertThat(scanFailures).as("scans and queries through three elections").isEmpty();
      assertThat(queries.get()).isPositive();
      assertThat(scans.get()).isPositive();
      assertThat(load.history().violations()).isEmpty();
      assertThat(load.lostWrites()).isEmpty();
    }
  }

  @Test
  void frozenLeader_thawedAfterAnElection_neverServesAsLeader() throws Exception {
    cluster = LocalCluster.startGroups("replication-freeze", 1, 3);
    try (ShardClient client = client()) {
      client.put("frozen", "old");
      HistoryWorkload load = new HistoryWorkload(client, 100, 4);
      load.start();
      awaitAcknowledged(load, 300);
      String leader = awaitLeader(client, "node-1", "");
      String oldAddress = node(client, "node-1").address();
      cluster.process(leader).freeze();
      try {
        awaitLeader(client, "node-1", leader);
        client.put("frozen", "new");
        awaitAcknowledged(load, 100);
      } finally {
        cluster.process(leader).thaw();
      }
      // Straight to the deposed leader, the moment it runs again: it must refuse (NOT_LEADER),
      // or answer with what the group has committed; never the value it held when frozen.
      ManagedChannel channel = NettyChannelBuilder.forTarget(oldAddress).usePlaintext().build();
      try {
        var stub = ShardNodeGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
        ByteString key = ByteString.copyFromUtf8("frozen");
        try {
          GetResponse read = stub.get(GetRequest.newBuilder().setKey(key).build());
          assertThat(read.getValue().toStringUtf8()).isEqualTo("new");
        } catch (StatusRuntimeException refused) {
          assertThat(StatusErrors.fromStatus(refused).code()).isEqualTo(ErrorCode.NOT_LEADER);
        }
        boolean written;
        try {
          var unused =
              ShardNodeGrpc.newBlockingStub(channel)
                  .withDeadlineAfter(10, TimeUnit.SECONDS)
                  .put(
                      PutRequest.newBuilder()
                          .setKey(key)
                          .setValue(ByteString.copyFromUtf8("from-the-old-leader"))
                          .build());
          written = true;
        } catch (StatusRuntimeException refused) {
          assertThat(StatusErrors.fromStatus(refused).code()).isEqualTo(ErrorCode.NOT_LEADER);
          written = false;
        }
        // A write it acknowledged went through the group's log (it led again): then it is there.
        assertThat(client.get("frozen")).contains(written ? "from-the-old-leader" : "new");
      } finally {
        channel.shutdownNow();
      }
      awaitCaughtUp(client, "node-1", 3);
      load.close();
      assertThat(load.history().violations()).isEmpty();
      assertThat(load.lostWrites()).isEmpty();
    }
  }

  // Snapshots every 300 entries and small log segments: the log a new or wiped replica would need
  // is deleted, so it must install the leader's store, then catch up from the log.
  private static final List<String> COMPACTING =
      List.of(
          "-Draft.server.snapshot.auto.trigger.threshold=300",
          "-Draft.server.log.purge.preservation.log.num=50",
          "-Draft.server.log.purge.gap=50",
          "-Draft.server.log.segment.size.max=16KB");

  @Test
  void replicaWithItsDataDirectoryDeleted_installsTheLeadersStore_keyForKey() throws Exception {
    cluster = LocalCluster.startGroups("replication-wipe", 1, 3, List.of(), COMPACTING);
    try (ShardClient client = client()) {
      for (int i = 0; i < 2_000; i++) {
        client.put("key-" + i, "value-" + i);
      }
      String leader = awaitLeader(client, "node-1", "");
      assertThat(logSegments(cluster.dataDir(leader)))
          .as("the log's first entries are gone")
          .noneMatch(name -> name.startsWith("log_0-"));
      String wiped =
          Stream.of("a", "b", "c")
              .map(replica -> "node-1-" + replica)
              .filter(name -> !name.equals(leader))
              .findFirst()
              .orElseThrow();
      cluster.kill(wiped);
      FileTrees.delete(cluster.dataDir(wiped));
      for (int i = 2_000; i < 2_500; i++) {
        client.put("key-" + i, "value-" + i);
      }
      cluster.restart(wiped);
      // No write now: an idle group rebuilds the replica too.
      cluster.process(wiped).awaitLog("installed the leader's store", Duration.ofSeconds(60));
      for (int i = 2_500; i < 2_600; i++) {
        client.put("key-" + i, "value-" + i);
      }
      awaitCaughtUp(client, "node-1", 3);
      // Every replica stopped: their stores, read straight from disk, hold the same keys.
      for (String replica : List.of("node-1-a", "node-1-b", "node-1-c")) {
        cluster.process(replica).stop();
      }
      Map<String, String> rebuilt = storedData(cluster.dataDir(wiped));
      assertThat(rebuilt).hasSize(2_600);
      assertThat(rebuilt).isEqualTo(storedData(cluster.dataDir(leader)));
      for (String replica : List.of("node-1-a", "node-1-b", "node-1-c")) {
        cluster.restart(replica);
      }
      awaitLeader(client, "node-1", "");
      for (int i = 0; i < 2_600; i++) {
        assertThat(client.get("key-" + i)).contains("value-" + i);
      }
    }
  }

  @Test
  void aReplicaDownPastReplaceAfter_isReplacedByASpare_thatKeepsItsPlaceAcrossARestart()
      throws Exception {
    cluster =
        LocalCluster.startGroups(
            "replication-repair", 1, 3, List.of("--replace-after", "3"), COMPACTING);
    try (ShardClient client = client()) {
      for (int i = 0; i < 1_500; i++) {
        client.put("key-" + i, "value-" + i);
      }
      cluster.startSpare("spare-1", List.of("--zone", "z9"));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> client.admin().repairs().spares().size() == 1);
      String leader = awaitLeader(client, "node-1", "");
      List<String> followers =
          Stream.of("a", "b", "c")
              .map(replica -> "node-1-" + replica)
              .filter(name -> !name.equals(leader))
              .toList();
      String dead = followers.get(0);
      String deadId = dead.substring("node-1-".length());
      cluster.kill(dead);

      ClusterAdmin.RepairInfo[] done = new ClusterAdmin.RepairInfo[1];
      await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(250))
          .until(
              () -> {
                List<ClusterAdmin.RepairInfo> repairs = client.admin().repairs().repairs();
                assertThat(repairs).noneMatch(r -> r.phase().equals("FAILED"));
                done[0] =
                    repairs.stream()
                        .filter(r -> r.deadReplica().equals(deadId) && r.phase().equals("DONE"))
                        .findFirst()
                        .orElse(null);
                return done[0] != null;
              });
      String newId = done[0].newReplica();
      assertThat(newId).isEqualTo("d");
      assertThat(client.admin().repairs().spares()).as("the spare is taken").isEmpty();
      cluster.process("spare-1").awaitLog("installed the leader's store", Duration.ofSeconds(30));
      for (int i = 1_500; i < 1_600; i++) {
        client.put("key-" + i, "value-" + i);
      }
      awaitCaughtUp(client, "node-1", 3);
      assertThat(node(client, "node-1").replicas())
          .extracting(ReplicaInfo::replicaId)
          .containsExactlyInAnyOrderElementsOf(
              Stream.of("a", "b", "c", "d").filter(id -> !id.equals(deadId)).toList());
      assertThat(node(client, "node-1").replicas())
          .filteredOn(replica -> replica.replicaId().equals("d"))
          .extracting(ReplicaInfo::zone)
          .containsExactly("z9");
      Shardctl.Result listed = cluster.shardctl("repairs");
      assertThat(listed.exitCode()).isZero();
      assertThat(listed.out()).contains("DONE").contains(deadId).contains("d@127.0.0.1:");

      // Restarted with the same command line, the adopted spare runs as replica d again.
      cluster.kill("spare-1");
      cluster.restart("spare-1");
      cluster.process("spare-1").awaitLog("replica d", Duration.ofSeconds(30));
      awaitCaughtUp(client, "node-1", 3);
      // With the other original follower gone too, the leader and the adopted spare are the
      // group's majority: every key is read and a write is acknowledged.
      cluster.kill(followers.get(1));
      for (int i = 0; i < 1_600; i++) {
        assertThat(client.get("key-" + i)).contains("value-" + i);
      }
      client.put("key-1600", "value-1600");
      assertThat(client.get("key-1600")).contains("value-1600");
    }
  }

  /** The replica id of the group's leader, once the coordinator routes to it. */
  private static String leaderId(ShardClient client, String node) {
    return awaitLeader(client, node, "").substring(node.length() + 1);
  }

  private static void awaitLeaderIs(ShardClient client, String node, String replica) {
    await()
        .atMost(Duration.ofSeconds(45))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> leaderId(client, node).equals(replica));
  }

  @Test
  void aLeaderPinnedToAZone_movesThere_andComesBackAfterATransferAndAFailover() throws Exception {
    cluster = LocalCluster.start("replication-pin", 0, List.of());
    cluster.addGroup("node-1", 3, List.of(), List.of("z1", "z2", "z3"));
    cluster.awaitUp(1);
    try (ShardClient client = client()) {
      for (int i = 0; i < 300; i++) {
        client.put("key-" + i, "value-" + i);
      }
      String first = leaderId(client, "node-1");
      // Pin the leader to the zone of a replica that does not lead: b in z2, or c in z3.
      String pinned = first.equals("b") ? "c" : "b";
      String zone = pinned.equals("b") ? "z2" : "z3";
      String other =
          Stream.of("a", "b", "c")
              .filter(id -> !id.equals(pinned) && !id.equals(first))
              .findFirst()
              .orElseThrow();

      Shardctl.Result pin = cluster.shardctl("replicas", "pin", "node-1", zone);
      assertThat(pin.exitCode()).as(pin.err()).isZero();
      awaitLeaderIs(client, "node-1", pinned);
      assertThat(node(client, "node-1").leaderZone()).isEqualTo(zone);
      assertThat(cluster.shardctl("nodes").out()).contains("node-1: leader pinned to zone " + zone);

      // Handed elsewhere by hand, the leadership goes back into the zone.
      client.admin().transferLeader("node-1", other);
      awaitLeaderIs(client, "node-1", pinned);

      // The pinned replica dies: another leads meanwhile (health says so), and once it is back
      // and caught up it leads again.
      cluster.kill("node-1-" + pinned);
      String meanwhile = awaitLeader(client, "node-1", "node-1-" + pinned);
      assertThat(meanwhile).isNotEqualTo("node-1-" + pinned);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  client.admin().health().checks().stream()
                      .anyMatch(
                          check ->
                              check.name().equals("zones")
                                  && check.detail().contains("leader is pinned to " + zone)));
      cluster.restart("node-1-" + pinned);
      awaitLeaderIs(client, "node-1", pinned);
      for (int i = 0; i < 300; i++) {
        assertThat(client.get("key-" + i)).contains("value-" + i);
      }

      Shardctl.Result unknown = cluster.shardctl("replicas", "pin", "node-9", "z1");
      assertThat(unknown.exitCode()).as("the operation failed").isEqualTo(3);
      assertThat(unknown.err()).contains("no node node-9");
      assertThat(cluster.shardctl("replicas", "unpin", "node-1").exitCode()).isZero();
      assertThat(node(client, "node-1").leaderZone()).isEmpty();
    }
  }

  @Test
  void aDeadReplica_replacedByANewProcess_installsTheStore_andTheGroupForgetsIt() throws Exception {
    cluster = LocalCluster.startGroups("replication-replace", 1, 3, List.of(), COMPACTING);
    try (ShardClient client = client()) {
      for (int i = 0; i < 1_500; i++) {
        client.put("key-" + i, "value-" + i);
      }
      String leader = awaitLeader(client, "node-1", "");
      String dead =
          Stream.of("a", "b", "c")
              .map(replica -> "node-1-" + replica)
              .filter(name -> !name.equals(leader))
              .findFirst()
              .orElseThrow();
      String deadId = dead.substring("node-1-".length());
      cluster.kill(dead);
      assertThatThrownBy(
              () ->
                  client
                      .admin()
                      .replaceReplica(
                          "node-1", leader.substring("node-1-".length()), "x@127.0.0.1:1/2"))
          .as("the leader is not replaced while it leads")
          .hasMessageContaining("leads the group");
      assertThatThrownBy(() -> client.admin().replaceReplica("node-1", "zz", "x@127.0.0.1:1/2"))
          .hasMessageContaining("has no replica zz");

      String added = cluster.startReplacement("node-1", deadId, "d", COMPACTING);
      List<String> members = client.admin().replaceReplica("node-1", deadId, added);
      assertThat(members)
          .hasSize(3)
          .contains(added)
          .noneMatch(member -> member.startsWith(deadId + "@"));
      for (int i = 1_500; i < 1_600; i++) {
        client.put("key-" + i, "value-" + i);
      }
      cluster.process("node-1-d").awaitLog("installed the leader's store", Duration.ofSeconds(60));
      awaitCaughtUp(client, "node-1", 3);
      assertThat(node(client, "node-1").replicas())
          .extracting(ReplicaInfo::replicaId)
          .as("the dead replica is no longer listed")
          .containsExactlyInAnyOrderElementsOf(
              Stream.of("a", "b", "c", "d").filter(id -> !id.equals(deadId)).toList());

      // Every member stopped: the new one's store, read straight from disk, is the leader's.
      List<String> live =
          Stream.of("a", "b", "c", "d")
              .filter(id -> !id.equals(deadId))
              .map(id -> "node-1-" + id)
              .toList();
      for (String replica : live) {
        cluster.process(replica).stop();
      }
      Map<String, String> replaced = storedData(cluster.dataDir("node-1-d"));
      assertThat(replaced).hasSize(1_600);
      assertThat(replaced).isEqualTo(storedData(cluster.dataDir(leader)));
      for (String replica : live) {
        cluster.restart(replica);
      }
      awaitLeader(client, "node-1", "");
      for (int i = 0; i < 1_600; i++) {
        assertThat(client.get("key-" + i)).contains("value-" + i);
      }
    }
  }

  @Test
  void drainBetweenGroups_withATargetFollowerAndTheCoordinatorKilled_losesNothing()
      throws Exception {
    // Throttled, so that the move is still running when the processes die.
    cluster =
        LocalCluster.startGroups(
            "replication-move", 2, 3, List.of("--throttle-bytes", "300000", "--balancer", "off"));
    try (ShardClient client = client()) {
      String value = "v".repeat(100);
      for (int i = 0; i < 10_000; i++) {
        client.put("key-" + i, value + i);
      }
      HistoryWorkload load = new HistoryWorkload(client, 100, 4);
      load.start();
      awaitAcknowledged(load, 200);
      assertThat(client.admin().drain("node-2")).isNotEmpty();
      String target = awaitLeader(client, "node-1", "");
      String follower = target.endsWith("-a") ? "node-1-b" : "node-1-a";
      cluster.kill(follower);
      cluster.kill("coordinator");
      cluster.restart("coordinator");
      cluster.restart(follower);
      await()
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> node(client, "node-2").memberState() == NodeState.REMOVED);
      awaitAcknowledged(load, 100);
      load.close();
      assertThat(load.history().violations()).isEmpty();
      assertThat(load.lostWrites()).isEmpty();
      for (int i = 0; i < 10_000; i++) {
        assertThat(client.get("key-" + i)).contains(value + i);
      }
      assertThat(cluster.storedKeys("node-1")).isGreaterThanOrEqualTo(10_000);
    }
  }

  /** The data column family of a stopped replica's store, as stored key to value. */
  private static Map<String, String> storedData(Path dataDir) throws Exception {
    Path db = dataDir.resolve("db");
    List<ColumnFamilyDescriptor> families = new ArrayList<>();
    try (Options options = new Options()) {
      for (byte[] name : RocksDB.listColumnFamilies(options, db.toString())) {
        families.add(new ColumnFamilyDescriptor(name));
      }
    }
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    Map<String, String> data = new TreeMap<>();
    try (DBOptions options = new DBOptions();
        RocksDB store = RocksDB.openReadOnly(options, db.toString(), families, handles);
        RocksIterator it = store.newIterator(handles.get(0))) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        data.put(
            new String(it.key(), StandardCharsets.ISO_8859_1),
            new String(it.value(), StandardCharsets.ISO_8859_1));
      }
      it.status();
    } finally {
      handles.forEach(ColumnFamilyHandle::close);
    }
    return data;
  }

  /** The names of a replica's Raft log segment files. */
  private static List<String> logSegments(Path dataDir) throws IOException {
    try (Stream<Path> files = Files.walk(dataDir.resolve("raft"))) {
      return files
          .map(path -> path.getFileName().toString())
          .filter(name -> name.startsWith("log_"))
          .toList();
    }
  }
}
