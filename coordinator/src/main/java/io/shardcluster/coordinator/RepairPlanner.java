package io.shardcluster.coordinator;

import io.shardcluster.proto.v1.ReplicaInfo;
import io.shardcluster.proto.v1.ReplicaStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Decides whether a replica group needs a repair: a member down longer than the timeout, in a group
 * whose leader serves, replaced by a process already adopted into the group (a repair that stopped
 * halfway) or else by a spare, one from a zone the group's live members lack first.
 */
final class RepairPlanner {
  private RepairPlanner() {}

  /**
   * A repair to run.
   *
   * @param node the shard's node id
   * @param deadReplica the member to remove
   * @param newPeer the process to add, as ID@HOST:PORT/RAFTPORT
   * @param peers the group's members once repaired, as ID@HOST:PORT/RAFTPORT (what a spare is
   *     adopted with)
   * @param spareAddress the spare to adopt first; empty when the new process runs already
   */
  record Plan(
      String node, String deadReplica, String newPeer, List<String> peers, String spareAddress) {
    String newReplica() {
      return newPeer.substring(0, newPeer.indexOf('@'));
    }

    boolean adoptsSpare() {
      return !spareAddress.isEmpty();
    }
  }

  /** What the coordinator knows of one group. */
  record Group(
      String node,
      List<ReplicaInfo> replicas,
      Optional<ReplicaStatus> leader,
      List<ReplicaStatus> outsiders,
      Set<String> idsHeard) {}

  /**
   * The repair the group needs, if any.
   *
   * @param replaceAfter how long a member may stay silent
   * @param uptime how long the coordinator has run (a member never heard counts from its start)
   */
  static Optional<Plan> plan(
      Group group, List<Spares.Spare> spares, Duration replaceAfter, Duration uptime) {
    if (group.leader().isEmpty() || group.leader().get().getPeersCount() == 0) {
      return Optional.empty();
    }
    ReplicaStatus leader = group.leader().get();
    Optional<ReplicaInfo> dead =
        group.replicas().stream()
            .filter(replica -> !replica.getLeader())
            .filter(replica -> downTooLong(replica, replaceAfter, uptime))
            .min(Comparator.comparing(ReplicaInfo::getReplicaId));
    if (dead.isEmpty()) {
      return Optional.empty();
    }
    String deadId = dead.get().getReplicaId();
    List<String> remaining = new ArrayList<>();
    for (String peer : leader.getPeersList()) {
      if (!peer.startsWith(deadId + "@")) {
        remaining.add(peer);
      }
    }
    // A process adopted earlier that the leader has not added yet: finish with it.
    for (ReplicaStatus outsider : group.outsiders()) {
      Optional<String> self =
          outsider.getPeersList().stream()
              .filter(peer -> peer.startsWith(outsider.getReplicaId() + "@"))
              .findFirst();
      if (self.isPresent()) {
        List<String> peers = new ArrayList<>(remaining);
        peers.add(self.get());
        return Optional.of(new Plan(group.node(), deadId, self.get(), peers, ""));
      }
    }
    Set<String> zonesInUse = new HashSet<>();
    for (ReplicaInfo replica : group.replicas()) {
      if (!replica.getZone().isEmpty() && !downTooLong(replica, replaceAfter, uptime)) {
        zonesInUse.add(replica.getZone());
      }
    }
    Optional<Spares.Spare> spare =
        spares.stream()
            .min(
                Comparator.comparingInt(
                    (Spares.Spare s) ->
                        s.zone().isEmpty() ? 1 : zonesInUse.contains(s.zone()) ? 2 : 0));
    if (spare.isEmpty()) {
      return Optional.empty();
    }
    Set<String> taken = new HashSet<>(group.idsHeard());
    group.replicas().forEach(replica -> taken.add(replica.getReplicaId()));
    String id = newReplicaId(taken);
    String newPeer = id + "@" + spare.get().address() + "/" + spare.get().raftPort();
    List<String> peers = new ArrayList<>(remaining);
    peers.add(newPeer);
    return Optional.of(new Plan(group.node(), deadId, newPeer, peers, spare.get().address()));
  }

  static boolean downTooLong(ReplicaInfo replica, Duration replaceAfter, Duration uptime) {
    return replica.getHeard()
        ? replica.getMillisSinceHeartbeat() > replaceAfter.toMillis()
        : uptime.compareTo(replaceAfter) > 0;
  }

  /** The first of a..z, then r26, r27, ... not taken. */
  static String newReplicaId(Set<String> taken) {
    for (char c = 'a'; c <= 'z'; c++) {
      if (!taken.contains(String.valueOf(c))) {
        return String.valueOf(c);
      }
    }
    for (int i = 26; ; i++) {
      if (!taken.contains("r" + i)) {
        return "r" + i;
      }
    }
  }
}
