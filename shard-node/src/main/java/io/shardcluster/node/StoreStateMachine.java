package io.shardcluster.node;

import io.shardcluster.rpc.DaemonThreads;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.util.LifeCycle;
import org.jspecify.annotations.Nullable;

/**
 * The replica group's state machine: the node's RocksDB store. Each log entry is one serialized
 * write batch of the leader's {@link LocalStore}, applied here on every replica in log order. No
 * state lives outside the store, so a replica that becomes leader builds its serving state from the
 * store, as a restart does.
 *
 * <p>Snapshots: the store is its own snapshot. Taking one makes every applied write durable and
 * records the last applied entry, so Ratis may delete the log up to it. A replica that needs
 * entries the group no longer has (new, wiped, or down long) is told so by the leader and fetches
 * the leader's whole store instead ({@link StoreFetcher}); Ratis then goes on from the entry after
 * it.
 */
final class StoreStateMachine extends BaseStateMachine {
  private static final Logger logger = Logger.getLogger(StoreStateMachine.class.getName());

  /** Replaces the local store with the leader's; returns the log entry it is at. */
  interface StoreFetcher {
    LocalStore.LogPosition fetchFrom(RaftPeerId leader);
  }

  private final LocalStore store;
  private final Consumer<@Nullable RaftPeerId> leaderChanged;
  private final StoreFetcher fetcher;
  private final ExecutorService installs =
      Executors.newSingleThreadExecutor(DaemonThreads.named("snapshot-install"));
  private final StateMachineStorage storage = new StoreSnapshots();

  /**
   * @param leaderChanged told of each new leader (null while there is none), on a Ratis thread: it
   *     must not block
   */
  StoreStateMachine(
      LocalStore store, Consumer<@Nullable RaftPeerId> leaderChanged, StoreFetcher fetcher) {
    this.store = store;
    this.leaderChanged = leaderChanged;
    this.fetcher = fetcher;
  }

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage)
      throws IOException {
    super.initialize(server, groupId, raftStorage);
    getLifeCycle().startAndTransition(this::loadSnapshot);
  }

  private void loadSnapshot() {
    LocalStore.LogPosition snapshot = store.lastSnapshot();
    if (snapshot.index() > 0) {
      setLastAppliedTermIndex(TermIndex.valueOf(snapshot.term(), snapshot.index()));
    }
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext transaction) {
    LogEntryProto entry = transaction.getLogEntry();
    try {
      store.applyLogged(
          entry.getStateMachineLogEntry().getLogData().toByteArray(),
          new LocalStore.LogPosition(entry.getTerm(), entry.getIndex()));
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

  /** Called by Ratis on its state machine thread, with no entry being applied. */
  @Override
  public long takeSnapshot() {
    LocalStore.LogPosition position = store.markSnapshot();
    logger.info("snapshot at log entry " + position.index() + ": the log before it may go");
    return position.index() > 0 ? position.index() : -1;
  }

  @Override
  public StateMachineStorage getStateMachineStorage() {
    return storage;
  }

  @Override
  public CompletableFuture<TermIndex> notifyInstallSnapshotFromLeader(
      RoleInfoProto roleInfo, TermIndex firstTermIndexInLog) {
    RaftPeerId leader =
        RaftPeerId.valueOf(roleInfo.getFollowerInfo().getLeaderInfo().getId().getId());
    logger.info(
        "the group's log starts at entry "
            + firstTermIndexInLog.getIndex()
            + ", past this replica's: fetching the store of leader "
            + leader);
    return CompletableFuture.supplyAsync(
        () -> {
          LocalStore.LogPosition position = fetcher.fetchFrom(leader);
          logger.info("installed the leader's store at log entry " + position.index());
          return TermIndex.valueOf(position.term(), position.index());
        },
        installs);
  }

  // Ratis pauses the state machine around reloading it after an install.
  @Override
  public void pause() {
    getLifeCycle().transition(LifeCycle.State.PAUSING);
    getLifeCycle().transition(LifeCycle.State.PAUSED);
  }

  @Override
  public void reinitialize() {
    getLifeCycle().startAndTransition(this::loadSnapshot);
  }

  @Override
  public void close() throws IOException {
    installs.shutdownNow();
    super.close();
  }

  /** Where Ratis finds the latest snapshot: the entry recorded in the store itself. */
  private final class StoreSnapshots implements StateMachineStorage {
    @Override
    public void init(RaftStorage raftStorage) {}

    @Override
    public @Nullable SnapshotInfo getLatestSnapshot() {
      LocalStore.LogPosition snapshot = store.lastSnapshot();
      if (snapshot.index() <= 0) {
        return null;
      }
      TermIndex termIndex = TermIndex.valueOf(snapshot.term(), snapshot.index());
      return new SnapshotInfo() {
        @Override
        public TermIndex getTermIndex() {
          return termIndex;
        }

        @Override
        public List<FileInfo> getFiles() {
          return List.of();
        }
      };
    }

    @Override
    public void format() {}

    @Override
    public void cleanupOldSnapshots(SnapshotRetentionPolicy policy) {}
  }
}
