package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.proto.v1.ReplicaInfo;
import io.shardcluster.proto.v1.ReplicaStatus;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReplicasTest {
  private final LivenessTest.ManualClock clock = new LivenessTest.ManualClock();
  private final Replicas replicas = new Replicas(clock);

  private static ReplicaStatus status(String id, boolean leader, long term, String... members) {
    return ReplicaStatus.newBuilder()
        .setReplicaId(id)
        .setAddress("h:" + id)
        .setLeader(leader)
        .setTerm(term)
        .setAppliedIndex(100)
        .putCommitIndexes("a", 100)
        .putCommitIndexes("b", 97)
        .addAllMembers(List.of(members))
        .build();
  }

  @Test
  void theLeadersReport_isFollowed_onlyAtTheHighestTermHeard() {
    assertThat(replicas.report("node-1", status("a", true, 3, "a", "b", "c"))).isTrue();
    assertThat(replicas.report("node-1", status("b", true, 2, "a", "b", "c")))
        .as("a deposed leader of an older term")
        .isFalse();
    assertThat(replicas.report("node-1", status("b", false, 3, "a", "b", "c"))).isFalse();
  }

  @Test
  void membersOfTheConfigurationNeverHeardFrom_areListedAsNotHeard_afterThoseHeard() {
    replicas.report("node-1", status("b", false, 3, "a", "b", "c"));
    clock.advance(Duration.ofMillis(400));
    replicas.report("node-1", status("a", true, 3, "a", "b", "c"));
    clock.advance(Duration.ofMillis(100));

    List<ReplicaInfo> group = replicas.of("node-1");

    assertThat(group).extracting(ReplicaInfo::getReplicaId).containsExactly("a", "b", "c");
    assertThat(group).extracting(ReplicaInfo::getHeard).containsExactly(true, true, false);
    assertThat(group.get(0).getLeader()).isTrue();
    assertThat(group.get(1).getLag()).isEqualTo(3);
    assertThat(group.get(1).getMillisSinceHeartbeat()).isEqualTo(500);
    assertThat(replicas.of("node-2")).as("a lone node").isEmpty();
  }
}
