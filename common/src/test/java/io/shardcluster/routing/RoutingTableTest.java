package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.rpc.RoutingTables;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RoutingTableTest {
  private final HashRing ring = HashRing.of(List.of(0L, Long.MIN_VALUE), List.of("n1", "n2"));
  private final Keyspace keyspace =
      new Keyspace(
          Keyspace.DEFAULT,
          ring,
          Directory.of(
              List.of(new DirectoryEntry(ByteString.copyFromUtf8("tenant7:"), true, "n3"))));
  private final RoutingTable table =
      new RoutingTable(
          9, Map.of("n1", "h:1", "n2", "h:2", "n3", "h:3"), Map.of(Keyspace.DEFAULT, keyspace));

  @Test
  void route_followsRing_unlessDirectoryOverrides() {
    byte[] key = "hello".getBytes(StandardCharsets.UTF_8); // position cbd8... -> upper half
    Route route = table.route(Keyspace.DEFAULT, key);
    assertThat(route.owner()).isEqualTo("n2");
    assertThat(route.address()).isEqualTo("h:2");
    assertThat(route.epoch()).isEqualTo(9);
    assertThat(route.directoryEntry()).isEmpty();

    Route overridden =
        table.route(Keyspace.DEFAULT, "tenant7:order:1".getBytes(StandardCharsets.UTF_8));
    assertThat(overridden.owner()).isEqualTo("n3");
    assertThat(overridden.directoryEntry()).isPresent();
  }

  @Test
  void keyspace_unknown_isNotFound() {
    assertThatThrownBy(() -> table.keyspace("nope"))
        .isInstanceOf(ShardClusterException.class)
        .extracting(e -> ((ShardClusterException) e).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void route_noNodes_isUnavailable() {
    RoutingTable empty =
        new RoutingTable(1, Map.of(), Map.of(Keyspace.DEFAULT, Keyspace.hash(Keyspace.DEFAULT)));
    assertThatThrownBy(() -> empty.route(Keyspace.DEFAULT, new byte[] {1}))
        .hasMessageContaining("no shard node has joined");
  }

  @Test
  void protoRoundTrip_preservesEverything() {
    assertThat(RoutingTables.fromProto(RoutingTables.toProto(table))).isEqualTo(table);
  }

  @Test
  void replicaGroups_surviveTheProtoRoundTripAndEveryCopy() {
    RoutingTable grouped =
        new RoutingTable(
            9,
            table.nodeAddresses(),
            table.keyspaces(),
            java.util.Set.of(),
            java.util.Set.of("n2"));
    RoutingTable back = RoutingTables.fromProto(RoutingTables.toProto(grouped));
    assertThat(back).isEqualTo(grouped).isNotEqualTo(table);
    assertThat(back.replicated("n2")).isTrue();
    assertThat(back.replicated("n1")).isFalse();
    assertThat(back.withEpoch(10).replicated("n2")).isTrue();
    assertThat(back.without(11, "gone").replicated("n2")).isTrue();
    assertThat(grouped.sameRouting(table)).isFalse();
  }

  @Test
  void keyspaceName_invalid_isInvalidArgument() {
    assertThatThrownBy(() -> Keyspace.hash("Bad Name"))
        .hasMessageContaining("keyspace name 'Bad Name'");
  }
}
