package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.errors.NotLeaderException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

class ReadBarrierTest {
  private final List<CompletableFuture<Void>> rounds = new ArrayList<>();
  private final ReadBarrier barrier =
      new ReadBarrier(
          () -> {
            CompletableFuture<Void> round = new CompletableFuture<>();
            rounds.add(round);
            return round;
          },
          Runnable::run);

  @Test
  void callersDuringARound_shareTheNextRound_notTheRunningOne() {
    CompletableFuture<Void> first = barrier.await();
    assertThat(rounds).hasSize(1);
    CompletableFuture<Void> second = barrier.await();
    CompletableFuture<Void> third = barrier.await();
    assertThat(second).isSameAs(third);
    assertThat(rounds).hasSize(1);

    rounds.get(0).complete(null);
    assertThat(first).isDone();
    assertThat(second).as("it arrived after the first round started").isNotDone();
    assertThat(rounds).hasSize(2);

    rounds.get(1).complete(null);
    assertThat(second).isDone();
    assertThat(rounds).as("nobody waits: no third round").hasSize(2);
  }

  @Test
  void aFailedRound_failsItsCallers_andTheNextCallStartsAFreshOne() throws Exception {
    CompletableFuture<Void> waiting = barrier.await();
    rounds.get(0).completeExceptionally(new NotLeaderException("node-1", "h:2"));
    assertThat(waiting).isCompletedExceptionally();
    try {
      waiting.get();
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(NotLeaderException.class);
    }
    CompletableFuture<Void> again = barrier.await();
    assertThat(rounds).hasSize(2);
    rounds.get(1).complete(null);
    assertThat(again).isDone().isNotCompletedExceptionally();
  }
}
