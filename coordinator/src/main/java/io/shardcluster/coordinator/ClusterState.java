package io.shardcluster.coordinator;

import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import java.util.HashMap;
import java.util.Map;

/**
 * Everything the coordinator persists: the routing table (members' addresses, rings, directory,
 * epoch) and each member's instance id, which tells a restarted node from another process claiming
 * its id.
 *
 * @param routing the current routing table
 * @param instances node id to the instance id of its data directory
 */
record ClusterState(RoutingTable routing, Map<String, String> instances) {
  ClusterState {
    instances = Map.copyOf(instances);
  }

  /** A new cluster: epoch 1, the default keyspace with an empty ring, no members. */
  static ClusterState initial() {
    return new ClusterState(
        new RoutingTable(1, Map.of(), Map.of(Keyspace.DEFAULT, Keyspace.hash(Keyspace.DEFAULT))),
        Map.of());
  }

  long epoch() {
    return routing.epoch();
  }

  boolean isMember(String node) {
    return instances.containsKey(node);
  }

  /** A copy with a member added or its address changed, at the next epoch. */
  ClusterState withMember(String node, String address, String instance) {
    Map<String, String> next = new HashMap<>(instances);
    next.put(node, instance);
    return new ClusterState(routing.withNode(epoch() + 1, node, address), next);
  }

  /** A copy with one keyspace's routing replaced, at the next epoch. */
  ClusterState withKeyspace(Keyspace keyspace) {
    return new ClusterState(routing.with(epoch() + 1, keyspace), instances);
  }
}
