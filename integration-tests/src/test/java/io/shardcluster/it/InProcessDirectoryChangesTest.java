package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.DirectoryChange;
import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.ShardClient;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.testing.InProcessCluster;
// Over 500 lines: each directory change runs under concurrent writes, which takes set-up.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * Directory moves, placements and removals as migrations under writes, on a real cluster in one
 * JVM.
 */
class InProcessDirectoryChangesTest extends InProcessRebalancingBase {
  @Test
  void directoryMove_movesAnEntrysKeysUnderWrites_andSwitchesTheEntryAtTheCommit()
      throws Exception {
    ShardClient client = startWithKeys(3, 0, false);
    byte[] prefix = "acme:".getBytes(StandardCharsets.UTF_8);
    client.admin().setDirectoryEntry(prefix, true, "node-1");
    int keys = 500;
    AtomicLongArray acked = new AtomicLongArray(keys);
    for (int i = 0; i < keys; i++) {
      client.put("acme:" + i, "0");
      client.put("other:" + i, "x");
    }
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    Thread writer =
        new Thread(
            () -> {
              for (long round = 1; !stop.get(); round++) {
                for (int i = 0; i < keys && !stop.get(); i++) {
                  try {
                    client.put("acme:" + i, Long.toString(round));
                    acked.set(i, round);
                  } catch (RuntimeException e) {
                    errors.add(e);
                  }
                }
              }
            });
    writer.start();

    MigrationInfo move = client.admin().moveDirectoryEntry("default", prefix, true, "node-2");
    assertThat(move.source()).isEqualTo("node-1");
    assertThat(move.target()).isEqualTo("node-2");
    assertThat(move.what()).isEqualTo("prefix acme:");
    cluster.awaitMigrations();
    stop.set(true);
    writer.join();

    assertThat(errors).isEmpty();
    RoutingTable table = client.refreshRoutingTable();
    assertThat(table.keyspace(Keyspace.DEFAULT).directory().entries())
        .extracting(io.shardcluster.routing.DirectoryEntry::owner)
        .containsExactly("node-2");
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned.get("node-2").stream().filter(k -> k.startsWith("acme:"))).hasSize(keys);
    assertThat(
            InProcessCluster.storedKeys(
                table.address("node-1").orElseThrow(), Keyspace.DEFAULT, "acme:", "acme;"))
        .isZero();
    for (int i = 0; i < keys; i++) {
      assertThat(Long.parseLong(client.get("acme:" + i).orElseThrow()))
          .as("acme:%d", i)
          .isGreaterThanOrEqualTo(acked.get(i));
      assertThat(client.get("other:" + i)).contains("x");
    }

