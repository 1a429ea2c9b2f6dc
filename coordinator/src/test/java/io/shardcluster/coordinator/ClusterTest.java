package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.proto.v1.StrategyProto;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.RoutingTables;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterTest {
  @TempDir Path dir;

  private final LivenessTest.ManualClock clock = new LivenessTest.ManualClock();
  private final Liveness liveness = new Liveness(clock, Duration.ofSeconds(3));

  /** Keys each node "stores", as the probe reports them: node -> count. */
  private final Map<String, Long> stored = new HashMap<>();

  /** Nodes the probe cannot reach: asking them fails, as it does for a node that is down. */
  private final Set<String> unreachable = new HashSet<>();

  /** Session ids of the processes answering as each node. */
  private final Map<String, String> answering = new HashMap<>();

  private final DataProbe probe =
      new DataProbe() {
        @Override
        public long countKeys(
            String node, String address, String keyspace, ByteString start, ByteString end) {
          if (unreachable.contains(node)) {
            throw ShardClusterException.unavailable("cannot reach " + node);
          }
          return stored.getOrDefault(node, 0L);
        }

        @Override
        public Optional<String> session(String node, String address) {
          return Optional.ofNullable(answering.get(node));
        }
      };
  private MetadataStore store;
  private Cluster cluster;

  @BeforeEach
  void open() throws Exception {
    store = MetadataStore.open(dir);
    cluster = Cluster.open(store, liveness, probe);
  }

  @AfterEach
  void close() {
    store.close();
  }

  private static ShardClusterException failure(Runnable action) {
    try {
      action.run();
    } catch (ShardClusterException e) {
      return e;
    }
    throw new AssertionError("expected a failure");
  }

  @Test
  void register_firstNodeOwnsEverything_laterOnesJoinWithoutOwningYet() {
    long start = cluster.routing().epoch();
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    cluster.membership().register("n2", "127.0.0.1:2", "i2");
    RoutingTable table = cluster.membership().register("n3", "127.0.0.1:3", "i3");

    assertThat(table.nodeAddresses()).containsOnlyKeys("n1", "n2", "n3");
    assertThat(table.epoch()).isEqualTo(start + 3);
    assertThat(table.keyspace(Keyspace.DEFAULT).ring().shares()).containsOnlyKeys("n1");
    assertThat(cluster.state().member("n1").orElseThrow().getState()).isEqualTo(NodeStateProto.UP);
    assertThat(cluster.state().member("n2").orElseThrow().getState())
        .isEqualTo(NodeStateProto.JOINING);
  }

  @Test
  void register_removedNodeWithItsOldDataDir_isRefused() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    cluster.membership().register("n2", "127.0.0.1:2", "i2");
    cluster.update(
        s ->
            s.withMember(
                s.member("n2").orElseThrow().toBuilder().setState(NodeStateProto.REMOVED).build()));

    ShardClusterException e =
        failure(() -> cluster.membership().register("n2", "127.0.0.1:2", "i2"));
    assertThat(e.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION);
    assertThat(e).hasMessageContaining("was removed from the cluster");
    // On a new data dir the id may join again.
    assertThat(cluster.membership().register("n2", "127.0.0.1:2", "fresh").nodeAddresses())
        .containsKey("n2");
  }

  @Test
  void register_restartSameInstance_keepsEpoch_newAddressBumpsIt() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    long epoch = cluster.routing().epoch();

    assertThat(cluster.membership().register("n1", "127.0.0.1:1", "i1").epoch()).isEqualTo(epoch);
    RoutingTable moved = cluster.membership().register("n1", "127.0.0.1:9", "i1");
    assertThat(moved.epoch()).isEqualTo(epoch + 1);
    assertThat(moved.address("n1")).contains("127.0.0.1:9");
    assertThat(moved.keyspace(Keyspace.DEFAULT).ring().ownerOf(0)).isEqualTo("n1");
  }

  @Test
  void register_sameIdOtherInstanceWhileUp_isAlreadyExists_andChangesNothing() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    RoutingTable before = cluster.routing();

    ShardClusterException e =
        failure(() -> cluster.membership().register("n1", "127.0.0.1:2", "impostor"));
    assertThat(e.code()).isEqualTo(ErrorCode.ALREADY_EXISTS);
    assertThat(e).hasMessageContaining("already in use by a live node at 127.0.0.1:1");
    assertThat(cluster.routing()).isEqualTo(before);
  }

  @Test
  void register_sameIdOtherInstanceWhileDown_isFailedPrecondition() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    clock.advance(Duration.ofSeconds(10));

    ShardClusterException e =
        failure(() -> cluster.membership().register("n1", "127.0.0.1:2", "other-dir"));
    assertThat(e.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION);
    assertThat(e).hasMessageContaining("belongs to another data directory");
  }

  @Test
  void register_badIdOrAddress_isInvalidArgument() {
    assertThat(failure(() -> cluster.membership().register("bad id", "127.0.0.1:1", "i")).code())
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(failure(() -> cluster.membership().register("n1", "nowhere", "i")).code())
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(cluster.routing().nodeAddresses()).isEmpty();
  }

  @Test
  void reopen_servesTheSameTableAndEpoch() throws Exception {
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    cluster.membership().register("n2", "127.0.0.1:2", "i2");
    cluster
        .directory()
        .setDirectoryEntry(
            Keyspace.DEFAULT, new DirectoryEntry(ByteString.copyFromUtf8("t:"), true, "n2"));
    RoutingTable before = cluster.routing();
    store.close();

    store = MetadataStore.open(dir);
    Cluster reopened = Cluster.open(store, liveness, probe);
    assertThat(reopened.routing()).isEqualTo(before);
    // The restarted node is recognised by its instance id, with no epoch change.
    assertThat(reopened.membership().register("n2", "127.0.0.1:2", "i2").epoch())
        .isEqualTo(before.epoch());
  }

  @Test
  void aCopyOfALiveNodesDirectory_isRefused_whileTheNodeStillAnswers() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1", "s1", "", RoutingTable.empty());
    answering.put("n1", "s1");

    ShardClusterException refused =
        failure(
            () ->
                cluster
                    .membership()
                    .register("n1", "127.0.0.1:9", "i1", "copy", "", RoutingTable.empty()));

    assertThat(refused.code()).isEqualTo(ErrorCode.ALREADY_EXISTS);
    assertThat(refused.getMessage()).contains("n1 is running at 127.0.0.1:1");
    assertThat(cluster.state().member("n1").orElseThrow().getAddress()).isEqualTo("127.0.0.1:1");
    // The live node goes on as before.
    assertThat(cluster.membership().heartbeat("n1", "i1", "s1", NodeStats.getDefaultInstance()))
        .isNotNull();
  }

  @Test
  void aRestartedNode_takesItsIdOver_whenTheOldProcessNoLongerAnswers() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1", "s1", "", RoutingTable.empty());

    // SIGKILLed and restarted at once, on another port: the heartbeat has not timed out yet,
    // but nothing answers as n1 at the old address.
    cluster.membership().register("n1", "127.0.0.1:2", "i1", "s2", "", RoutingTable.empty());

    assertThat(cluster.state().member("n1").orElseThrow().getAddress()).isEqualTo("127.0.0.1:2");
    // The old process, should it come back, is told to register again (and would be refused).
    assertThat(
            failure(
                    () ->
                        cluster
                            .membership()
                            .heartbeat("n1", "i1", "s1", NodeStats.getDefaultInstance()))
                .code())
        .isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void aNodeOfAnotherCluster_isRefused_andListedForHealth() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1", "s1", "", RoutingTable.empty());

    ShardClusterException refused =
        failure(
            () ->
                cluster
                    .membership()
                    .register("n2", "127.0.0.1:2", "i2", "s2", "other", RoutingTable.empty()));

    assertThat(refused.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION);
    assertThat(refused.getMessage())
        .startsWith("node n2 at 127.0.0.1:2 belongs to cluster other, not to this coordinator's")
        .contains("--recover-from-nodes");
    assertThat(cluster.state().member("n2")).isEmpty();
    assertThat(cluster.membership().refusedRegistrations()).containsExactly(refused.getMessage());
    // A node of this cluster is admitted as before.
    cluster
        .membership()
        .register("n3", "127.0.0.1:3", "i3", "s3", cluster.clusterId(), RoutingTable.empty());
    assertThat(cluster.state().member("n3")).isPresent();
  }

  @Test
  void theClusterId_isKeptAcrossRestarts_andRecoveryRefusesAStoreThatHasMetadata()
      throws Exception {
    String id = cluster.clusterId();
    assertThat(id).isNotEmpty();
    store.close();
    store = MetadataStore.open(dir);

    cluster = Cluster.open(store, liveness, probe);
    assertThat(cluster.clusterId()).isEqualTo(id);
    ShardClusterException refused = failure(() -> Cluster.open(store, liveness, probe, true));
    assertThat(refused.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(refused.getMessage())
        .contains("holds the metadata of cluster " + id)
        .contains("start the coordinator without it");
  }

  @Test
  void heartbeat_unknownNode_isNotFound_knownReturnsEpoch() {
    assertThat(
            failure(
                    () ->
                        cluster
                            .membership()
                            .heartbeat("ghost", "i", NodeStats.getDefaultInstance()))
                .code())
        .isEqualTo(ErrorCode.NOT_FOUND);
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    assertThat(cluster.membership().heartbeat("n1", "i1", NodeStats.getDefaultInstance()).epoch())
        .isEqualTo(cluster.routing().epoch());
  }

  @Test
  void directory_setAndRemove_changeRoutingAndEpoch() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    cluster.membership().register("n2", "127.0.0.1:2", "i2");
    DirectoryEntry entry = new DirectoryEntry(ByteString.copyFromUtf8("acme:"), true, "n1");

    long setEpoch = cluster.directory().setDirectoryEntry(Keyspace.DEFAULT, entry).epoch();
    assertThat(
            cluster.routing().ownerOf(Keyspace.DEFAULT, "acme:1".getBytes(StandardCharsets.UTF_8)))
        .isEqualTo("n1");

    long removeEpoch =
        cluster.directory().removeDirectoryEntry(Keyspace.DEFAULT, entry.key(), true).epoch();
    assertThat(removeEpoch).isEqualTo(setEpoch + 1);
    assertThat(cluster.routing().keyspace(Keyspace.DEFAULT).directory().isEmpty()).isTrue();
  }

  @Test
  void directory_badInput_isRefusedAndChangesNothing() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    RoutingTable before = cluster.routing();

    assertThat(
            failure(
                    () ->
                        cluster
                            .directory()
                            .setDirectoryEntry(
                                Keyspace.DEFAULT,
                                new DirectoryEntry(ByteString.copyFromUtf8("k"), false, "ghost")))
                .code())
        .isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(
            failure(
                    () ->
                        cluster
                            .directory()
                            .setDirectoryEntry(
                                "nope",
                                new DirectoryEntry(ByteString.copyFromUtf8("k"), false, "n1")))
                .code())
        .isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(
            failure(
                    () ->
                        cluster
                            .directory()
                            .removeDirectoryEntry(
                                Keyspace.DEFAULT, ByteString.copyFromUtf8("k"), false))
                .code())
        .isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(cluster.routing()).isEqualTo(before);
    // Keys would move from a node that is DOWN.
    cluster.membership().register("n2", "127.0.0.1:2", "i2");
    before = cluster.routing();
    clock.advance(Duration.ofSeconds(10));
    ShardClusterException down =
        failure(
            () ->
                cluster
                    .directory()
                    .setDirectoryEntry(
                        Keyspace.DEFAULT,
                        new DirectoryEntry(ByteString.copyFromUtf8("k"), true, "n2")));
    assertThat(down.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION);
    assertThat(down.getMessage())
        .isEqualTo(
            "cannot place prefix 'k': its keys would move from n1, which is DOWN; start it again"
                + " first");
    assertThat(cluster.routing()).isEqualTo(before);
  }

  @Test
  void directoryEntry_overKeysOtherNodesOwn_namesThemAndSetsNothing() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    cluster.membership().register("n2", "127.0.0.1:2", "i2");
    // Only the nodes the keys move from are asked whether they store any: one that cannot be
    // reached elsewhere does not stop the change.
    cluster.membership().register("n3", "127.0.0.1:3", "i3");
    unreachable.add("n3");
    RoutingTable before = cluster.routing();

    // Nothing stored yet: the keys still move with migrations, since writes may race with it.
    DirectoryPlacement.Placement empty =
        cluster
            .directory()
            .setDirectoryEntry(
                Keyspace.DEFAULT, new DirectoryEntry(ByteString.copyFromUtf8("t:"), true, "n2"));
    assertThat(empty.epoch()).isEqualTo(before.epoch());
    assertThat(empty.moves())
        .extracting(m -> m.source() + " -> " + m.target())
        .containsExactly("n1 -> n2");
    assertThat(empty.keysStored()).isFalse();
    stored.put("n1", 5L);
    DirectoryPlacement.Placement withKeys =
        cluster
            .directory()
            .setDirectoryEntry(
                Keyspace.DEFAULT, new DirectoryEntry(ByteString.copyFromUtf8("t:1"), false, "n2"));
    assertThat(withKeys.moves()).extracting(DirectoryPlacement.Move::source).containsExactly("n1");
    assertThat(withKeys.keysStored()).isTrue();
    assertThat(cluster.routing()).isEqualTo(before);
  }

  @Test
  void directoryEntry_isRemovedAtOnceWhereItsKeysStayPut_elseByMovesFromItsNode() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    cluster.membership().register("n2", "127.0.0.1:2", "i2");
    String onN1 = "k0";
    for (int i = 1;
        !cluster
            .routing()
            .ownerOf(Keyspace.DEFAULT, onN1.getBytes(StandardCharsets.UTF_8))
            .equals("n1");
        i++) {
      onN1 = "k" + i;
    }
    ByteString key = ByteString.copyFromUtf8(onN1);
    cluster.directory().setDirectoryEntry(Keyspace.DEFAULT, new DirectoryEntry(key, false, "n1"));
    stored.put("n1", 1L);
    // Without the entry the ring places the key on n1 too: nothing moves.
    cluster.directory().removeDirectoryEntry(Keyspace.DEFAULT, key, false);
    assertThat(cluster.routing().keyspace(Keyspace.DEFAULT).directory().isEmpty()).isTrue();

    stored.clear();
    // As the commit of the migration that moves the key to n2 sets it.
    cluster.update(
        state ->
            state.withKeyspace(
                state
                    .routing()
                    .keyspace(Keyspace.DEFAULT)
                    .withDirectory(
                        state
                            .routing()
                            .keyspace(Keyspace.DEFAULT)
                            .directory()
                            .with(new DirectoryEntry(key, false, "n2")))));
    stored.put("n2", 1L);
    RoutingTable pinned = cluster.routing();
    // Without it the key is n1's: it moves there, and the migration's commit removes the entry.
    DirectoryPlacement.Placement removal =
        cluster.directory().removeDirectoryEntry(Keyspace.DEFAULT, key, false);
    assertThat(removal.moves())
        .extracting(m -> m.source() + " -> " + m.target())
        .containsExactly("n2 -> n1");
    assertThat(removal.keysStored()).isTrue();
    assertThat(cluster.routing()).isEqualTo(pinned);
    // Its node DOWN: nothing can move.
    clock.advance(Duration.ofSeconds(10));
    ShardClusterException down =
        failure(() -> cluster.directory().removeDirectoryEntry(Keyspace.DEFAULT, key, false));
    assertThat(down.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION);
    assertThat(down.getMessage()).contains("its keys would move from n2, which is DOWN");
    assertThat(cluster.routing()).isEqualTo(pinned);
  }

  @Test
  void directoryEntry_whoseStoredKeysAreAllOnItsNode_isSetAtOnce() {
    cluster.membership().register("n1", "127.0.0.1:1", "i1");
    stored.put("n1", 3L);
    long epoch = cluster.routing().epoch();

    // An exact key is on its one owner: pinning it there moves nothing.
    assertThat(
            cluster
                .directory()
                .setDirectoryEntry(
                    Keyspace.DEFAULT, new DirectoryEntry(ByteString.copyFromUtf8("k"), false, "n1"))
                .epoch())
        .isEqualTo(epoch + 1);
    assertThat(cluster.routing().keyspace(Keyspace.DEFAULT).directory().entries()).hasSize(1);
  }

  private void upNodes(String... ids) {
    for (int i = 0; i < ids.length; i++) {
      cluster.membership().register(ids[i], "127.0.0.1:" + (i + 1), "i-" + ids[i]);
      String id = ids[i];
      cluster.update(
          s ->
              s.withMember(
                  s.member(id).orElseThrow().toBuilder().setState(NodeStateProto.UP).build()));
    }
  }

  private Map<String, String> owners(String keyspace, List<String> groups, boolean place) {
    Map<String, String> owners = new HashMap<>();
    cluster
        .directory()
        .lookupGroups(keyspace, groups.stream().map(ByteString::copyFromUtf8).toList(), place)
        .getEntriesList()
        .forEach(e -> owners.put(e.getGroup().toStringUtf8(), e.getOwner()));
    return owners;
  }

  @Test
  void directoryKeyspace_placesNewGroupsEvenly_concurrentPlacementsAgree_andEntriesPersist()
      throws Exception {
    upNodes("n1", "n2", "n3");
    cluster.catalog().createKeyspace("tenants", StrategyProto.DIRECTORY, List.of(), null, 16);
    long epoch = cluster.routing().epoch();
    List<String> groups = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      groups.add("tenant" + i);
    }
    assertThat(owners("tenants", groups, false).values()).containsOnly("");

    var pool = Executors.newFixedThreadPool(8);
    List<Future<Map<String, String>>> answers = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      List<String> shuffled = new ArrayList<>(groups);
      Collections.shuffle(shuffled, new Random(t));
      answers.add(pool.submit(() -> owners("tenants", shuffled, true)));
    }
    List<Map<String, String>> seen = new ArrayList<>();
    for (var answer : answers) {
      seen.add(answer.get());
    }
    Map<String, String> placed = owners("tenants", groups, false);
    assertThat(placed.values()).doesNotContain("");
    assertThat(seen).allSatisfy(answer -> assertThat(answer).isEqualTo(placed));
    pool.shutdown();
    Map<String, Long> perNode = new HashMap<>();
    placed.values().forEach(node -> perNode.merge(node, 1L, Long::sum));
    assertThat(perNode)
        .containsOnly(Map.entry("n1", 20L), Map.entry("n2", 20L), Map.entry("n3", 20L));
    // Placing a group is not a routing change: nobody's routing table goes stale.
    assertThat(cluster.routing().epoch()).isEqualTo(epoch);

    store.close();
    store = MetadataStore.open(dir);
    cluster = Cluster.open(store, liveness, probe);
    assertThat(owners("tenants", groups, false)).isEqualTo(placed);
    assertThat(cluster.groups().size("tenants")).isEqualTo(60);
  }

  @Test
  void directoryKeyspace_aCommittedMoveChangesItsEntriesAtomically_andDropDeletesThem()
      throws Exception {
    upNodes("n1", "n2");
    cluster.catalog().createKeyspace("tenants", StrategyProto.DIRECTORY, List.of(), null, 16);
    String owner = owners("tenants", List.of("acme", "globex"), true).get("acme");
    String other = owner.equals("n1") ? "n2" : "n1";
    io.shardcluster.routing.MovingSet moving =
        io.shardcluster.routing.MovingSet.ofGroups(
            "tenants", List.of(ByteString.copyFromUtf8("acme")), List.of());
    long version = cluster.routing().keyspace("tenants").grouping().version();
    long epoch = cluster.routing().epoch();

    cluster.update(
        s -> s.withKeyspace(moving.applyTo(s.routing().keyspace("tenants"), other)),
        List.of(new GroupDirectory.Move(moving, owner, other)));

    assertThat(owners("tenants", List.of("acme"), false)).containsEntry("acme", other);
    assertThat(cluster.routing().epoch()).isEqualTo(epoch + 1);
    assertThat(cluster.routing().keyspace("tenants").grouping().version()).isEqualTo(version + 1);
    var answer =
        cluster
            .directory()
            .lookupGroups("tenants", List.of(ByteString.copyFromUtf8("acme")), false);
    assertThat(answer.getEpoch()).isEqualTo(epoch + 1);
    assertThat(answer.getDirectoryVersion()).isEqualTo(version + 1);

    store.close();
    store = MetadataStore.open(dir);
    cluster = Cluster.open(store, liveness, probe);
    assertThat(owners("tenants", List.of("acme"), false)).containsEntry("acme", other);

    cluster.catalog().dropKeyspace("tenants");
    store.close();
    store = MetadataStore.open(dir);
    cluster = Cluster.open(store, liveness, probe);
    assertThat(cluster.groups().size("tenants")).isZero();
  }

  @Test
  void directoryLookups_badInput() {
    ShardClusterException noNode =
        failure(
            () -> {
              cluster
                  .catalog()
                  .createKeyspace("tenants", StrategyProto.DIRECTORY, List.of(), null, 16);
              owners("tenants", List.of("acme"), true);
            });
    assertThat(noNode.code()).isEqualTo(ErrorCode.UNAVAILABLE);
    assertThat(cluster.groups().size("tenants")).isZero();
    assertThat(failure(() -> owners("default", List.of("a"), false)).code())
        .isEqualTo(ErrorCode.FAILED_PRECONDITION);
    assertThat(failure(() -> owners("nope", List.of("a"), false)).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(
            failure(
                    () ->
                        cluster
                            .catalog()
                            .createKeyspace(
                                "h", StrategyProto.HASH, List.of(), ByteString.EMPTY, 16))
                .code())
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(
            failure(
                    () ->
                        cluster
                            .catalog()
                            .createKeyspace(
                                "h", StrategyProto.STRATEGY_UNSPECIFIED, List.of(), null, 16))
                .code())
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
  }

  @Test
  void droppingAKeyspace_supersedesItsRolledBackDirectoryChanges() throws Exception {
    cluster.catalog().createKeyspace("users", StrategyProto.HASH, List.of(), null, 16);
    DirectoryEntry pinned = new DirectoryEntry(ByteString.copyFromUtf8("pinned"), false, "node-2");
    Migration rolledBack =
        Migration.newBuilder()
            .setId("m000001")
            .setSource("node-1")
            .setTarget("node-2")
            .setReason("directory set")
            .setMoving(RoutingTables.toProto(new MovingSet("users", List.of(), List.of(pinned))))
            .setPhase(MigrationPhase.CANCELLED)
            .setRetryable(true)
            .setAttempt(1)
            .setCreatedMs(100)
            .setFinishedMs(200)
            .build();
    cluster.update(s -> s.withMigration(rolledBack));
    assertThat(RollbackRetries.unanswered(cluster.state(), "users")).hasSize(1);

    cluster.catalog().dropKeyspace("users");

    assertThat(cluster.state().migrations().get("m000001").getSuperseded()).isTrue();
    assertThat(RollbackRetries.unanswered(cluster.state(), "users")).isEmpty();
    // Durably: the restarted coordinator does not try it again either.
    store.close();
    store = MetadataStore.open(dir);
    cluster = Cluster.open(store, liveness, probe);
    assertThat(cluster.state().migrations().get("m000001").getSuperseded()).isTrue();
  }
}
