package io.shardcluster.node;

import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import io.shardcluster.rpc.StatusErrors;
import io.shardcluster.server.ServerResponses;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * Answers a node's unary calls. The body runs on the calling thread (often one of gRPC's I/O
 * threads) unless it must wait: for a group lookup at the coordinator, which then goes on without
 * holding the thread and the body runs again on {@code mayWait} once the answer is in (a failed
 * lookup is the answer); or for another node's answer about a transaction, and then the body runs
 * again on {@code mayWait}, where it may wait. The body must check ownership before it changes
 * anything, as Shard does.
 */
final class UnaryAnswers {
  private final Ownership ownership;
  private final Executor mayWait;

  UnaryAnswers(Ownership ownership, Executor mayWait) {
    this.ownership = ownership;
    this.mayWait = mayWait;
  }

  <T> void answer(StreamObserver<T> observer, Supplier<T> body) {
    T response;
    try {
      response = Ownership.withoutWaiting(() -> Transactions.withoutBlocking(body));
    } catch (Transactions.MustBlock needed) {
      Context context = Context.current();
      mayWait.execute(() -> context.run(() -> ServerResponses.unary(observer, body)));
      return;
    } catch (Ownership.LookupNeeded needed) {
      Context context = Context.current();
      var unused =
          ownership
              .lookUp(needed)
              .whenCompleteAsync(
                  (answer, error) -> {
                    if (error != null) {
                      observer.onError(StatusErrors.toStatus(error));
                    } else {
                      context.run(() -> ServerResponses.unary(observer, body));
                    }
                  },
                  mayWait);
      return;
    } catch (RuntimeException | Error e) {
      observer.onError(StatusErrors.toStatus(e));
      return;
    }
    observer.onNext(response);
    observer.onCompleted();
  }
}
