package io.shardcluster.node;

import io.grpc.stub.ServerCallStreamObserver;
import io.shardcluster.errors.ShardClusterException;

/**
 * Back-pressure for a server stream sent from a thread of its own: blocks that thread until gRPC
 * can take another message, or the call is cancelled. Create it in the RPC handler itself (gRPC
 * takes the handlers only there).
 */
final class FlowControl {
  private final ServerCallStreamObserver<?> call;
  private boolean cancelled;

  FlowControl(ServerCallStreamObserver<?> call) {
    this.call = call;
    call.setOnReadyHandler(this::wake);
    call.setOnCancelHandler(
        () -> {
          synchronized (this) {
            cancelled = true;
            notifyAll();
          }
        });
  }

  private synchronized void wake() {
    notifyAll();
  }

  /** Waits until the stream can take a message; UNAVAILABLE if the receiver cancelled it. */
  synchronized void awaitReady() {
    while (!cancelled && !call.isReady()) {
      try {
        wait(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ShardClusterException.unavailable("interrupted while streaming");
      }
    }
    if (cancelled) {
      throw ShardClusterException.unavailable("the receiver cancelled the stream");
    }
  }
}
