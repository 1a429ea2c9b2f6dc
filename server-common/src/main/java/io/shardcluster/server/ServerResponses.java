package io.shardcluster.server;

import io.grpc.stub.StreamObserver;
import io.shardcluster.rpc.StatusErrors;
import java.util.function.Supplier;

/** Completes unary server calls, answering failures through {@link StatusErrors}. */
public final class ServerResponses {
  private ServerResponses() {}

  /** Computes the response and sends it, or sends the mapped error. */
  public static <T> void unary(StreamObserver<T> observer, Supplier<T> body) {
    T response;
    try {
      response = body.get();
    } catch (RuntimeException | Error e) {
      observer.onError(StatusErrors.toStatus(e));
      return;
    }
    observer.onNext(response);
    observer.onCompleted();
  }
}
