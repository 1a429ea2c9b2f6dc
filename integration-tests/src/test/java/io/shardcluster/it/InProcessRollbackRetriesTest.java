package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.ClusterHealth;
import io.shardcluster.client.DirectoryChange;
import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.NodeInfo;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.ShardClient;
import io.shardcluster.coordinator.CoordinatorConfig;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.server.Failpoints;
import io.shardcluster.testing.InProcessCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Moves that failures roll back, and how joins, drains and directory changes try them again, on a
 * real cluster in one JVM.
 */
class InProcessRollbackRetriesTest extends InProcessRebalancingBase {
  @Test
  void cutover_whoseTargetStopsAnsweringAfterTheFence_isRolledBack_andTriedAgainOnceItIsBack()
      throws Exception {
    RolledBackPinning pinning = pinThenStopTheTargetAtTheFence();
    ShardClient client = pinning.client();
    String source = pinning.source();
    String target = pinning.target();
    MigrationInfo rolledBack = pinning.rolledBack();
    // The coordinator tries the change again once the target answers: health shows it, as
    // nothing an operator has to do.
    ClusterHealth.Check migrations = healthCheck(client, "migrations");
    assertThat(migrations.status()).isEqualTo(ClusterHealth.Status.OK);
    assertThat(migrations.detail())
        .contains(rolledBack.id() + " (directory set: key pinned) was rolled back")
        .contains("the coordinator tries it again")
        .endsWith("(attempt 2 of 5)");
    assertThat(client.get("pinned")).contains("v0");
    client.put("pinned", "v1");
    assertThat(client.get("pinned")).contains("v1");
    assertThat(client.refreshRoutingTable().epoch()).isEqualTo(pinning.epoch());
    assertThat(client.admin().migrations(false)).isEmpty();

    // A change of another entry made meanwhile, with a migration of its own, does not answer it.
    String elsewhere =
        IntStream.range(0, 100)
            .mapToObj(i -> "elsewhere" + i)
            .filter(k -> !client.route(bytes(k)).owner().equals(target))
            .findFirst()
            .orElseThrow();
    client.put(elsewhere, "e");
    String owner = client.route(bytes(elsewhere)).owner();
    String third =
        Stream.of("node-1", "node-2", "node-3")
            .filter(n -> !n.equals(source) && !n.equals(target))
            .findFirst()
            .orElseThrow();
    DirectoryChange moved =
        client
            .admin()
            .setDirectoryEntry(bytes(elsewhere), false, owner.equals(source) ? third : source);
    assertThat(moved.migrations()).hasSize(1);
    cluster.awaitMigrations();
    assertThat(healthCheck(client, "migrations").detail())
        .contains(rolledBack.id() + " (directory set: key pinned) was rolled back")
        .endsWith("(attempt 2 of 5)");

    // Back, the target gets the key: the change is made by its second try.
    cluster.restartNode(target);
    MigrationInfo retried =
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(50))
            .until(
                () ->
                    client.admin().migrations(true).stream()
                        .filter(m -> m.reason().equals("directory set") && m.attempt() == 2)
                        .findFirst(),
                m -> m.isPresent() && m.get().ended())
            .orElseThrow();
    assertThat(retried.phase()).isEqualTo("DONE");
    assertThat(retried.target()).isEqualTo(target);
    assertThat(client.route(bytes("pinned")).owner()).isEqualTo(target);
    assertThat(client.get("pinned")).contains("v1");
    RoutingTable after = client.refreshRoutingTable();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(
            () ->
                assertThat(
                        InProcessCluster.storedKeys(
                            after.address(source).orElseThrow(),
                            Keyspace.DEFAULT,
                            "pinned",
                            "pinnee"))
                    .isZero());
    assertThat(healthCheck(client, "migrations").status()).isEqualTo(ClusterHealth.Status.OK);
  }

  @Test
  void directoryChange_rolledBack_thenAnsweredByAChangeMadeAtOnce_isNotTriedAgain()
      throws Exception {
    RolledBackPinning pinning = pinThenStopTheTargetAtTheFence();
    ShardClient client = pinning.client();
    String source = pinning.source();

    // The operator changes their mind: the key is pinned where it is, which moves nothing.
    DirectoryChange back = client.admin().setDirectoryEntry(bytes("pinned"), false, source);
    assertThat(back.migrations()).isEmpty();
    assertThat(healthCheck(client, "migrations"))
        .isEqualTo(new ClusterHealth.Check("migrations", ClusterHealth.Status.OK, "none running"));
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.id().equals(pinning.rolledBack().id()))
        .singleElement()
        .satisfies(m -> assertThat(m.superseded()).isTrue());

    // The target back, the rolled back change is not made after all.
    cluster.restartNode(pinning.target());
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> cluster.nodes().get(pinning.target()).state() == NodeState.UP);
    assertNoSecondTry(client);
    assertThat(client.route(bytes("pinned")).owner()).isEqualTo(source);
    assertThat(
            client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries().stream()
                .map(DirectoryEntry::owner))
        .containsExactly(source);
    assertThat(client.get("pinned")).contains("v0");
  }

  @Test
  void directoryChange_rolledBack_whoseTargetIsThenRemovedByForce_isNotTriedAgain()
      throws Exception {
    RolledBackPinning pinning = pinThenStopTheTargetAtTheFence();
    ShardClient client = pinning.client();
    String target = pinning.target();

    client.admin().removeNode(target, true);
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(
            () ->
                assertThat(healthCheck(client, "migrations"))
                    .isEqualTo(
                        new ClusterHealth.Check(
                            "migrations",
                            ClusterHealth.Status.OK,
                            "none running; "
                                + pinning.rolledBack().id()
                                + " (directory set: key pinned) was rolled back; not tried again: "
                                + target
                                + " was removed")));
    // The key stays where it was, without an entry; nothing was tried again.
    assertThat(client.route(bytes("pinned")).owner()).isEqualTo(pinning.source());
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries())
        .isEmpty();
    assertThat(client.get("pinned")).contains("v0");
    assertNoSecondTry(client);
  }

  @Test
  void drain_whoseCutoverIsRolledBack_triesAgainByItself_andRemovesTheNode() throws Exception {
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeFences(release);
    writeKeys(client, 900);

    Files.delete(release);
    List<MigrationInfo> first = client.admin().drain("node-1");
    assertThat(first).extracting(MigrationInfo::target).containsExactly("node-2", "node-3");
    awaitStoppedBeforeCommit(client, "drain node-1", 2);
    // node-3 is gone once node-1 has fenced: that move is rolled back after the cutover timeout,
    // the other commits.
    cluster.stopNode("node-3");
    Files.createFile(release);
    MigrationInfo rolledBack = awaitFinished(client, first.get(1).id());
    assertThat(rolledBack.phase()).isEqualTo("CANCELLED");
    assertThat(rolledBack.lastError()).contains("cutover was held up");
    assertThat(awaitFinished(client, first.get(0).id()).phase()).isEqualTo("DONE");
    assertThat(cluster.nodes().get("node-1").state()).isEqualTo(NodeState.DRAINING);

    // Nobody runs drain again: the coordinator plans the rest of it after a delay.
    cluster.restartNode("node-3");
    cluster.awaitState("node-1", NodeState.REMOVED);
    assertAllReadable(client, 900);
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned).doesNotContainKey("node-1");
    assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(900);
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("drain node-1") && m.attempt() == 2)
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
  }

  @Test
  void drain_whoseMoveAnOperatorCancels_staysStoppedAndSaysSo_untilRunAgain() throws Exception {
    Path release = Files.createFile(dir.resolve("release"));
    ShardClient client = startStoppingBeforeCommits(release, 4);
    writeKeys(client, 900);

    Files.delete(release);
    List<MigrationInfo> first = client.admin().drain("node-1");
    awaitStoppedBeforeCommit(client, "drain node-1", 2);
    client.admin().cancelMigration(first.get(1).id());
    Files.createFile(release);
    MigrationInfo cancelled = awaitFinished(client, first.get(1).id());
    assertThat(cancelled.phase()).isEqualTo("CANCELLED");
    assertThat(cancelled.rolledBackByFailure()).isFalse();
    assertThat(awaitFinished(client, first.get(0).id()).phase()).isEqualTo("DONE");

    // Not tried again: the node says what it waits for.
    NodeInfo stopped =
        await()
            .atMost(Duration.ofSeconds(10))
            .pollInterval(Duration.ofMillis(50))
            .until(() -> cluster.nodes().get("node-1"), NodeInfo::stopped);
    assertThat(stopped.state()).isEqualTo(NodeState.DRAINING);
    assertThat(stopped.note())
        .isEqualTo(
            "drain stopped: an operator cancelled one of its moves; run `shardctl drain node-1`"
                + " to go on");
    assertThat(cluster.nodes().get("node-2").note()).isEmpty();
    assertThat(client.admin().migrations(false)).isEmpty();

    client.admin().drain("node-1");
    cluster.awaitState("node-1", NodeState.REMOVED);
    assertThat(cluster.nodes().get("node-1").stopped()).isFalse();
    assertAllReadable(client, 900);
  }

  @Test
  void drain_toANodeThatStaysDown_isRolledBackAfterTheTargetDownTimeout_andFinishesWithoutIt()
      throws Exception {
    cluster =
        new InProcessCluster(
            dir,
            InProcessCluster.config(
                dir,
                4,
                Failpoints.none(),
                CoordinatorConfig.DEFAULT_CUTOVER_TIMEOUT,
                Duration.ofSeconds(3)));
    for (int i = 1; i <= 3; i++) {
      cluster.addNode("node-" + i);
    }
    ShardClient client = cluster.client();
    writeKeys(client, 900);

    // Gone, but not yet DOWN (that takes the 2 s heartbeat timeout): the drain plans a move to it,
    // whose copy cannot start.
    cluster.stopNode("node-3");
    List<MigrationInfo> first = client.admin().drain("node-1");
    MigrationInfo toTheGoneNode =
        first.stream().filter(m -> m.target().equals("node-3")).findFirst().orElseThrow();

    MigrationInfo rolledBack = awaitFinished(client, toTheGoneNode.id());
    assertThat(rolledBack.phase()).isEqualTo("CANCELLED");
    assertThat(rolledBack.lastError()).contains("node-3 was DOWN for over 3 s");
    // The drain tries again, over the nodes that answer.
    cluster.awaitState("node-1", NodeState.REMOVED);
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("drain node-1") && m.attempt() == 2)
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.target()).isEqualTo("node-2"));
    cluster.restartNode("node-3");
    assertAllReadable(client, 900);
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned).doesNotContainKey("node-1");
    assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(900);
  }

  @Test
  void join_whoseCutoversAreRolledBack_triesAgainOnceTheNodeIsBack_andGivesItItsShare()
      throws Exception {
    joinNode4ThenRollItBackWhileItIsAway();
    ShardClient client = cluster.client();
    long epoch = client.refreshRoutingTable().epoch();
    // Not UP with nothing: still joining, and nothing changed owner.
    // Silent, it shows as DOWN; its membership stays JOINING (not UP with nothing).
    NodeInfo silent =
        await()
            .atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofMillis(50))
            .until(() -> cluster.nodes().get("node-4"), n -> n.state() == NodeState.DOWN);
    assertThat(silent.memberState()).isEqualTo(NodeState.JOINING);
    assertThat(cluster.nodes().get("node-4").note())
        .startsWith("a failure rolled back its moves; trying again")
        .endsWith("(attempt 2 of 5)");
    assertThat(client.refreshRoutingTable().epoch()).isEqualTo(epoch);

    // Back, the node gets the moves again and joins with its whole share.
    cluster.restartNode("node-4");
    assertAllReadable(client, 900);
    assertThat(client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).ring().shares())
        .hasEntrySatisfying("node-4", share -> assertThat(share).isBetween(0.15, 0.35));
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("join node-4") && m.attempt() == 2)
        .hasSize(3)
        .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"));
  }

  @Test
  void join_whoseSourceIsDrainedBeforeItsRetry_getsThatShareFromTheNewOwners() throws Exception {
    double planned =
        joinNode4ThenRollItBackWhileItIsAway().stream().mapToDouble(MigrationInfo::share).sum();
    ShardClient client = cluster.client();

    // While node-4 is away, one of its sources is drained: what node-4 was to get from node-1 is
    // now node-2's and node-3's.
    client.admin().drain("node-1");
    cluster.awaitState("node-1", NodeState.REMOVED);
    cluster.restartNode("node-4");
    cluster.awaitState("node-4", NodeState.UP);

    assertThat(
            client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).ring().shares().get("node-4"))
        .isCloseTo(planned, within(1e-9));
    assertThat(client.admin().migrations(true))
        .filteredOn(m -> m.reason().equals("join node-4") && m.attempt() == 2)
        .isNotEmpty()
        .allSatisfy(m -> assertThat(m.phase()).isEqualTo("DONE"))
        .extracting(MigrationInfo::source)
        .containsOnly("node-2", "node-3");
    assertAllReadable(client, 900);
    Map<String, List<String>> owned = InProcessCluster.ownedKeys(client, Keyspace.DEFAULT);
    assertThat(owned).doesNotContainKey("node-1");
    assertThat(owned.values().stream().mapToInt(List::size).sum()).isEqualTo(900);
  }
}
