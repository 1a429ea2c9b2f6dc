package io.shardcluster.coordinator;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.shardcluster.proto.v1.ReplicaInfo;
import io.shardcluster.proto.v1.ReplicaStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The processes of each shard's replica group as they last reported themselves (in memory: they
 * report every heartbeat), and which leader the routing table follows: the one of the highest term
 * heard, so that a deposed leader that still believes it leads cannot take the address back.
 */
final class Replicas {
  private final Clock clock;

  @GuardedBy("this")
  private final Map<String, Map<String, Seen>> groups = new HashMap<>();

  @GuardedBy("this")
  private final Map<String, Long> leaderTerms = new HashMap<>();

  private record Seen(ReplicaStatus status, Instant at) {}

  Replicas(Clock clock) {
    this.clock = clock;
  }

  /**
   * Records a report; true if it comes from the group's leader as the coordinator should follow it
   * (leading, at a term no older than any leader's heard before).
   */
  synchronized boolean report(String node, ReplicaStatus status) {
    groups
        .computeIfAbsent(node, n -> new TreeMap<>())
        .put(status.getReplicaId(), new Seen(status, clock.instant()));
    if (!status.getLeader()) {
      return false;
    }
    long known = leaderTerms.getOrDefault(node, 0L);
    if (status.getTerm() < known) {
      return false;
    }
    leaderTerms.put(node, status.getTerm());
    return true;
  }

  /**
   * Each replica of the node's group, the leader first: those heard from, then members of the
   * group's configuration never heard from (as the leader, or else the latest report, lists it);
   * empty for a lone node.
   */
  synchronized List<ReplicaInfo> of(String node) {
    Map<String, Seen> group = groups.getOrDefault(node, Map.of());
    Seen leader =
        group.values().stream()
            .filter(seen -> seen.status().getLeader())
            .max(Comparator.comparingLong(seen -> seen.status().getTerm()))
            .orElse(null);
    Seen configured =
        leader != null
            ? leader
            : group.values().stream().max(Comparator.comparing(Seen::at)).orElse(null);
    String leaderId = leader == null ? "" : leader.status().getReplicaId();
    List<String> members = configured == null ? List.of() : configured.status().getMembersList();
    List<ReplicaInfo> replicas = new ArrayList<>();
    for (Seen seen : group.values()) {
      ReplicaStatus status = seen.status();
      if (!members.isEmpty() && !members.contains(status.getReplicaId())) {
        continue; // replaced: no longer in the group's configuration
      }
      boolean leads = status.getReplicaId().equals(leaderId);
      long lag = 0;
      if (leader != null && !leads) {
        Map<String, Long> commits = leader.status().getCommitIndexesMap();
        long leading = commits.getOrDefault(leader.status().getReplicaId(), 0L);
        Long known = commits.get(status.getReplicaId());
        lag = known == null ? leading : Math.max(0, leading - known);
      }
      replicas.add(
          ReplicaInfo.newBuilder()
              .setReplicaId(status.getReplicaId())
              .setAddress(status.getAddress())
              .setLeader(leads)
              .setTerm(status.getTerm())
              .setAppliedIndex(status.getAppliedIndex())
              .setLag(lag)
              .setMillisSinceHeartbeat(
                  Math.max(1, Duration.between(seen.at(), clock.instant()).toMillis()))
              .setHeard(true)
              .setZone(status.getZone())
              .build());
    }
    if (configured != null) {
      for (String member : members) {
        if (!group.containsKey(member)) {
          replicas.add(ReplicaInfo.newBuilder().setReplicaId(member).setHeard(false).build());
        }
      }
    }
    replicas.sort(Comparator.comparing(ReplicaInfo::getLeader).reversed());
    return replicas;
  }

  /** The latest report of the node's leader (the highest term heard), if any. */
  synchronized Optional<ReplicaStatus> leader(String node) {
    return groups.getOrDefault(node, Map.of()).values().stream()
        .filter(seen -> seen.status().getLeader())
        .max(Comparator.comparingLong(seen -> seen.status().getTerm()))
        .map(Seen::status);
  }

  /**
   * Processes reporting as replicas of the node, within {@code heardWithin}, that are not members
   * of its group's configuration as its leader reports it: a spare adopted into the group that the
   * leader has not added yet.
   */
  synchronized List<ReplicaStatus> outsiders(String node, Duration heardWithin) {
    Optional<ReplicaStatus> leader = leader(node);
    if (leader.isEmpty()) {
      return List.of();
    }
    Instant since = clock.instant().minus(heardWithin);
    List<String> members = leader.get().getMembersList();
    return groups.getOrDefault(node, Map.of()).values().stream()
        .filter(seen -> seen.at().isAfter(since))
        .map(Seen::status)
        .filter(status -> !members.contains(status.getReplicaId()))
        .toList();
  }

  /** Every replica id the node's processes have reported under (members or not). */
  synchronized Set<String> idsHeard(String node) {
    return Set.copyOf(groups.getOrDefault(node, Map.of()).keySet());
  }
}
