package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.proto.v1.NodeStats;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class LivenessTest {
  /** A clock tests move by hand. */
  static final class ManualClock extends Clock {
    private Instant now = Instant.parse("2026-01-01T00:00:00Z");

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  private final ManualClock clock = new ManualClock();
  private final Liveness liveness = new Liveness(clock, Duration.ofSeconds(3));

  @Test
  void state_upWhileHeartbeating_downAfterTimeout_upAgainOnHeartbeat() {
    liveness.heartbeat("n1", NodeStats.getDefaultInstance());
    clock.advance(Duration.ofMillis(2900));
    assertThat(liveness.state("n1")).isEqualTo(NodeStateProto.UP);

    clock.advance(Duration.ofMillis(200));
    assertThat(liveness.state("n1")).isEqualTo(NodeStateProto.DOWN);

    liveness.heartbeat("n1", NodeStats.newBuilder().setKeys(5).build());
    assertThat(liveness.state("n1")).isEqualTo(NodeStateProto.UP);
    assertThat(liveness.lastHeartbeat("n1").orElseThrow().stats().getKeys()).isEqualTo(5);
  }

  @Test
  void state_unknownNode_hasOneTimeoutOfGraceAfterStart() {
    assertThat(liveness.state("restarted")).isEqualTo(NodeStateProto.UP);
    clock.advance(Duration.ofSeconds(3));
    assertThat(liveness.state("restarted")).isEqualTo(NodeStateProto.DOWN);
  }
}