    assertThatThrownBy(() -> client.admin().moveDirectoryEntry("default", prefix, true, "node-2"))
        .hasMessageContaining("already on node-2");
    assertThatThrownBy(() -> client.admin().moveDirectoryEntry("default", prefix, true, "node-9"))
        .hasMessageContaining("no node named node-9");
    assertThatThrownBy(
            () ->
                client
                    .admin()
                    .moveDirectoryEntry(
                        "default", "nope".getBytes(StandardCharsets.UTF_8), false, "node-3"))
        .hasMessageContaining("no directory entry for key 'nope'");
  }

  @Test
  void directorySet_onStoredKeys_movesThemToTheEntrysNode_underWritesAndCounts() throws Exception {
    ShardClient client = startWithKeys(3, 0, false);
    client.admin().setDirectoryEntry(bytes("acme:"), true, "node-1");
    List<String> written = new ArrayList<>();
    for (int i = 0; i < 250; i++) {
      written.add("acme:" + i);
      written.add("other:" + i);
    }
    for (int i = 0; i < 50; i++) {
      written.add("acme:vip:" + i);
    }
    written.add("hot");
    for (String key : written) {
      client.put(key, "0");
    }
    // Written on: the pinned key and the nested prefix's keys, each with increasing values.
    List<String> moving =
        written.stream().filter(k -> k.equals("hot") || k.startsWith("acme:vip:")).toList();
    AtomicLongArray acked = new AtomicLongArray(moving.size());
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    List<Long> counts = new CopyOnWriteArrayList<>();
    Thread writer =
        new Thread(
            () -> {
              for (long round = 1; !stop.get(); round++) {
                for (int i = 0; i < moving.size() && !stop.get(); i++) {
                  try {
                    client.put(moving.get(i), Long.toString(round));
                    acked.set(i, round);
                  } catch (RuntimeException e) {
                    errors.add(e);
                  }
                }
              }
            });
    Thread counter =
        new Thread(
            () -> {
              while (!stop.get()) {
                try {
                  counts.add(
                      client
                          .query("SELECT COUNT(*) FROM default")
                          .rows()
                          .get(0)
                          .get(0)
                          .longValue());
                } catch (RuntimeException e) {
                  errors.add(e);
                }
              }
            });
    writer.start();
    counter.start();

    // An exact key: it moves from its ring owner.
    String ringOwner = client.route(bytes("hot")).owner();
    String pinTo = ringOwner.equals("node-3") ? "node-2" : "node-3";
    DirectoryChange pinned = client.admin().setDirectoryEntry(bytes("hot"), false, pinTo);
    assertThat(pinned.migrations())
        .singleElement()
        .extracting(m -> m.source() + " -> " + m.target())
        .isEqualTo(ringOwner + " -> " + pinTo);
    cluster.awaitMigrations();
    // A prefix inside another prefix entry: its keys move from that entry's node.
    DirectoryChange nested = client.admin().setDirectoryEntry(bytes("acme:vip:"), true, "node-3");
    assertThat(nested.migrations()).singleElement().extracting(m -> m.source()).isEqualTo("node-1");
    cluster.awaitMigrations();
    long settledCounts = counts.size();
    await().atMost(Duration.ofSeconds(30)).until(() -> counts.size() > settledCounts);
    stop.set(true);
    writer.join();
    counter.join();

    assertThat(errors).isEmpty();
    assertThat(counts)
        .isNotEmpty()
        .allSatisfy(count -> assertThat(count).isEqualTo(written.size()));
    RoutingTable table = client.refreshRoutingTable();
    assertThat(table.keyspace(Keyspace.DEFAULT).directory().entries())
        .extracting(Object::toString)
        .containsExactlyInAnyOrder(
            "prefix acme: -> node-1", "prefix acme:vip: -> node-3", "key hot -> " + pinTo);
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned.get(pinTo)).contains("hot");
    assertThat(owned.get("node-3").stream().filter(k -> k.startsWith("acme:vip:"))).hasSize(50);
    assertThat(owned.get("node-1").stream().filter(k -> k.startsWith("acme:"))).hasSize(250);
    String ringAddress = table.address(ringOwner).orElseThrow();
    assertThat(InProcessCluster.storedKeys(ringAddress, Keyspace.DEFAULT, "hot", "hot\0")).isZero();
    assertThat(
            InProcessCluster.storedKeys(
                table.address("node-1").orElseThrow(), Keyspace.DEFAULT, "acme:vip:", "acme:vip;"))
        .isZero();
    for (int i = 0; i < moving.size(); i++) {
      assertThat(Long.parseLong(client.get(moving.get(i)).orElseThrow()))
          .as(moving.get(i))
          .isGreaterThanOrEqualTo(acked.get(i));
    }

    // Pinning a key where it is moves nothing.
    String otherOwner = client.route(bytes("other:7")).owner();
    DirectoryChange inPlace = client.admin().setDirectoryEntry(bytes("other:7"), false, otherOwner);
    assertThat(inPlace.migrations()).isEmpty();
    assertThat(inPlace.epoch()).isGreaterThan(table.epoch());

    // Unpinning moves the key back to its ring owner; that migration's commit removes the entry.
    DirectoryChange unpinned = client.admin().removeDirectoryEntry(bytes("hot"), false);
    assertThat(unpinned.migrations())
        .singleElement()
        .extracting(m -> m.source() + " -> " + m.target())
        .isEqualTo(pinTo + " -> " + ringOwner);
    cluster.awaitMigrations();
    assertThat(InProcessCluster.ownedKeys(client, Keyspace.DEFAULT).get(ringOwner)).contains("hot");
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries())
        .extracting(Object::toString)
        .doesNotContain("key hot -> " + ringOwner);
    assertThat(client.route(bytes("hot")).directoryEntry()).isEmpty();
    for (String key : written) {
      assertThat(client.get(key)).as(key).isPresent();
    }
  }

  @Test
  void directorySet_onPrefixesTheRingSpreads_movesTheirKeysFromEveryNode_withNewKeysWritten()
      throws Exception {
    ShardClient client = startWithKeys(3, 0, false);
    for (int i = 0; i < 300; i++) {
      client.put("t:" + i, "0");
    }
    // New keys under both prefixes all along: each acknowledged one must end on the entry's node,
    // including any written between the placement's look at the stored keys and its commit.
    WritesAndCounts load =
        new WritesAndCounts(client, 300, n -> (n % 2 == 0 ? "t:new:" : "u:") + n);
    load.awaitMore();

    // Stored keys on every node: one migration from each other node, committed together.
    DirectoryChange spread = client.admin().setDirectoryEntry(bytes("t:"), true, "node-1");
    assertThat(spread.migrations())
        .extracting(m -> m.source() + " -> " + m.target())
        .containsExactlyInAnyOrder("node-2 -> node-1", "node-3 -> node-1");
    cluster.awaitMigrations();
    List<String> ids = spread.migrations().stream().map(MigrationInfo::id).toList();
    List<MigrationInfo> ended =
        client.admin().migrations(true).stream().filter(m -> ids.contains(m.id())).toList();
    assertThat(ended).extracting(MigrationInfo::phase).containsExactly("DONE", "DONE");
    assertThat(ended)
        .extracting(MigrationInfo::committedMillis)
        .containsOnly(ended.get(0).committedMillis());
    // The same for a prefix whose keys are being written.
    DirectoryChange written = client.admin().setDirectoryEntry(bytes("u:"), true, "node-2");
    assertThat(written.migrations()).hasSize(2);
    cluster.awaitMigrations();
    // A prefix nobody writes: in effect on return, without any key stored anywhere.
    DirectoryChange empty = client.admin().setDirectoryEntry(bytes("v:"), true, "node-3");
    assertThat(empty.inEffect()).isTrue();
    assertThat(empty.migrations()).hasSize(2);
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries())
        .extracting(Object::toString)
        .contains("prefix v: -> node-3");
    load.awaitMore();
    load.close();

    RoutingTable table = client.refreshRoutingTable();
    assertThat(table.keyspace(Keyspace.DEFAULT).directory().entries())
        .extracting(Object::toString)
        .containsExactlyInAnyOrder(
            "prefix t: -> node-1", "prefix u: -> node-2", "prefix v: -> node-3");
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    List<String> expectedOnNode1 = new ArrayList<>();
    List<String> expectedOnNode2 = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      expectedOnNode1.add("t:" + i);
    }
    for (String key : load.acked) {
      (key.startsWith("t:") ? expectedOnNode1 : expectedOnNode2).add(key);
    }
    assertThat(owned.get("node-1")).containsExactlyInAnyOrderElementsOf(expectedOnNode1);
    assertThat(owned.get("node-2")).containsExactlyInAnyOrderElementsOf(expectedOnNode2);
    assertThat(owned.getOrDefault("node-3", List.of())).isEmpty();
    // Nothing left behind on the nodes the keys came from.
    for (String node : List.of("node-1", "node-2", "node-3")) {
      String address = table.address(node).orElseThrow();
      long t = InProcessCluster.storedKeys(address, Keyspace.DEFAULT, "t:", "t;");
      long u = InProcessCluster.storedKeys(address, Keyspace.DEFAULT, "u:", "u;");
      assertThat(t).as(node + " t:").isEqualTo(node.equals("node-1") ? expectedOnNode1.size() : 0);
      assertThat(u).as(node + " u:").isEqualTo(node.equals("node-2") ? expectedOnNode2.size() : 0);
    }
  }

  @Test
  void directorySet_aMemberCancelledJustBeforeTheCommit_rollsBackTheWholeGroup() throws Exception {
    // Every migration stops, fenced and checked, just before its commit while `release` is missing.
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeCommits(release, 4);
    writeTenantKeys(client);
    RoutingTable before = client.refreshRoutingTable();
    Map<String, List<String>> ownedBefore = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);

    DirectoryChange placing = placeTenantStopped(client, release);
    String cancelled = placing.migrations().get(1).id();
    client.admin().cancelMigration(cancelled);
    Files.createFile(release);
    cluster.awaitMigrations();

    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("directory set"))
        .extracting(m -> m.id() + " " + m.phase())
        .containsExactlyInAnyOrder(
            placing.migrations().get(0).id() + " CANCELLED", cancelled + " CANCELLED");
    RoutingTable after = client.refreshRoutingTable();
    assertThat(after.keyspace(Keyspace.DEFAULT).directory().entries()).isEmpty();
    assertThat(after.epoch()).isEqualTo(before.epoch());
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    for (String node : List.of("node-1", "node-2", "node-3")) {
      assertThat(owned.get(node))
          .as(node)
          .containsExactlyInAnyOrderElementsOf(ownedBefore.get(node));
      assertThat(
              InProcessCluster.storedKeys(
                  after.address(node).orElseThrow(), Keyspace.DEFAULT, "t:", "t;"))
          .as(node)
          .isEqualTo(owned.get(node).size());
    }
    for (int i = 0; i < 300; i++) {
      assertThat(client.get("t:" + i)).contains("v" + i);
    }
  }

  @Test
  void changesAskedForWhileMigrationsRun_waitForThemWithinTheirDeadline() throws Exception {
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeCommits(release, 4);
    for (int i = 0; i < 300; i++) {
      client.put("k" + i, "v" + i);
    }
    Files.delete(release);
    cluster.startJoining("node-4");
    awaitStoppedBeforeCommit(client, "join node-4", 3);

    // A change that cannot wait long enough is refused as before, and changes nothing.
    long epoch = client.refreshRoutingTable().epoch();
    ShardClient hasty = cluster.client(Duration.ofMillis(1500));
    assertThatThrownBy(() -> hasty.admin().drain("node-2"))
        .isInstanceOfSatisfying(
            ShardClusterException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION);
              assertThat(e.getMessage()).contains("migration(s) in progress");
            });
    assertThat(client.refreshRoutingTable().epoch()).isEqualTo(epoch);
    assertThat(cluster.nodes().get("node-2").state()).isEqualTo(NodeState.UP);

    // One that can waits for the join, then goes ahead.
    List<String> log = new CopyOnWriteArrayList<>();
    Handler handler =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            log.add(record.getMessage());
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Logger coordinatorLog = Logger.getLogger("io.shardcluster.coordinator.Cluster");
    coordinatorLog.addHandler(handler);
    try {
      ShardClient patient = cluster.client(Duration.ofSeconds(60));
      CompletableFuture<DirectoryChange> pinning =
          CompletableFuture.supplyAsync(
              () -> patient.admin().setDirectoryEntry(bytes("k7"), false, "node-4"));
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(20))
          .until(
              () -> log.contains("directory set: waiting for the migrations in progress to end"));
      assertThat(pinning).isNotDone();
      Files.createFile(release);
      DirectoryChange pinned = pinning.get(60, TimeUnit.SECONDS);
      assertThat(client.admin().migrations(true))
          .filteredOn(m -> m.reason().equals("join node-4"))
          .hasSize(3)
          .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
      cluster.awaitMigrations();
      assertThat(pinned.epoch()).isGreaterThan(epoch);
      assertThat(client.route(bytes("k7")).owner()).isEqualTo("node-4");
      assertThat(client.get("k7")).contains("v7");
    } finally {
      coordinatorLog.removeHandler(handler);
    }
  }

  @Test
  void groupCutover_whoseMemberCannotFence_isRolledBack_andTheOtherMembersKeysCanBeWrittenAgain()
      throws Exception {
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeFences(release);
    writeTenantKeys(client);
    RoutingTable before = client.refreshRoutingTable();
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);

    DirectoryChange placing = placeTenantStopped(client, release);
    // node-2's member fences and waits for node-3's, which cannot fence: node-3 is gone.
    cluster.stopNode("node-3");
    Files.createFile(release);

    for (MigrationInfo member : placing.migrations()) {
      assertThat(awaitFinished(client, member.id()).phase()).isEqualTo("CANCELLED");
    }
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("directory set"))
        .extracting(MigrationInfo::lastError)
        .anySatisfy(error -> assertThat(error).contains("cutover was held up"));
    RoutingTable after = client.refreshRoutingTable();
    assertThat(after.epoch()).isEqualTo(before.epoch());
    assertThat(after.keyspace(Keyspace.DEFAULT).directory().entries()).isEmpty();
    // node-2's keys of the prefix are readable and writable again without node-3.
    List<String> onNode2 =
        owned.get("node-2").stream().filter(key -> key.startsWith("t:")).toList();
    assertThat(onNode2).isNotEmpty();
    for (String key : onNode2) {
      client.put(key, "again");
      assertThat(client.get(key)).contains("again");
    }
  }

  @Test
  void directoryRemove_ofAPrefixTheRingWouldSpread_movesItsKeysToTheirRingOwners_withNewKeys()
      throws Exception {
    ShardClient client = startWithKeys(3, 0, false);
    assertThat(client.admin().setDirectoryEntry(bytes("t:"), true, "node-1").inEffect()).isTrue();
    for (int i = 0; i < 300; i++) {
      client.put("t:" + i, "0");
    }
    WritesAndCounts load = new WritesAndCounts(client, 300, n -> "t:new:" + n);
    load.awaitMore();

    // Each other node takes the keys the ring gives it; their commit removes the entry.
    DirectoryChange removal = client.admin().removeDirectoryEntry(bytes("t:"), true);
    assertThat(removal.migrations())
        .extracting(m -> m.source() + " -> " + m.target())
        .containsExactlyInAnyOrder("node-1 -> node-2", "node-1 -> node-3");
    cluster.awaitMigrations();
    load.awaitMore();
    load.close();

    RoutingTable table = client.refreshRoutingTable();
    assertThat(table.keyspace(Keyspace.DEFAULT).directory().entries()).isEmpty();
    List<String> expected = new ArrayList<>(load.acked);
    for (int i = 0; i < 300; i++) {
      expected.add("t:" + i);
    }
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned.values().stream().flatMap(List::stream))
        .containsExactlyInAnyOrderElementsOf(expected);
    for (String node : List.of("node-1", "node-2", "node-3")) {
      assertThat(owned.get(node))
          .as(node)
          .allMatch(k -> table.ownerOf(Keyspace.DEFAULT, bytes(k)).equals(node))
          .isNotEmpty();
      // Nothing left behind on node-1.
      assertThat(
              InProcessCluster.storedKeys(
                  table.address(node).orElseThrow(), Keyspace.DEFAULT, "t:", "t;"))
          .as(node)
          .isEqualTo(owned.get(node).size());
    }
    // An entry with nothing stored goes in effect on return.
    assertThat(client.admin().setDirectoryEntry(bytes("v:"), true, "node-2").inEffect()).isTrue();
    DirectoryChange emptyRemoval = client.admin().removeDirectoryEntry(bytes("v:"), true);
    assertThat(emptyRemoval.inEffect()).isTrue();
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries())
        .isEmpty();
  }
}
