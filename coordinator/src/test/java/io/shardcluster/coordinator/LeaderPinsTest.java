package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.proto.v1.ReplicaInfo;
import java.util.List;
import org.junit.jupiter.api.Test;

class LeaderPinsTest {
  private static ReplicaInfo replica(
      String id, boolean leader, String zone, long lag, long silentMillis) {
    return ReplicaInfo.newBuilder()
        .setReplicaId(id)
        .setLeader(leader)
        .setZone(zone)
        .setLag(lag)
        .setMillisSinceHeartbeat(silentMillis)
        .setHeard(true)
        .build();
  }

  @Test
  void theLeadershipGoesToTheLiveCaughtUpMemberInThePinnedZone_leastBehindFirst() {
    List<ReplicaInfo> group =
        List.of(
            replica("a", true, "z1", 0, 100),
            replica("b", false, "z2", 40, 200),
            replica("c", false, "z2", 3, 200),
            replica("d", false, "z3", 0, 200));

    assertThat(LeaderPins.target("z2", group)).contains("c");
    assertThat(LeaderPins.target("z1", group)).as("the leader is in its zone").isEmpty();
    assertThat(LeaderPins.target("", group)).as("not pinned").isEmpty();
    assertThat(LeaderPins.target("z9", group)).as("no member in the zone").isEmpty();
  }

  @Test
  void aSilentOrLaggingMemberIsNotGivenTheLead_norIsAnyWithoutALeader() {
    assertThat(
            LeaderPins.target(
                "z2",
                List.of(
                    replica("a", true, "z1", 0, 100),
                    replica("b", false, "z2", 0, LeaderPins.MAX_SILENT_MILLIS + 1),
                    replica("c", false, "z2", LeaderPins.MAX_LAG + 1, 100))))
        .isEmpty();
    assertThat(
            LeaderPins.target(
                "z2",
                List.of(replica("a", false, "z1", 0, 100), replica("b", false, "z2", 0, 100))))
        .isEmpty();
  }
}
