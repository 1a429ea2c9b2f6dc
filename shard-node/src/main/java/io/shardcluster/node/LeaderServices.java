package io.shardcluster.node;

import io.grpc.HandlerRegistry;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.StatusRuntimeException;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.rpc.StatusErrors;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The node's gRPC methods as the server finds them: those of the services of the current {@link
 * LeaderStack} while this process leads its shard (always, for a shard of one process), and
 * otherwise an answer of NOT_LEADER naming the leader, for every method of those services.
 */
final class LeaderServices extends HandlerRegistry {
  private final Map<String, ServerMethodDefinition<?, ?>> refusals = new HashMap<>();
  private volatile Map<String, ServerMethodDefinition<?, ?>> serving = Map.of();

  /**
   * @param services the services a leader serves
   * @param refusal the error to answer while this process does not lead
   */
  LeaderServices(List<ServiceDescriptor> services, Supplier<ShardClusterException> refusal) {
    for (ServiceDescriptor service : services) {
      for (MethodDescriptor<?, ?> method : service.getMethods()) {
        refusals.put(method.getFullMethodName(), refuse(method, refusal));
      }
    }
  }

  /** Serves these services' methods from now on. */
  void serve(List<ServerServiceDefinition> services) {
    Map<String, ServerMethodDefinition<?, ?>> methods = new HashMap<>();
    for (ServerServiceDefinition service : services) {
      for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
        methods.put(method.getMethodDescriptor().getFullMethodName(), method);
      }
    }
    serving = Map.copyOf(methods);
  }

  /** Refuses every method from now on. */
  void refuse() {
    serving = Map.of();
  }

  @Override
  public @Nullable ServerMethodDefinition<?, ?> lookupMethod(
      String methodName, @Nullable String authority) {
    ServerMethodDefinition<?, ?> method = serving.get(methodName);
    return method != null ? method : refusals.get(methodName);
  }

  private static <Q, R> ServerMethodDefinition<Q, R> refuse(
      MethodDescriptor<Q, R> method, Supplier<ShardClusterException> refusal) {
    ServerCallHandler<Q, R> handler =
        (call, headers) -> {
          close(call, refusal.get());
          return new ServerCall.Listener<>() {};
        };
    return ServerMethodDefinition.create(method, handler);
  }

  private static void close(ServerCall<?, ?> call, ShardClusterException error) {
    StatusRuntimeException status = StatusErrors.toStatus(error);
    Metadata trailers = status.getTrailers();
    call.close(status.getStatus(), trailers == null ? new Metadata() : trailers);
  }

  // Plain writes need no read-index round: they go through the group's log, which a process
  // that no longer leads cannot commit to (the append fails with NOT_LEADER).
  private static final Set<String> PLAIN_WRITES =
      Set.of(
          ShardNodeGrpc.getPutMethod().getFullMethodName(),
          ShardNodeGrpc.getDeleteMethod().getFullMethodName(),
          ShardNodeGrpc.getMultiPutMethod().getFullMethodName());

  /**
   * Lets a call in only once the replica group confirms that this process still leads, after the
   * call arrived (a read-index round shared by concurrent calls): a deposed leader that has not
   * heard of the election answers NOT_LEADER rather than serving a stale read. A call whose caller
   * gave up meanwhile is dropped, so that it cannot overtake the caller's next write to the same
   * key. Blocks the calling thread: servers with a replica group run handlers on a pool.
   */
  static ServerInterceptor confirmedBy(ReplicaGroup group) {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        try {
          if (!PLAIN_WRITES.contains(call.getMethodDescriptor().getFullMethodName())) {
            group.awaitLinearizable();
          }
          ReplicaGroup.refuseIfCancelled();
        } catch (ShardClusterException e) {
          close(call, e);
          return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
      }
    };
  }
}
