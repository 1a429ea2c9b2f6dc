package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.shardcluster.proto.v1.DirectoryEntryProto;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.proto.v1.MovingSetProto;
import java.util.List;
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

  /** A directory change's migration of an entry (or a group) of keyspace "users". */
  private static Migration change(
      String id, String reason, String key, boolean prefix, long createdMs, boolean failed) {
    DirectoryEntryProto entry =
        DirectoryEntryProto.newBuilder()
            .setKey(ByteString.copyFromUtf8(key))
            .setPrefix(prefix)
            .setOwner("node-2")
            .build();
    MovingSetProto.Builder moving = MovingSetProto.newBuilder().setKeyspace("users");
    Migration.Builder migration =
        migration(id, reason, createdMs, 1, failed ? MigrationPhase.CANCELLED : MigrationPhase.DONE)
            .toBuilder()
            .setRetryable(failed);
    switch (reason) {
      case "directory remove" -> migration.addRemoves(entry);
      case "group move" -> {
        moving.addGroups(ByteString.copyFromUtf8(key));
        migration.setReason("directory move");
      }
      default -> moving.addEntries(entry);
    }
    return migration.setMoving(moving).build();
  }

  @Test
  void directoryChanges_haveTheirRounds_perEntryOrGroup_theLatestChangeOfItCounting() {
    ClusterState state =
        state(
            change("m1", "directory set", "hot:", true, 100, true),
            change("m2", "directory set", "pinned", false, 200, true),
            migration("m3", "rebalance", 250, 1, MigrationPhase.DONE),
            change("m4", "group move", "acme", false, 300, true),
            // A later change of the same prefix, a removal, answers the failed set.
            change("m5", "directory remove", "hot:", true, 400, false),
            // The key "hot:" is another entry than the prefix "hot:".
            change("m6", "directory move", "hot:", false, 500, true));

    List<RollbackRetries.Round> rounds = RollbackRetries.latestDirectoryChanges(state);

    assertThat(rounds)
        .extracting(round -> round.migrations().get(0).getId())
        .containsExactly("m5", "m2", "m4", "m6");
    assertThat(rounds)
        .extracting(RollbackRetries.Round::retries)
        .containsExactly(false, true, true, true);
  }

  @Test
  void aDirectoryChangeAnsweredByAChangeMadeAtOnce_isNotTriedAgain() {
    Migration failed = change("m1", "directory set", "pinned", false, 100, true);
    ClusterState state = state(failed, change("m2", "directory set", "other", false, 200, true));
    io.shardcluster.routing.DirectoryEntry pinned =
        new io.shardcluster.routing.DirectoryEntry(
            ByteString.copyFromUtf8("pinned"), false, "node-1");

    assertThat(RollbackRetries.unanswered(state, "users", pinned))
        .extracting(Migration::getId)
        .containsExactly("m1");
    assertThat(RollbackRetries.unanswered(state, "tenants", pinned)).isEmpty();

    assertThat(RollbackRetries.unanswered(state, "users"))
        .extracting(Migration::getId)
        .containsExactly("m1", "m2");
    assertThat(RollbackRetries.unanswered(state, "tenants")).isEmpty();

    ClusterState answered = RollbackRetries.supersede(state, List.of(failed));
    assertThat(RollbackRetries.latestDirectoryChanges(answered))
        .extracting(RollbackRetries.Round::retries)
        .containsExactly(false, true);
    assertThat(RollbackRetries.unanswered(answered, "users", pinned)).isEmpty();
    // Answered again: nothing changes, so nothing is written.
    assertThat(RollbackRetries.supersede(answered, List.of(failed))).isSameAs(answered);
  }

  @Test
  void aDirectoryChangeWhoseTriesRanOut_staysUnansweredUntilAChangeOfItsEntry() {
    Migration last =
        change("m1", "directory set", "pinned", false, 100, true).toBuilder()
            .setAttempt(RollbackRetries.MAX_ATTEMPTS)
            .build();
    Migration other = change("m2", "directory set", "other", false, 200, false);
    ClusterState state = state(last, other);
    io.shardcluster.routing.DirectoryEntry pinned =
        new io.shardcluster.routing.DirectoryEntry(
            ByteString.copyFromUtf8("pinned"), false, "node-1");

    // A later change of another entry does not answer it; it is not tried again either.
    RollbackRetries.Round round = RollbackRetries.latestDirectoryChanges(state).get(0);
    assertThat(round.retries()).isFalse();
    assertThat(round.unanswered()).isTrue();
    assertThat(RollbackRetries.latestDirectoryChangeIds(state))
        .containsExactlyInAnyOrder("m1", "m2");
    assertThat(RollbackRetries.unanswered(state, "users", pinned))
        .extracting(Migration::getId)
        .containsExactly("m1");

    // A change of it made at once does.
    ClusterState answered =
        RollbackRetries.supersede(state, RollbackRetries.unanswered(state, "users", pinned));
    assertThat(RollbackRetries.latestDirectoryChanges(answered).get(0).unanswered()).isFalse();
    // A later round of the same entry is the latest of it.
    ClusterState again =
        state.withMigration(change("m3", "directory set", "pinned", false, 300, false));
    assertThat(RollbackRetries.latestDirectoryChangeIds(again))
        .containsExactlyInAnyOrder("m3", "m2");
  }
}
