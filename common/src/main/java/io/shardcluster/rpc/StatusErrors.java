package io.shardcluster.rpc;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.NotLeaderException;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.proto.v1.NotLeader;
import io.shardcluster.proto.v1.WrongShard;
import java.util.Locale;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * The one mapping between {@link ShardClusterException} and gRPC status, used by every server to
 * answer and by the client to read answers. Wrong-shard errors travel as FAILED_PRECONDITION with a
 * {@link WrongShard} detail, not-leader answers as UNAVAILABLE with a {@link NotLeader} detail.
 */
public final class StatusErrors {
  private static final Logger logger = Logger.getLogger(StatusErrors.class.getName());

  private StatusErrors() {}

  /** The status a server answers for a failure. Unexpected exceptions are logged as bugs. */
  public static StatusRuntimeException toStatus(Throwable failure) {
    Throwable t = unwrap(failure);
    if (t instanceof StatusRuntimeException sre) {
      return sre;
    }
    if (t instanceof WrongShardException wrong) {
      WrongShard detail =
          WrongShard.newBuilder()
              .setEpoch(wrong.epoch())
              .setNode(wrong.node())
              .setOwner(wrong.owner().orElse(""))
              .setOwnerAddress(wrong.ownerAddress().orElse(""))
              .build();
      return StatusProto.toStatusRuntimeException(
          com.google.rpc.Status.newBuilder()
              .setCode(Status.Code.FAILED_PRECONDITION.value())
              .setMessage(wrong.getMessage())
              .addDetails(Any.pack(detail))
              .build());
    }
    if (t instanceof NotLeaderException notLeader) {
      NotLeader detail =
          NotLeader.newBuilder()
              .setNode(notLeader.node())
              .setLeaderAddress(notLeader.leaderAddress().orElse(""))
              .build();
      return StatusProto.toStatusRuntimeException(
          com.google.rpc.Status.newBuilder()
              .setCode(Status.Code.UNAVAILABLE.value())
              .setMessage(notLeader.getMessage())
              .addDetails(Any.pack(detail))
              .build());
    }
    if (t instanceof ShardClusterException e) {
      return toGrpcCode(e.code()).toStatus().withDescription(e.getMessage()).asRuntimeException();
    }
    logger.log(Level.SEVERE, "unexpected failure", t);
    return Status.INTERNAL
        .withDescription("internal error: " + t.getClass().getSimpleName() + ": " + t.getMessage())
        .asRuntimeException();
  }

  /** The exception a caller sees for a failed call. */
  public static ShardClusterException fromStatus(Throwable failure) {
    Throwable t = unwrap(failure);
    if (t instanceof ShardClusterException e) {
      return e;
    }
    if (t instanceof CancellationException) {
      return new ShardClusterException(ErrorCode.CANCELLED, "cancelled", t);
    }
    Status status;
    if (t instanceof StatusRuntimeException sre) {
      status = sre.getStatus();
    } else if (t instanceof StatusException se) {
      status = se.getStatus();
    } else {
      return new ShardClusterException(ErrorCode.INTERNAL, t.toString(), t);
    }
    if (status.getCode() == Status.Code.FAILED_PRECONDITION) {
      WrongShard detail = detail(t, WrongShard.class);
      if (detail != null) {
        return new WrongShardException(
            detail.getEpoch(), detail.getNode(), detail.getOwner(), detail.getOwnerAddress());
      }
    }
    if (status.getCode() == Status.Code.UNAVAILABLE) {
      NotLeader detail = detail(t, NotLeader.class);
      if (detail != null) {
        return new NotLeaderException(detail.getNode(), detail.getLeaderAddress());
      }
    }
    String description = status.getDescription();
    if (description == null || description.isEmpty()) {
      description = status.getCode().toString().toLowerCase(Locale.ROOT).replace('_', ' ');
    }
    if (status.getCause() != null && status.getCode() == Status.Code.UNAVAILABLE) {
      description = description + " (" + status.getCause().getMessage() + ")";
    }
    return new ShardClusterException(fromGrpcCode(status.getCode()), description, t);
  }

  private static <T extends com.google.protobuf.Message> @Nullable T detail(
      Throwable t, Class<T> type) {
    com.google.rpc.Status rich = StatusProto.fromThrowable(t);
    if (rich == null) {
      return null;
    }
    for (Any any : rich.getDetailsList()) {
      if (any.is(type)) {
        try {
          return any.unpack(type);
        } catch (InvalidProtocolBufferException e) {
          return null;
        }
      }
    }
    return null;
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  static Status.Code toGrpcCode(ErrorCode code) {
    return switch (code) {
      case INVALID_ARGUMENT -> Status.Code.INVALID_ARGUMENT;
      case NOT_FOUND -> Status.Code.NOT_FOUND;
      case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
      case FAILED_PRECONDITION, WRONG_SHARD -> Status.Code.FAILED_PRECONDITION;
      case UNAVAILABLE, NOT_LEADER -> Status.Code.UNAVAILABLE;
      case DEADLINE_EXCEEDED -> Status.Code.DEADLINE_EXCEEDED;
      case RESOURCE_EXHAUSTED -> Status.Code.RESOURCE_EXHAUSTED;
      case ABORTED -> Status.Code.ABORTED;
      case CANCELLED -> Status.Code.CANCELLED;
      case UNIMPLEMENTED -> Status.Code.UNIMPLEMENTED;
      case DATA_LOSS -> Status.Code.DATA_LOSS;
      case INTERNAL -> Status.Code.INTERNAL;
    };
  }

  static ErrorCode fromGrpcCode(Status.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT, OUT_OF_RANGE -> ErrorCode.INVALID_ARGUMENT;
      case NOT_FOUND -> ErrorCode.NOT_FOUND;
      case ALREADY_EXISTS -> ErrorCode.ALREADY_EXISTS;
      case FAILED_PRECONDITION -> ErrorCode.FAILED_PRECONDITION;
      case UNAVAILABLE -> ErrorCode.UNAVAILABLE;
      case DEADLINE_EXCEEDED -> ErrorCode.DEADLINE_EXCEEDED;
      case RESOURCE_EXHAUSTED -> ErrorCode.RESOURCE_EXHAUSTED;
      case ABORTED -> ErrorCode.ABORTED;
      case CANCELLED -> ErrorCode.CANCELLED;
      case UNIMPLEMENTED -> ErrorCode.UNIMPLEMENTED;
      case DATA_LOSS -> ErrorCode.DATA_LOSS;
      default -> ErrorCode.INTERNAL;
    };
  }
}
