package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.proto.v1.ReplicaInfo;
import io.shardcluster.proto.v1.ReplicaStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RepairPlannerTest {
  private static final Duration AFTER = Duration.ofSeconds(30);
  private static final Duration LONG_UP = Duration.ofMinutes(10);

  private static ReplicaInfo replica(String id, boolean leader, long silentMillis, String zone) {
    return ReplicaInfo.newBuilder()
        .setReplicaId(id)
        .setLeader(leader)
        .setHeard(true)
        .setMillisSinceHeartbeat(silentMillis)
        .setZone(zone)
        .build();
  }

  private static final ReplicaStatus LEADER =
      ReplicaStatus.newBuilder()
          .setReplicaId("a")
          .setLeader(true)
          .addAllMembers(List.of("a", "b", "c"))
          .addAllPeers(List.of("a@h:1/1001", "b@h:2/1002", "c@h:3/1003"))
          .build();

  private static RepairPlanner.Group group(
      List<ReplicaInfo> replicas, Optional<ReplicaStatus> leader, List<ReplicaStatus> outsiders) {
    return new RepairPlanner.Group(
        "node-1", replicas, leader, outsiders, Set.of("a", "b", "c", "d"));
  }

  private static Spares.Spare spare(String address, String zone) {
    return new Spares.Spare(address, 2000, zone, Instant.EPOCH);
  }

  @Test
  void aMemberSilentPastTheTimeout_isReplacedByASpare_fromAZoneTheGroupLacksFirst() {
    RepairPlanner.Group group =
        group(
            List.of(
                replica("a", true, 100, "z1"),
                replica("b", false, 200, "z2"),
                replica("c", false, 31_000, "z3")),
            Optional.of(LEADER),
            List.of());
    List<Spares.Spare> spares =
        List.of(spare("h:7", "z1"), spare("h:8", ""), spare("h:9", "z3"), spare("h:10", "z2"));

    RepairPlanner.Plan plan = RepairPlanner.plan(group, spares, AFTER, LONG_UP).orElseThrow();

    // z3 is the dead member's zone: no live member is there now.
    assertThat(plan.spareAddress()).isEqualTo("h:9");
    assertThat(plan.deadReplica()).isEqualTo("c");
    assertThat(plan.newReplica()).as("d was heard once: the next free id").isEqualTo("e");
    assertThat(plan.newPeer()).isEqualTo("e@h:9/2000");
    assertThat(plan.peers()).containsExactly("a@h:1/1001", "b@h:2/1002", "e@h:9/2000");

    assertThat(
            RepairPlanner.plan(group, List.of(spare("h:7", "z1"), spare("h:8", "")), AFTER, LONG_UP)
                .orElseThrow()
                .spareAddress())
        .as("a spare without a zone before one in a zone the group uses")
        .isEqualTo("h:8");
  }

  @Test
  void nothingIsPlanned_withoutALeader_aSpare_orAMemberDownLongEnough() {
    List<ReplicaInfo> oneDead =
        List.of(
            replica("a", true, 100, ""),
            replica("b", false, 200, ""),
            replica("c", false, 31_000, ""));
    List<Spares.Spare> spares = List.of(spare("h:9", ""));

    assertThat(
            RepairPlanner.plan(group(oneDead, Optional.empty(), List.of()), spares, AFTER, LONG_UP))
        .isEmpty();
    assertThat(
            RepairPlanner.plan(
                group(oneDead, Optional.of(LEADER), List.of()), List.of(), AFTER, LONG_UP))
        .isEmpty();
    List<ReplicaInfo> allLive =
        List.of(
            replica("a", true, 100, ""),
            replica("b", false, 200, ""),
            replica("c", false, 29_000, ""));
    assertThat(
            RepairPlanner.plan(
                group(allLive, Optional.of(LEADER), List.of()), spares, AFTER, LONG_UP))
        .isEmpty();
  }

  @Test
  void aMemberNeverHeard_countsFromTheCoordinatorsStart() {
    List<ReplicaInfo> replicas =
        List.of(
            replica("a", true, 100, ""),
            replica("b", false, 200, ""),
            ReplicaInfo.newBuilder().setReplicaId("c").setHeard(false).build());
    RepairPlanner.Group group = group(replicas, Optional.of(LEADER), List.of());
    List<Spares.Spare> spares = List.of(spare("h:9", ""));

    assertThat(RepairPlanner.plan(group, spares, AFTER, Duration.ofSeconds(5))).isEmpty();
    assertThat(RepairPlanner.plan(group, spares, AFTER, LONG_UP).orElseThrow().deadReplica())
        .isEqualTo("c");
  }

  @Test
  void aProcessAdoptedEarlier_finishesTheRepair_beforeAnySpareIsTaken() {
    ReplicaStatus adopted =
        ReplicaStatus.newBuilder()
            .setReplicaId("d")
            .addAllPeers(List.of("a@h:1/1001", "b@h:2/1002", "d@h:9/2000"))
            .build();
    RepairPlanner.Group group =
        group(
            List.of(
                replica("a", true, 100, ""),
                replica("b", false, 200, ""),
                replica("c", false, 31_000, "")),
            Optional.of(LEADER),
            List.of(adopted));

    RepairPlanner.Plan plan =
        RepairPlanner.plan(group, List.of(spare("h:5", "")), AFTER, LONG_UP).orElseThrow();

    assertThat(plan.adoptsSpare()).isFalse();
    assertThat(plan.newPeer()).isEqualTo("d@h:9/2000");
    assertThat(plan.deadReplica()).isEqualTo("c");
  }
}
