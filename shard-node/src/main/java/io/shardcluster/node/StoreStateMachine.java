package io.shardcluster.node;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.jspecify.annotations.Nullable;

/**
 * The replica group's state machine: the node's RocksDB store. Each log entry is one serialized
 * write batch of the leader's {@link LocalStore}, applied here on every replica in log order. No
 * state lives outside the store, so a replica that becomes leader builds its serving state from the
 * store, as a restart does.
 */
final class StoreStateMachine extends BaseStateMachine {
  private static final Logger logger = Logger.getLogger(StoreStateMachine.class.getName());

  private final LocalStore store;
  private final Consumer<@Nullable RaftPeerId> leaderChanged;

  /**
   * @param leaderChanged told of each new leader (null while there is none), on a Ratis thread: it
   *     must not block
   */
  StoreStateMachine(LocalStore store, Consumer<@Nullable RaftPeerId> leaderChanged) {
    this.store = store;
    this.leaderChanged = leaderChanged;
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext transaction) {
    LogEntryProto entry = transaction.getLogEntry();
    try {
      store.applyLogged(
          entry.getStateMachineLogEntry().getLogData().toByteArray(), entry.getIndex());
    } catch (RuntimeException e) {
      // A replica that cannot apply its log must not go on (and never serve what it skipped):
      // it stops, and the group goes on without it until an operator looks (storage faults are
      // in its log, as on any node).
      logger.log(
          Level.SEVERE,
          "cannot apply log entry " + entry.getIndex() + " to storage; stopping this replica",
          e);
      Runtime.getRuntime().halt(70);
    }
    updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
    return CompletableFuture.completedFuture(Message.EMPTY);
  }

  /** The read barrier's query: answered once the entries committed before it are applied. */
  @Override
  public CompletableFuture<Message> query(Message request) {
    return CompletableFuture.completedFuture(Message.EMPTY);
  }

  @Override
  public void notifyLeaderChanged(RaftGroupMemberId member, @Nullable RaftPeerId leader) {
    leaderChanged.accept(leader);
  }
}
