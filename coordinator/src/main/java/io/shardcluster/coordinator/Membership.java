package io.shardcluster.coordinator;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.proto.v1.ReplicaInfo;
import io.shardcluster.proto.v1.ReplicaStatus;
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
  private static final Pattern ZONE = Pattern.compile("[A-Za-z0-9._-]{0,64}");

  private final Cluster cluster;
  private final Liveness liveness;
  private final DataProbe probe;
  private final RefusedRegistrations refused = new RefusedRegistrations();
  private final Replicas replicas;

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

  Membership(Cluster cluster, Liveness liveness, DataProbe probe) {
    this.cluster = cluster;
    this.liveness = liveness;
    this.probe = probe;
    this.replicas = new Replicas(liveness.clock());
  }

  /**
   * Admits a node. A new id joins: the first node takes the whole ring at once, later ones are
   * JOINING until migrations hand them their share. A known id with the same instance is a restart
   * (its address may have changed). Returns the routing table to use.
   */
  RoutingTable register(String node, String address, String instance) {
    return register(
        node, address, instance, "", "", RoutingTable.empty(), ReplicaStatus.getDefaultInstance());
  }

  /** As below, for a node without a replica group. */
  RoutingTable register(
      String node,
      String address,
      String instance,
      String session,
      String clusterId,
      RoutingTable saved) {
    return register(
        node, address, instance, session, clusterId, saved, ReplicaStatus.getDefaultInstance());
  }

  /**
   * As above, from the process with this session id (empty: a node that does not send one). While
   * the member runs under another session and still answers at its address, a registration from
   * another process with the same data directory (a copy of it) is refused with ALREADY_EXISTS:
   * only a process that replaces a dead one, or the same one again, takes the id over. {@code
   * clusterId} and {@code saved} are what the node holds (empty for a new node): a node of another
   * cluster is refused, and a coordinator recovering its metadata rebuilds it from them.
   */
  RoutingTable register(
      String node,
      String address,
      String instance,
      String session,
      String clusterId,
      RoutingTable saved,
      ReplicaStatus replica) {
    checkNodeId(node);
    HostPort.parse(address);
    requireArgument(instance != null && !instance.isBlank(), "instance id must not be empty");
    if (cluster.recovering()) {
      cluster.recover(new MetadataRecovery.Offer(node, address, instance, clusterId, saved));
    }
    refuseNodeOfAnotherCluster(node, address, clusterId);
    boolean grouped = !replica.getReplicaId().isEmpty();
    // A replica group's processes share the node id and its instance id; which of them the
    // routing table names is decided by leadership (see Replicas), not by sessions.
    boolean leads =
        grouped && replicas.report(node, replica.toBuilder().setAddress(address).build());
    if (!grouped) {
      refuseCopyOfLiveNode(node, instance, session);
    }
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
                  if (liveness.isUp(node) && !grouped) {
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
                if (grouped && !member.getReplicated()) {
                  member = member.toBuilder().setReplicated(true).build();
                  current = current.withMember(member);
                }
                if (member.getAddress().equals(address) || (grouped && !leads)) {
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
                      .setReplicated(grouped)
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
    if (!grouped || leads) {
      liveness.heartbeat(node, NodeStats.getDefaultInstance());
    }
    if (!session.isEmpty() && !grouped) {
      liveness.session(node, session);
    }
    cluster.membershipChanged();
    return after.routing();
  }

  /**
   * FAILED_PRECONDITION for a node that has registered with another cluster's coordinator: its data
   * is that cluster's, and this coordinator (new, or another cluster's, or started on lost
   * metadata) knows nothing of it. Recorded for health.
   */
  private void refuseNodeOfAnotherCluster(String node, String address, String clusterId) {
    if (clusterId.isEmpty() || clusterId.equals(cluster.clusterId())) {
      return;
    }
    String refusal =
        "node "
            + node
            + " at "
            + address
            + " belongs to cluster "
            + clusterId
            + ", not to this coordinator's cluster "
            + cluster.clusterId()
            + "; if this coordinator lost its metadata, restart it with --recover-from-nodes"
            + " (docs/operations.md)";
    logger.severe("refused a registration: " + refusal);
    refused.add(liveness.now(), refusal);
    throw ShardClusterException.failedPrecondition(refusal);
  }

  /** Registrations refused lately because the node belongs to another cluster, newest last. */
  List<String> refusedRegistrations() {
    return refused.recent(liveness.now());
  }

  private void refuseCopyOfLiveNode(String node, String instance, String session) {
    Optional<MemberRecord> known = cluster.state().member(node);
    Optional<String> current = liveness.session(node);
    if (session.isEmpty()
        || known.isEmpty()
        || !known.get().getInstanceId().equals(instance)
        || current.isEmpty()
        || current.get().equals(session)
        || !liveness.isUp(node)) {
      return;
    }
    String address = known.get().getAddress();
    Optional<String> answering = probe.session(node, address);
    if (answering.isPresent() && !answering.get().equals(session)) {
      logger.warning(
          "refused a second process registering as "
              + node
              + ": "
              + node
              + " still runs at "
              + address);
      throw ShardClusterException.alreadyExists(
          "node "
              + node
              + " is running at "
              + address
              + " on a data directory with the same identity; a copy of a node's data directory"
              + " cannot take over from a running node: stop that process first, or start this"
              + " one on a new data directory with a new id");
    }
  }

  /**
   * Records a heartbeat and returns the current state. NOT_FOUND if the node is not a member under
   * this instance id (it should register).
   */
  ClusterState heartbeat(String node, String instance, NodeStats stats) {
    return heartbeat(node, instance, "", stats, ReplicaStatus.getDefaultInstance());
  }

  /**
   * As above, from the process with this session id: NOT_FOUND also if another process registered
   * under the id since this one did.
   */
  ClusterState heartbeat(String node, String instance, String session, NodeStats stats) {
    return heartbeat(node, instance, session, stats, ReplicaStatus.getDefaultInstance());
  }

  /** As above, with the process's part in its shard's replica group, if it has one. */
  ClusterState heartbeat(
      String node, String instance, String session, NodeStats stats, ReplicaStatus replica) {
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
    if (!replica.getReplicaId().isEmpty()) {
      return replicaHeartbeat(node, stats, replica);
    }
    Optional<String> registered = liveness.session(node);
    if (!session.isEmpty() && registered.isPresent() && !registered.get().equals(session)) {
      // Another process registered under this id since: this one must register again (and is
      // refused if that one still runs), so that routing never stays on a process that is gone.
      throw ShardClusterException.notFound(
          "node " + node + " has registered again from another process; register first");
    }
    if (!session.isEmpty() && registered.isEmpty()) {
      liveness.session(node, session);
    }
    liveness.heartbeat(node, stats);
    return current;
  }

  /**
   * A heartbeat of a process of a replica group: recorded; if it comes from the leader, it keeps
   * the shard alive and, if the leader moved, points the routing table at it (a new epoch).
   */
  private ClusterState replicaHeartbeat(String node, NodeStats stats, ReplicaStatus replica) {
    if (!replicas.report(node, replica)) {
      return cluster.state();
    }
    liveness.heartbeat(node, stats);
    long stateEpochBefore = cluster.state().epoch();
    String address = replica.getAddress();
    if (address.isEmpty()) {
      return cluster.state();
    }
    ClusterState after =
        cluster.update(
            current -> {
              Optional<MemberRecord> member = current.member(node);
              if (member.isEmpty()
                  || member.get().getState() == NodeStateProto.REMOVED
                  || member.get().getAddress().equals(address)) {
                return current;
              }
              logger.info(
                  node
                      + "'s leader is now replica "
                      + replica.getReplicaId()
                      + " at "
                      + address
                      + " (term "
                      + replica.getTerm()
                      + ")");
              return current.withMember(member.get().toBuilder().setAddress(address).build());
            });
    if (after.epoch() != stateEpochBefore) {
      cluster.membershipChanged();
    }
    return after;
  }

  /** The replicas of a node's group as last heard from (empty for a node without a group). */
  List<ReplicaInfo> replicas(String node) {
    return replicas.of(node);
  }

  /**
   * Pins the node's replica group's leader to a zone (empty: unpins it); see {@link LeaderPins}.
   * NOT_FOUND for an unknown or removed node, FAILED_PRECONDITION for a node of one process.
   */
  void pinLeader(String node, String zone) {
    requireArgument(
        ZONE.matcher(zone).matches(),
        "zone '%s' may hold only letters, digits, '.', '_' and '-'",
        zone);
    cluster.update(
        current -> {
          MemberRecord member =
              current
                  .member(node)
                  .filter(m -> m.getState() != NodeStateProto.REMOVED)
                  .orElseThrow(
                      () ->
                          new ShardClusterException(
                              io.shardcluster.errors.ErrorCode.NOT_FOUND, "no node " + node));
          if (!member.getReplicated()) {
            throw ShardClusterException.failedPrecondition(
                node + " is one process, not a replica group: it has no leader to pin");
          }
          return current.withMember(member.toBuilder().setLeaderZone(zone).build());
        });
    logger.info(
        zone.isEmpty()
            ? node + "'s leader is no longer pinned to a zone"
            : node + "'s leader is pinned to zone " + zone);
  }

  /** The zone the node's leader is pinned to; empty if none. */
  String leaderZone(String node) {
    return cluster.state().member(node).map(MemberRecord::getLeaderZone).orElse("");
  }

  /** What the replicas of every group reported (for repairs). */
  Replicas replicaReports() {
    return replicas;
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
