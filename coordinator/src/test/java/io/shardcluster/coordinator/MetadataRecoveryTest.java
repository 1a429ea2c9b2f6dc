package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.routing.Grouping;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MetadataRecoveryTest {
  private static final Keyspace RING =
      Keyspace.hash(Keyspace.DEFAULT)
          .withRing(HashRing.of(List.of(0L, 1L << 62), List.of("a", "b")));

  private static RoutingTable table(long epoch, Keyspace... keyspaces) {
    Map<String, Keyspace> byName = new java.util.TreeMap<>();
    for (Keyspace keyspace : keyspaces) {
      byName.put(keyspace.name(), keyspace);
    }
    return new RoutingTable(epoch, Map.of("a", "h:1", "b", "h:2"), byName);
  }

  private static MetadataRecovery.Offer offer(String node, String address, RoutingTable table) {
    return new MetadataRecovery.Offer(node, address, "instance-" + node, "cluster-1", table);
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
  void waitsForEveryNodeOfTheNewestTable_thenAdoptsItAtTheNextEpoch_withTheNewAddresses() {
    MetadataRecovery recovery = new MetadataRecovery();

    ShardClusterException waiting =
        failure(() -> recovery.offer(offer("a", "h:7", table(5, RING))));
    assertThat(waiting.code()).isEqualTo(ErrorCode.UNAVAILABLE);
    assertThat(waiting.getMessage())
        .contains("the newest routing table (epoch 5, from a) names b, not registered yet");

    // b saw a newer table (a was down when it changed): the newer one is adopted.
    MetadataRecovery.Recovered recovered = recovery.offer(offer("b", "h:2", table(9, RING)));

    assertThat(recovered.clusterId()).isEqualTo("cluster-1");
    assertThat(recovered.state().epoch()).isEqualTo(10);
    assertThat(recovered.state().routing().keyspace(Keyspace.DEFAULT)).isEqualTo(RING);
    assertThat(recovered.state().routing().nodeAddresses())
        .containsExactlyInAnyOrderEntriesOf(Map.of("a", "h:7", "b", "h:2"));
    assertThat(recovered.state().members().get("a").getInstanceId()).isEqualTo("instance-a");
    assertThat(recovered.state().members().values())
        .allSatisfy(m -> assertThat(m.getState()).isEqualTo(NodeStateProto.UP));
    assertThat(recovered.state().migrations()).isEmpty();
  }

  @Test
  void aNewNode_orOneOfAnotherCluster_cannotHelp_andIsToldToWait() {
    MetadataRecovery recovery = new MetadataRecovery();
    assertThatThrownBy(
            () ->
                recovery.offer(
                    new MetadataRecovery.Offer("c", "h:3", "i", "", RoutingTable.empty())))
        .hasMessageContaining("node c holds none (a new node)");
    assertThat(failure(() -> recovery.offer(offer("a", "h:1", table(5, RING)))).code())
        .isEqualTo(ErrorCode.UNAVAILABLE);

    ShardClusterException foreign =
        failure(
            () ->
                recovery.offer(
                    new MetadataRecovery.Offer("b", "h:2", "i", "cluster-2", table(6, RING))));

    assertThat(foreign.getMessage())
        .contains("recovering cluster cluster-1")
        .contains("node b belongs to cluster cluster-2");
  }

  @Test
  void aClusterWithADirectoryKeyspace_isNotRecovered_sayingWhy() {
    MetadataRecovery recovery = new MetadataRecovery();
    Keyspace tenants = Keyspace.directory("tenants", new Grouping(Grouping.DEFAULT_SEPARATOR, 1));

    ShardClusterException refused =
        failure(() -> recovery.offer(offer("a", "h:1", table(5, RING, tenants))));

    assertThat(refused.getMessage())
        .contains("keyspace tenants is a directory keyspace")
        .contains("restore the coordinator's data dir from a backup");
  }
}
