package io.shardcluster.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.NotLeaderException;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import org.junit.jupiter.api.Test;

class StatusErrorsTest {
  @Test
  void wrongShard_roundTrips_withEpochAndOwner() {
    StatusRuntimeException status =
        StatusErrors.toStatus(new WrongShardException(12, "n1", "n2", "127.0.0.1:7402"));
    assertThat(status.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);

    ShardClusterException back = StatusErrors.fromStatus(status);
    assertThat(back).isInstanceOf(WrongShardException.class);
    WrongShardException wrong = (WrongShardException) back;
    assertThat(wrong.epoch()).isEqualTo(12);
    assertThat(wrong.node()).isEqualTo("n1");
    assertThat(wrong.owner()).contains("n2");
    assertThat(wrong.ownerAddress()).contains("127.0.0.1:7402");
  }

  @Test
  void notLeader_roundTripsWithTheLeadersAddress_asUnavailable() {
    StatusRuntimeException status =
        StatusErrors.toStatus(new NotLeaderException("node-1", "127.0.0.1:7412"));
    assertThat(status.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    ShardClusterException back = StatusErrors.fromStatus(status);
    assertThat(back).isInstanceOf(NotLeaderException.class);
    assertThat(back.code()).isEqualTo(ErrorCode.NOT_LEADER);
    assertThat(((NotLeaderException) back).node()).isEqualTo("node-1");
    assertThat(((NotLeaderException) back).leaderAddress()).contains("127.0.0.1:7412");
    assertThat(
            ((NotLeaderException)
                    StatusErrors.fromStatus(
                        StatusErrors.toStatus(new NotLeaderException("node-1", ""))))
                .leaderAddress())
        .isEmpty();
  }

  @Test
  void everyCode_mapsToItsGrpcCode_andBack() {
    for (ErrorCode code : ErrorCode.values()) {
      if (code == ErrorCode.WRONG_SHARD || code == ErrorCode.NOT_LEADER) {
        continue; // they travel with a detail: see their own tests
      }
      StatusRuntimeException status =
          StatusErrors.toStatus(new ShardClusterException(code, "m " + code));
      assertThat(status.getStatus().getDescription()).isEqualTo("m " + code);
      assertThat(StatusErrors.fromStatus(status).code()).isEqualTo(code);
    }
  }

  @Test
  void invalidArgument_becomesInvalidArgumentStatus() {
    StatusRuntimeException status =
        StatusErrors.toStatus(ShardClusterException.invalidArgument("key must not be empty"));
    assertThat(status.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void unexpectedException_isInternalWithoutStackTraceInDescription() {
    StatusRuntimeException status = StatusErrors.toStatus(new IllegalStateException("boom"));
    assertThat(status.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(status.getStatus().getDescription())
        .isEqualTo("internal error: IllegalStateException: boom");
  }

  @Test
  void plainFailedPrecondition_isNotWrongShard() {
    ShardClusterException e =
        StatusErrors.fromStatus(
            Status.FAILED_PRECONDITION.withDescription("x").asRuntimeException());
    assertThat(e.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION);
  }
}
