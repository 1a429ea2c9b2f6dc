package io.shardcluster.coordinator;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Rebuilds a coordinator's lost metadata from its nodes ({@code --recover-from-nodes}), as TiKV's
 * {@code pd-recover} does. Each node, as it registers, offers its cluster id and the routing table
 * it saved. Once every node of the newest table offered has registered, that table (at the next
 * epoch, with the addresses the nodes registered from) and its nodes, UP, become the cluster's
 * state; until then registrations are answered UNAVAILABLE, naming the nodes still awaited, and the
 * nodes try again. Migrations in flight are not recovered: each node rolls back its part when its
 * heartbeat no longer lists them. The placements of directory keyspaces' groups were only in the
 * lost metadata, so a cluster with a directory keyspace is not recovered (the answer says so).
 */
final class MetadataRecovery {
  /** What a registering node offers: who it is and what it saved. */
  record Offer(
      String node, String address, String instance, String clusterId, RoutingTable table) {}

  /** The recovered cluster. */
  record Recovered(String clusterId, ClusterState state) {}

  @GuardedBy("this")
  private final Map<String, Offer> offers = new TreeMap<>();

  /**
   * Takes a node's offer; the recovered cluster once every node of the newest table offered has
   * registered. UNAVAILABLE, saying what is awaited, until then, and for offers that cannot help (a
   * new node, a node of another cluster).
   */
  synchronized Recovered offer(Offer offer) {
    if (offer.clusterId().isEmpty() || offer.table().epoch() == 0) {
      throw ShardClusterException.unavailable(
          "the coordinator is recovering the cluster's metadata from its nodes; node "
              + offer.node()
              + " holds none (a new node) and can register once that is done");
    }
    String cluster = offers.values().stream().findFirst().map(Offer::clusterId).orElse("");
    if (!cluster.isEmpty() && !cluster.equals(offer.clusterId())) {
      throw ShardClusterException.unavailable(
          "the coordinator is recovering cluster "
              + cluster
              + " from its nodes; node "
              + offer.node()
              + " belongs to cluster "
              + offer.clusterId());
    }
    offers.put(offer.node(), offer);
    Offer newest =
        offers.values().stream()
            .max(Comparator.comparingLong(o -> o.table().epoch()))
            .orElseThrow();
    RoutingTable table = newest.table();
    for (Keyspace keyspace : table.keyspaces().values()) {
      if (keyspace.isDirectory()) {
        throw ShardClusterException.unavailable(
            "cannot recover cluster "
                + offer.clusterId()
                + " from its nodes: keyspace "
                + keyspace.name()
                + " is a directory keyspace, whose group placements only the lost metadata"
                + " held; restore the coordinator's data dir from a backup");
      }
    }
    List<String> awaited = new ArrayList<>();
    for (String node : table.nodeAddresses().keySet()) {
      if (!offers.containsKey(node)) {
        awaited.add(node);
      }
    }
    if (!awaited.isEmpty()) {
      throw ShardClusterException.unavailable(
          "the coordinator is recovering cluster "
              + offer.clusterId()
              + " from its nodes: the newest routing table (epoch "
              + table.epoch()
              + ", from "
              + newest.node()
              + ") names "
              + String.join(", ", awaited)
              + ", not registered yet; registered: "
              + String.join(", ", offers.keySet()));
    }
    Map<String, String> addresses = new TreeMap<>();
    Map<String, MemberRecord> members = new TreeMap<>();
    for (String node : table.nodeAddresses().keySet()) {
      // Every node of the table has offered (checked above).
      Offer from = Objects.requireNonNull(offers.get(node));
      addresses.put(node, from.address());
      members.put(
          node,
          MemberRecord.newBuilder()
              .setId(node)
              .setAddress(from.address())
              .setInstanceId(from.instance())
              .setState(NodeStateProto.UP)
              .build());
    }
    RoutingTable recovered =
        new RoutingTable(table.epoch() + 1, addresses, table.keyspaces(), table.droppedKeyspaces());
    return new Recovered(offer.clusterId(), new ClusterState(recovered, members, Map.of()));
  }
}
