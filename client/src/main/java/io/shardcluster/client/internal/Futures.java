package io.shardcluster.client.internal;

import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.rpc.StatusErrors;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/** Waiting for the client's futures, with their failures as {@link ShardClusterException}s. */
public final class Futures {
  private Futures() {}

  /**
   * The future's value; its failure mapped to a ShardClusterException; CANCELLED if interrupted.
   */
  public static <T> T await(CompletableFuture<T> future) {
    try {
      return future.get();
    } catch (ExecutionException e) {
      throw StatusErrors.fromStatus(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      future.cancel(true);
      throw new ShardClusterException(ErrorCode.CANCELLED, "interrupted");
    }
  }
}
