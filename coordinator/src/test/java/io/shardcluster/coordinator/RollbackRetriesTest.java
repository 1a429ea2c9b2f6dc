package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import org.junit.jupiter.api.Test;

class RollbackRetriesTest {
  private static final String DRAIN = "drain node-2";

  private static Migration migration(
      String id, String reason, long createdMs, int attempt, MigrationPhase phase) {
    return Migration.newBuilder()
        .setId(id)
        .setReason(reason)
        .setCreatedMs(createdMs)
        .setAttempt(attempt)
        .setPhase(phase)
        .setFinishedMs(
            phase == MigrationPhase.DONE || phase == MigrationPhase.CANCELLED ? 5_000 : 0)
        .build();
  }

  private static Migration rolledBackByFailure(String id, long createdMs, int attempt) {
    return migration(id, DRAIN, createdMs, attempt, MigrationPhase.CANCELLED).toBuilder()
        .setRetryable(true)
        .build();
  }

  private static ClusterState state(Migration... migrations) {
    ClusterState state = ClusterState.initial();
    for (Migration migration : migrations) {
      state = state.withMigration(migration);
    }
    return state;
  }

  private static RollbackRetries.Round latest(ClusterState state) {
    return RollbackRetries.latest(state, DRAIN).orElseThrow();
  }

  @Test
  void latest_isTheRoundCreatedLast_ofThatReasonOnly() {
    ClusterState state =
        state(
            migration("m1", DRAIN, 100, 1, MigrationPhase.DONE),
            rolledBackByFailure("m2", 100, 1),
            migration("m3", "rebalance", 200, 1, MigrationPhase.DONE),
            migration("m4", DRAIN, 300, 2, MigrationPhase.COPYING));

    assertThat(latest(state).migrations()).extracting(Migration::getId).containsExactly("m4");
    assertThat(latest(state).attempt()).isEqualTo(2);
    assertThat(RollbackRetries.latest(state, "join node-9")).isEmpty();

    ClusterState firstRound =
        state(
            migration("m1", DRAIN, 100, 1, MigrationPhase.DONE), rolledBackByFailure("m2", 100, 1));
    assertThat(latest(firstRound).migrations())
        .extracting(Migration::getId)
        .containsExactly("m1", "m2");
  }

  @Test
  void aRoundAFailureRolledBack_retries_afterADelayThatDoublesWithEachAttempt() {
    RollbackRetries.Round first =
        latest(
            state(
                migration("m1", DRAIN, 100, 1, MigrationPhase.DONE),
                rolledBackByFailure("m2", 100, 1)));
    assertThat(first.retries()).isTrue();
    assertThat(first.gaveUp()).isFalse();
    assertThat(first.rolledBack()).extracting(Migration::getId).containsExactly("m2");
    assertThat(first.retryAtMs()).isEqualTo(5_000 + RollbackRetries.FIRST_DELAY_MS);

    RollbackRetries.Round third = latest(state(rolledBackByFailure("m7", 900, 3)));
    assertThat(third.retries()).isTrue();
    assertThat(third.retryAtMs()).isEqualTo(5_000 + 4 * RollbackRetries.FIRST_DELAY_MS);
  }

  @Test
  void aRoundStillRunning_orAllDone_doesNotRetry() {
    assertThat(
            latest(
                    state(
                        rolledBackByFailure("m1", 100, 1),
                        migration("m2", DRAIN, 100, 1, MigrationPhase.CUTOVER)))
                .retries())
        .isFalse();
    assertThat(latest(state(migration("m1", DRAIN, 100, 1, MigrationPhase.DONE))).retries())
        .isFalse();
  }

  @Test
  void anOperatorsCancel_stopsTheRetries() {
    RollbackRetries.Round round =
        latest(
            state(
                rolledBackByFailure("m1", 100, 1),
                migration("m2", DRAIN, 100, 1, MigrationPhase.CANCELLED)));
    assertThat(round.retries()).isFalse();
    assertThat(round.gaveUp()).isFalse();
  }

  @Test
  void theLastAttempt_failing_givesUp() {
    RollbackRetries.Round last =
        latest(state(rolledBackByFailure("m9", 900, RollbackRetries.MAX_ATTEMPTS)));
    assertThat(last.retries()).isFalse();
    assertThat(last.gaveUp()).isTrue();
  }

  @Test
  void recordsWithoutAnAttempt_countAsTheFirst() {
    RollbackRetries.Round round = latest(state(rolledBackByFailure("m1", 100, 0)));
    assertThat(round.attempt()).isEqualTo(1);
    assertThat(round.retries()).isTrue();
  }
}
