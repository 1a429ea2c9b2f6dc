package io.shardcluster.node;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Linearizable reads at the cost of one read-index round per batch of reads, not per read: a caller
 * waits for a round that started after it arrived (so it sees every write acknowledged before it),
 * and every caller that arrives while a round runs shares the next one.
 */
final class ReadBarrier {
  private final Supplier<CompletableFuture<Void>> readIndex;
  private final Executor rounds;
  private @Nullable CompletableFuture<Void> next;
  private boolean running;

  /**
   * @param readIndex starts one round: completes once this replica may serve reads as leader
   * @param rounds where rounds start: not on the thread that completed the last one (Ratis
   *     completes a round on its state machine thread, and starting one there deadlocks)
   */
  ReadBarrier(Supplier<CompletableFuture<Void>> readIndex, Executor rounds) {
    this.readIndex = readIndex;
    this.rounds = rounds;
  }

  /** Completes once a round that started after this call has confirmed the leadership. */
  synchronized CompletableFuture<Void> await() {
    CompletableFuture<Void> waiting = next;
    if (waiting == null) {
      waiting = new CompletableFuture<>();
      next = waiting;
      if (!running) {
        running = true;
        rounds.execute(this::startRound);
      }
    }
    return waiting;
  }

  private void startRound() {
    CompletableFuture<Void> round;
    synchronized (this) {
      round = next;
      if (round == null) {
        running = false;
        return;
      }
      next = null;
    }
    CompletableFuture<Void> started;
    try {
      started = readIndex.get();
    } catch (RuntimeException e) {
      started = CompletableFuture.failedFuture(e);
    }
    var unused =
        started.whenComplete(
            (ignored, failure) -> {
              if (failure == null) {
                round.complete(null);
              } else {
                round.completeExceptionally(failure);
              }
              rounds.execute(this::startRound);
            });
  }
}
