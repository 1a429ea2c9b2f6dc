package io.shardcluster.rpc;

import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;

/** A future completed by the single response (or the error) of an async unary call. */
public final class UnaryFuture<T> extends CompletableFuture<T> implements StreamObserver<T> {
  private T value;

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
    complete(value);
  }
}
