package io.shardcluster.coordinator;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.HostPort;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * Membership: admitting a node (a new one joins, a known one restarts, a stranger claiming a live
 * node's id is refused), its heartbeats, and the members as operators see them.
 */
final class Membership {
  private static final Logger logger = Logger.getLogger(Membership.class.getName());
  private static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

  private final Cluster cluster;
  private final Liveness liveness;

  /**
   * A member as operators see it: its recorded state ({@code recorded}: JOINING, UP, DRAINING or
   * REMOVED), overlaid with liveness ({@code state}: DOWN while it is silent).
   */
  record Member(
      String id,
      String address,
      NodeStateProto state,
      NodeStateProto recorded,
      double share,
      int intervals,
      Optional<Liveness.Heartbeat> lastHeartbeat) {}

  Membership(Cluster cluster, Liveness liveness) {
    this.cluster = cluster;
    this.liveness = liveness;
  }

  /**
   * Admits a node. A new id joins: the first node takes the whole ring at once, later ones are
   * JOINING until migrations hand them their share. A known id with the same instance is a restart
   * (its address may have changed). Returns the routing table to use.
   */
  RoutingTable register(String node, String address, String instance) {
    checkNodeId(node);
    HostPort.parse(address);
    requireArgument(instance != null && !instance.isBlank(), "instance id must not be empty");
    ClusterState after =
        cluster.update(
            current -> {
              Optional<MemberRecord> known = current.member(node);
              if (known.isPresent()
                  && known.get().getState() == NodeStateProto.REMOVED
                  && known.get().getInstanceId().equals(instance)) {
                throw ShardClusterException.failedPrecondition(
                    "node "
                        + node
                        + " was removed from the cluster; to add it again, start it"
                        + " on a new data directory");
              }
              if (known.isPresent() && known.get().getState() != NodeStateProto.REMOVED) {
                MemberRecord member = known.get();
                if (!member.getInstanceId().equals(instance)) {
                  if (liveness.isUp(node)) {
                    throw ShardClusterException.alreadyExists(
                        "node id "
                            + node
                            + " is already in use by a live node at "
                            + member.getAddress());
                  }
                  throw ShardClusterException.failedPrecondition(
                      "node id "
                          + node
                          + " belongs to another data directory (instance "
                          + member.getInstanceId()
                          + "); start "
                          + node
                          + " on its own data directory, or remove it first");
                }
                if (member.getAddress().equals(address)) {
                  return current;
                }
                logger.info(node + " re-registered at " + address);
                return current.withMember(member.toBuilder().setAddress(address).build());
              }
              MemberRecord joining =
                  MemberRecord.newBuilder()
                      .setId(node)
                      .setAddress(address)
                      .setInstanceId(instance)
                      .setState(NodeStateProto.JOINING)
                      .build();
              if (current.routing().keyspace(Keyspace.DEFAULT).ring().isEmpty()) {
                logger.info(node + " joined at " + address + " as the first node");
                ClusterState first =
                    current.withMember(joining.toBuilder().setState(NodeStateProto.UP).build());
                for (Keyspace keyspace : current.routing().keyspaces().values()) {
                  if (!keyspace.isRange() && !keyspace.isDirectory()) {
                    first =
                        first.withKeyspace(
                            keyspace.withRing(HashRing.of(List.of(0L), List.of(node))));
                  }
                }
                return first;
              }
              logger.info(node + " is joining at " + address);
              return current.withMember(joining);
            });
    liveness.heartbeat(node, NodeStats.getDefaultInstance());
    cluster.membershipChanged();
    return after.routing();
  }

  /**
   * Records a heartbeat and returns the current state. NOT_FOUND if the node is not a member under
   * this instance id (it should register).
   */
  ClusterState heartbeat(String node, String instance, NodeStats stats) {
    ClusterState current = cluster.state();
    Optional<MemberRecord> member = current.member(node);
    if (member.isPresent()
        && member.get().getState() == NodeStateProto.REMOVED
        && member.get().getInstanceId().equals(instance)) {
      throw ShardClusterException.failedPrecondition(
          "node " + node + " has been removed from the cluster");
    }
    if (member.isEmpty()
        || member.get().getState() == NodeStateProto.REMOVED
        || !member.get().getInstanceId().equals(instance)) {
      throw ShardClusterException.notFound("node " + node + " is not a member; register first");
    }
    liveness.heartbeat(node, stats);
    return current;
  }

  /** Every member that has not been removed, with its liveness and ring share. */
  List<Member> members() {
    ClusterState current = cluster.state();
    HashRing ring = current.routing().keyspace(Keyspace.DEFAULT).ring();
    Map<String, Double> shares = ring.shares();
    List<Member> members = new ArrayList<>();
    for (MemberRecord record : current.members().values()) {
      NodeStateProto shown = record.getState();
      if (shown != NodeStateProto.REMOVED && !liveness.isUp(record.getId())) {
        shown = NodeStateProto.DOWN;
      }
      members.add(
          new Member(
              record.getId(),
              record.getAddress(),
              shown,
              record.getState(),
              shares.getOrDefault(record.getId(), 0.0),
              ring.intervalsOf(record.getId()).size(),
              liveness.lastHeartbeat(record.getId())));
    }
    return members;
  }

  private static void checkNodeId(String node) {
    requireArgument(
        node != null && NODE_ID.matcher(node).matches(),
        "node id '%s' must be 1-64 characters of letters, digits, '.', '_' and '-'",
        node);
  }
}
