package io.shardcluster.rpc;

import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/** A future completed by the single response (or the error) of an async unary call. */
public final class UnaryFuture<T> extends CompletableFuture<T> implements StreamObserver<T> {
  private @Nullable T value;

  @Override
  public void onNext(T next) {
    value = next;
  }

  @Override
  public void onError(Throwable t) {
    completeExceptionally(t);
  }

  @Override
  public void onCompleted() {
    T response = value;
    if (response == null) {
      // gRPC sends a unary call's one message before completing it; this would be a broken peer.
      completeExceptionally(new IllegalStateException("the call completed without a response"));
    } else {
      complete(response);
    }
  }
}
