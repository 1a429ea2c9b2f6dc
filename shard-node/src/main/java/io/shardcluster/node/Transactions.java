package io.shardcluster.node;

import static io.shardcluster.errors.ShardClusterException.requireArgument;
import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.node.OutgoingMigrations.Mutation;
import io.shardcluster.node.TxnLocks.Holder;
import io.shardcluster.node.TxnLocks.Lock;
import io.shardcluster.node.TxnLocks.LockKey;
import io.shardcluster.node.TxnLocks.RangeLock;
import io.shardcluster.proto.v1.TxnInfoProto;
import io.shardcluster.proto.v1.TxnKey;
import io.shardcluster.proto.v1.TxnMeta;
import io.shardcluster.proto.v1.TxnRange;
import io.shardcluster.proto.v1.TxnRecordState;
import io.shardcluster.proto.v1.TxnStateProto;
import io.shardcluster.proto.v1.TxnWrite;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.Limits;
import io.shardcluster.server.Failpoints;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * This node's part in transactions: shared locks for reads, intents written at prepare, the
 * transaction record of those whose primary key lives here (its commit is the commit point), and
 * the resolution of a decided transaction's locks (see docs/transactions.md).
 *
 * <p>Conflicts are settled by age (wound-wait without the wait): an older transaction that meets a
 * younger one's lock aborts the younger one; a younger one that meets an older one's lock aborts
 * itself, and its retry keeps its age, so the oldest transaction always gets through. A lock of a
 * transaction that prepared is settled from its record: committed, apply it; aborted, drop it;
 * pending, abort it if the other side is older, its record expired or the other side is a plain
 * write. Plain writes win every conflict; plain reads resolve an intent they meet from its record,
 * and read the committed value while it is pending.
 *
 * <p>A decision that needs another node's answer blocks: code on gRPC's I/O threads runs in {@link
 * #withoutBlocking}, where such a case throws {@link MustBlock} so the caller can run it again on a
 * thread that may wait.
 */
final class Transactions implements OutgoingMigrations.TransactionDrain, Shard.TxnGuard {
  private static final Logger logger = Logger.getLogger(Transactions.class.getName());
  private static final ThreadLocal<Boolean> MUST_NOT_BLOCK = ThreadLocal.withInitial(() -> false);

  static final int ID_BYTES = 16;
  static final long MAX_TIMEOUT_MILLIS = 600_000;
  // A committed record stays this long after its participants are resolved, so that a commit
  // retried after a lost answer still learns the outcome.
  static final long RECORD_RETENTION_MILLIS = 60_000;
  // How long a fence waits for the transactions on its moving keys.
  static final long DRAIN_MILLIS = 20_000;
  private static final int MAX_CONFLICT_ROUNDS = 16;
  // How long a read waits for a prepared transaction in its way to end before settling it.
  private static final long READ_WAIT_MILLIS = 25;
  private static final int STRIPES = 256;

  private final String nodeId;
  private final LocalStore store;
  private final Shard shard;
  private final OutgoingMigrations outgoing;
  private final Peers peers;
  private final LongSupplier clock;
  private final Failpoints failpoints;
  private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];

  // Guarded by `this`.
  private final TxnLocks locks = new TxnLocks();
  // Transactions that ended here without a commit (rolled back, aborted by a conflict), until
  // their deadline: a late request of theirs is refused.
  private final Map<ByteString, Long> ended = new HashMap<>();
  // Whether any transaction holds a lock here: plain requests skip all of this otherwise.
  private volatile boolean anyLocks;

  /** The other nodes, as transactions need them. */
  interface Peers {
    /**
     * The state of the transaction at the node owning its primary key; with {@code abort}, aborts
     * it there unless it committed.
     */
    TxnStateProto check(TxnMeta txn, boolean abort);

    /**
     * Tells the owners of the keys that the transaction is decided; fails if one cannot be told.
     */
    void resolve(ByteString txn, boolean committed, List<TxnKey> keys);
  }

  /** A decision that needs another node's answer, met on a thread that must not wait. */
  static final class MustBlock extends RuntimeException {
    private static final long serialVersionUID = 1L;

    MustBlock() {
      super("must block", null, false, false);
    }
  }

  Transactions(
      String nodeId,
      LocalStore store,
      Shard shard,
      OutgoingMigrations outgoing,
      Peers peers,
      LongSupplier clock,
      Failpoints failpoints) {
    this.nodeId = nodeId;
    this.store = store;
    this.shard = shard;
    this.outgoing = outgoing;
    this.peers = peers;
    this.clock = clock;
    this.failpoints = failpoints;
    for (int i = 0; i < STRIPES; i++) {
      stripes[i] = new ReentrantLock();
    }
    synchronized (this) {
      locks.load(store);
      anyLocks = !locks.isEmpty();
    }
  }

  /** Runs the body; a decision in it that would wait for another node throws {@link MustBlock}. */
  static <T> T withoutBlocking(java.util.function.Supplier<T> body) {
    MUST_NOT_BLOCK.set(true);
    try {
      return body.get();
    } finally {
      MUST_NOT_BLOCK.set(false);
    }
  }

  // ---- plain requests ----

  /**
   * Before a plain read of the key: an intent on it whose transaction committed is applied first;
   * one whose transaction is pending is left, and the read returns the committed value.
   */
  @Override
  public void beforePlainRead(Keyspace routed, byte[] key) {
    if (!anyLocks) {
      return;
    }
    LockKey lockKey = new LockKey(routed.name(), ByteString.copyFrom(key));
    for (int round = 0; round < MAX_CONFLICT_ROUNDS; round++) {
      Lock intent;
      synchronized (this) {
        intent = locks.intent(lockKey);
      }
      if (intent == null) {
        return;
      }
      if (MUST_NOT_BLOCK.get()) {
        throw new MustBlock();
      }
      if (settle(intent.holder, false) == TxnStateProto.TXN_STATE_PENDING) {
        return;
      }
    }
  }

  /**
   * Runs a plain write of the keys once no transaction holds a lock on them: plain writes win,
   * aborting the transactions they meet (or applying those that committed).
   */
  @Override
  public void plainWrite(List<Keyspace> routed, List<byte[]> keys, Runnable write) {
    int[] held = stripesOf(routed, keys);
    for (int round = 0; ; round++) {
      Holder conflict = null;
      lockStripes(held);
      try {
        if (anyLocks) {
          synchronized (this) {
            conflict = woundOrFindPrepared(null, routed, keys);
          }
        }
        if (conflict == null) {
          write.run();
          return;
        }
      } finally {
        unlockStripes(held);
      }
      if (MUST_NOT_BLOCK.get()) {
        throw new MustBlock();
      }
      if (round >= MAX_CONFLICT_ROUNDS) {
        throw ShardClusterException.unavailable(
            "the key is locked by transaction " + hex(conflict.id) + ", try again");
      }
      settle(conflict, true);
    }
  }

  // ---- transaction requests ----

  /** Reads the keys under shared locks. */
  List<byte[]> read(TxnMeta txn, String keyspace, List<byte[]> keys, long epoch) {
    checkMeta(txn, false);
    requireArgument(!keys.isEmpty(), "a transactional read needs at least one key");
    RoutingTable table = shard.table(epoch);
    Keyspace routed = table.keyspace(keyspace);
    List<Keyspace> keyspaces = new ArrayList<>(keys.size());
    for (byte[] key : keys) {
      Limits.checkKey(key.length);
      shard.checkOwned(table, keyspace, key);
      outgoing.checkLockable(table, routed, key);
      keyspaces.add(routed);
    }
    int[] held = stripesOf(keyspaces, keys);
    for (int round = 0; round < MAX_CONFLICT_ROUNDS; round++) {
      Holder conflict = null;
      lockStripes(held);
      try {
        synchronized (this) {
          checkNotEnded(txn);
          Holder me = locks.holder(txn.getId());
          if (me != null && me.prepared) {
            throw ShardClusterException.failedPrecondition(
                "transaction " + hex(txn.getId()) + " already prepared on node " + nodeId);
          }
          for (byte[] key : keys) {
            Lock intent = locks.intent(new LockKey(keyspace, ByteString.copyFrom(key)));
            if (intent != null && !intent.holder.id.equals(txn.getId())) {
              conflict = intent.holder;
              break;
            }
          }
          if (conflict == null) {
            me = locks.holderFor(txn, deadline(txn));
            for (byte[] key : keys) {
              locks.add(new Lock(me, new LockKey(keyspace, ByteString.copyFrom(key)), true, null));
            }
            anyLocks = true;
          }
        }
        if (conflict == null) {
          return store.multiGet(routed, keys);
        }
      } finally {
        unlockStripes(held);
      }
      settleRead(txn, conflict);
    }
    throw abortSelf(txn, "too many conflicts in a row");
  }

  /** What a transactional scan read, and the range it now holds a lock on. */
  record ScanResult(List<byte[]> keys, List<byte[]> values, TxnRange locked) {}

  /**
   * Reads the keys of a range keyspace in [start, end) (an empty end: to the last key), at most
   * {@code limit} (0: all), under a shared lock of the range read: a key can neither appear in it
   * nor change until the transaction ends here. The range must lie in one range this node owns.
   */
  ScanResult scan(TxnMeta txn, String keyspace, byte[] start, byte[] end, long limit, long epoch) {
    checkMeta(txn, false);
    requireArgument(limit >= 0, "limit must not be negative");
    requireArgument(
        end.length == 0 || Arrays.compareUnsigned(start, end) < 0,
        "scan start must be before its end");
    RoutingTable table = shard.table(epoch);
    Keyspace routed = shard.checkOwned(table, keyspace, start);
    requireArgument(
        routed.isRange(),
        "a transaction scans only range keyspaces (%s is not one): use get for single keys",
        keyspace);
    int index = routed.ranges().indexOf(start);
    ByteString rangeEnd = routed.ranges().range(index).end();
    boolean within =
        rangeEnd.isEmpty()
            || (end.length > 0
                && ByteString.unsignedLexicographicalComparator()
                        .compare(ByteString.copyFrom(end), rangeEnd)
                    <= 0);
    if (!within) {
      throw new WrongShardException(table.epoch(), nodeId, "", "");
    }
    outgoing.checkLockable(table, routed, start);
    int[] all = new int[STRIPES];
    for (int i = 0; i < STRIPES; i++) {
      all[i] = i;
    }
    for (int round = 0; round < MAX_CONFLICT_ROUNDS; round++) {
      Holder conflict = null;
      // Every stripe: no plain write can land in the range between the read and the lock.
      lockStripes(all);
      try {
        List<byte[]> keys = new ArrayList<>();
        List<byte[]> values = new ArrayList<>();
        try (LocalStore.Cursor cursor = store.scan(null, routed, start, end, null)) {
          while ((limit == 0 || keys.size() < limit) && cursor.advance()) {
            keys.add(cursor.key());
            values.add(cursor.value());
          }
        }
        boolean cut = limit > 0 && keys.size() == limit;
        ByteString lockedEnd =
            cut
                ? KeyRange.successor(ByteString.copyFrom(keys.get(keys.size() - 1)))
                : ByteString.copyFrom(end);
        TxnRange locked =
            TxnRange.newBuilder()
                .setKeyspace(keyspace)
                .setStart(ByteString.copyFrom(start))
                .setEnd(lockedEnd)
                .build();
        synchronized (this) {
          checkNotEnded(txn);
          Holder me = locks.holder(txn.getId());
          if (me != null && me.prepared) {
            throw ShardClusterException.failedPrecondition(
                "transaction " + hex(txn.getId()) + " already prepared on node " + nodeId);
          }
          List<Lock> intents = locks.intentsIn(locked, txn.getId());
          if (intents.isEmpty()) {
            me = locks.holderFor(txn, deadline(txn));
            locks.addRange(RangeLock.of(me, locked));
            anyLocks = true;
            return new ScanResult(keys, values, locked);
          }
          conflict = intents.get(0).holder;
        }
      } finally {
        unlockStripes(all);
      }
      settleRead(txn, requireNonNull(conflict));
    }
    throw abortSelf(txn, "too many conflicts in a row");
  }

  /**
   * Writes the intents of the writes here and checks the shared locks of the reads here, durably;
   * the primary's prepare also writes the pending record. Prepares of one transaction add up (a
   * retried one is harmless).
   */
  void prepare(
      TxnMeta txn,
      List<TxnWrite> writes,
      List<TxnKey> reads,
      List<TxnRange> ranges,
      boolean primary,
      List<TxnKey> participants,
      long epoch) {
    checkMeta(txn, true);
    RoutingTable table = shard.table(epoch);
    List<Keyspace> routed = checkWrites(table, writes);
    checkReads(table, reads);
    whenValid(
        txn,
        routed,
        writes,
        reads,
        ranges,
        existing -> {
          Holder me = locks.holderFor(txn, deadline(txn));
          // The prepare's view names the primary key, which its reads may not have known.
          me.meta = txn;
          me.prepared = true;
          for (TxnWrite write : writes) {
            locks.add(
                new Lock(
                    me,
                    new LockKey(write.getKeyspace(), write.getKey()),
                    false,
                    write.getDelete() ? null : write.getValue().toByteArray()));
          }
          LocalStore.Batch batch = store.batch();
          for (Lock lock : me.locks.values()) {
            batch.putTxn(TxnLocks.lockKey(lock.key, me.id), TxnLocks.lockState(lock));
          }
          for (RangeLock range : me.ranges) {
            batch.putTxn(TxnLocks.rangeLockKey(range), TxnLocks.rangeLockState(range));
          }
          if (primary) {
            TxnRecordState record =
                TxnRecordState.newBuilder()
                    .setTxn(txn)
                    .setDeadlineMillis(me.deadlineMillis)
                    .addAllParticipants(participants)
                    .build();
            batch.putTxn(TxnLocks.recordKey(me.id), record.toByteArray());
            locks.putRecord(record);
          }
          anyLocks = true;
          store.write(batch);
        });
  }

  /**
   * Commits: with {@code onePhase}, checks and applies a transaction whose keys all live here;
   * otherwise commits the prepared transaction's record here (the commit point) and applies its
   * writes here, then resolves its other participants in the background.
   */
  void commit(
      TxnMeta txn,
      boolean onePhase,
      List<TxnWrite> writes,
      List<TxnKey> reads,
      List<TxnRange> ranges,
      long epoch) {
    checkMeta(txn, !onePhase || !writes.isEmpty());
    RoutingTable table = shard.table(epoch);
    if (onePhase) {
      commitOnePhase(txn, table, writes, reads, ranges);
      return;
    }
    shard.checkOwned(
        table, txn.getPrimary().getKeyspace(), txn.getPrimary().getKey().toByteArray());
    synchronized (this) {
      TxnRecordState record = locks.record(txn.getId());
      if (record == null) {
        throw ShardClusterException.aborted(
            "transaction "
                + hex(txn.getId())
                + " was aborted (a conflicting transaction or write, or it expired)");
      }
      if (record.getCommitted()) {
        return;
      }
      if (clock.getAsLong() > record.getDeadlineMillis()) {
        abortHere(txn.getId());
        throw ShardClusterException.aborted(
            "transaction " + hex(txn.getId()) + " expired before it committed");
      }
      failpoints.hit(Failpoints.TXN_BEFORE_RECORD);
      Holder me = locks.holder(txn.getId());
      TxnRecordState committed =
          record.toBuilder().setCommitted(true).setCommittedMillis(clock.getAsLong()).build();
      applyAndRelease(
          table,
          me,
          batch -> batch.putTxn(TxnLocks.recordKey(txn.getId()), committed.toByteArray()));
      locks.putRecord(committed);
      failpoints.hit(Failpoints.TXN_AFTER_RECORD);
    }
  }

  private void commitOnePhase(
      TxnMeta txn,
      RoutingTable table,
      List<TxnWrite> writes,
      List<TxnKey> reads,
      List<TxnRange> ranges) {
    List<Keyspace> routed = checkWrites(table, writes);
    checkReads(table, reads);
    whenValid(
        txn,
        routed,
        writes,
        reads,
        ranges,
        me -> {
          List<Mutation> mutations = new ArrayList<>(writes.size());
          for (TxnWrite write : writes) {
            mutations.add(
                new Mutation(
                    write.getKey().toByteArray(),
                    write.getDelete() ? null : write.getValue().toByteArray()));
          }
          if (!mutations.isEmpty()) {
            outgoing.write(table, routed, mutations, batch -> {});
          }
          if (me != null) {
            locks.remove(me);
            anyLocks = !locks.isEmpty();
          }
        });
  }

  /**
   * Runs {@code then} (holding {@code this}, with the transaction's holder here, if any) once
   * {@link #validate} lets the prepare or one-phase commit through, settling the conflicts in its
   * way first; ABORTED if it loses one, or meets too many in a row.
   */
  private void whenValid(
      TxnMeta txn,
      List<Keyspace> routed,
      List<TxnWrite> writes,
      List<TxnKey> reads,
      List<TxnRange> ranges,
      Consumer<@Nullable Holder> then) {
    for (int round = 0; round < MAX_CONFLICT_ROUNDS; round++) {
      Holder conflict;
      synchronized (this) {
        Holder me = locks.holder(txn.getId());
        conflict = validate(txn, me, routed, writes, reads, ranges);
        if (conflict == null) {
          then.accept(me);
          return;
        }
      }
      settleAgainst(txn, conflict);
    }
    throw abortSelf(txn, "too many conflicts in a row");
  }

  /**
   * Ends the transaction here without a commit: drops its locks (and a pending record). With {@code
   * validate}, ABORTED unless the shared locks of the reads were held to the end.
   */
  void end(TxnMeta txn, boolean validate, List<TxnKey> reads, List<TxnRange> ranges) {
    requireArgument(txn.getId().size() == ID_BYTES, "a transaction id has %s bytes", ID_BYTES);
    synchronized (this) {
      Holder me = locks.holder(txn.getId());
      boolean held = !ended.containsKey(txn.getId());
      for (TxnKey read : reads) {
        held &= me != null && me.locks.containsKey(LockKey.of(read));
      }
      for (TxnRange range : ranges) {
        held &= me != null && me.holdsRange(range);
      }
      TxnRecordState record = locks.record(txn.getId());
      if (record != null && record.getCommitted()) {
        throw ShardClusterException.failedPrecondition(
            "transaction " + hex(txn.getId()) + " committed; it cannot be rolled back");
      }
      long until = deadline(txn);
      if (me != null || record != null) {
        abortHere(txn.getId());
      }
      ended.put(txn.getId(), until);
      if (validate && !held) {
        throw ShardClusterException.aborted(
            "transaction "
                + hex(txn.getId())
                + " lost a read lock on node "
                + nodeId
                + " (a conflicting write, or the node restarted)");
      }
    }
  }

  /** Applies (committed) or drops the locks a decided transaction holds here. */
  void resolve(ByteString id, boolean committed) {
    requireArgument(id.size() == ID_BYTES, "a transaction id has %s bytes", ID_BYTES);
    synchronized (this) {
      Holder holder = locks.holder(id);
      if (holder == null) {
        return;
      }
      if (committed) {
        applyAndRelease(shard.table(0), holder, batch -> {});
      } else {
        dropLocks(holder);
        ended.put(id, holder.deadlineMillis);
      }
    }
  }

  /**
   * At the node owning the primary key: the transaction's state from its record; with {@code
   * abort}, aborts a pending one. No record means it never prepared here or was rolled back (a
   * committed record stays until every participant is resolved).
   */
  TxnStateProto check(ByteString id, TxnKey primary, boolean abort) {
    requireArgument(id.size() == ID_BYTES, "a transaction id has %s bytes", ID_BYTES);
    shard.checkOwned(shard.table(0), primary.getKeyspace(), primary.getKey().toByteArray());
    synchronized (this) {
      TxnRecordState record = locks.record(id);
      if (record == null) {
        return TxnStateProto.TXN_STATE_ABORTED;
      }
      if (record.getCommitted()) {
        return TxnStateProto.TXN_STATE_COMMITTED;
      }
      if (abort || clock.getAsLong() > record.getDeadlineMillis()) {
        abortHere(id);
        return TxnStateProto.TXN_STATE_ABORTED;
      }
      return TxnStateProto.TXN_STATE_PENDING;
    }
  }

  /** The transactions holding locks or records here. */
  synchronized List<TxnInfoProto> list() {
    long now = clock.getAsLong();
    Map<ByteString, TxnInfoProto.Builder> byId = new LinkedHashMap<>();
    for (Holder holder : locks.holders()) {
      byId.put(
          holder.id,
          TxnInfoProto.newBuilder()
              .setId(holder.id)
              .setNode(nodeId)
              .setState(holder.prepared ? "prepared" : "active")
              .setAgeMillis(Math.max(0, now - holder.meta.getStartMicros() / 1000))
              .setLocks(holder.locks.size() + holder.ranges.size()));
    }
    for (TxnRecordState record : locks.openRecords()) {
      TxnInfoProto.Builder info =
          byId.computeIfAbsent(
              record.getTxn().getId(),
              id ->
                  TxnInfoProto.newBuilder()
                      .setId(id)
                      .setNode(nodeId)
                      .setAgeMillis(Math.max(0, now - record.getTxn().getStartMicros() / 1000)));
      info.setPrimary(true).addAllParticipants(record.getParticipantsList());
      info.setState(record.getCommitted() ? "committed" : info.getState());
    }
    List<TxnInfoProto> all = new ArrayList<>();
    byId.values().forEach(info -> all.add(info.build()));
    return all;
  }

  // ---- background work ----

  /**
   * One pass of the background resolver: tells the participants of committed records, aborts
   * expired pending records, settles prepared locks whose transaction expired, drops expired shared
   * locks, and forgets what is no longer needed.
   */
  void resolveInBackground() {
    long now = clock.getAsLong();
    List<TxnRecordState> toTell = new ArrayList<>();
    List<Holder> expiredHolders = new ArrayList<>();
    synchronized (this) {
      ended.values().removeIf(until -> until < now);
      for (TxnRecordState record : new ArrayList<>(locks.openRecords())) {
        if (record.getCommitted()) {
          toTell.add(record);
        } else if (now > record.getDeadlineMillis()) {
          abortHere(record.getTxn().getId());
        }
      }
      LocalStore.Batch expired = store.batch();
      for (TxnRecordState oldest = locks.oldestRetained();
          oldest != null && now - oldest.getCommittedMillis() > RECORD_RETENTION_MILLIS;
          oldest = locks.oldestRetained()) {
        expired.deleteTxn(TxnLocks.recordKey(oldest.getTxn().getId()));
        locks.dropOldestRetained();
      }
      if (expired.size() > 0) {
        store.write(expired);
      }
      for (Holder holder : new ArrayList<>(locks.holders())) {
        if (now > holder.deadlineMillis) {
          if (holder.prepared) {
            expiredHolders.add(holder);
          } else {
            dropLocks(holder);
          }
        }
      }
    }
    for (TxnRecordState record : toTell) {
      tellParticipants(record.getTxn().getId());
    }
    for (Holder holder : expiredHolders) {
      try {
        settle(holder, true);
      } catch (ShardClusterException e) {
        logger.log(Level.FINE, "cannot settle expired transaction " + hex(holder.id) + ": " + e, e);
      }
    }
  }

  /** Resolves the participants of a committed record here, then empties its list. */
  void tellParticipants(ByteString id) {
    TxnRecordState record;
    synchronized (this) {
      record = locks.record(id);
    }
    if (record == null || !record.getCommitted() || record.getParticipantsCount() == 0) {
      return;
    }
    try {
      peers.resolve(id, true, record.getParticipantsList());
    } catch (ShardClusterException e) {
      logger.log(Level.FINE, "cannot resolve transaction " + hex(id) + " yet: " + e, e);
      return;
    }
    synchronized (this) {
      TxnRecordState current = locks.record(id);
      if (current != null && current.getParticipantsCount() > 0) {
        TxnRecordState resolved = current.toBuilder().clearParticipants().build();
        store.write(store.batch().putTxn(TxnLocks.recordKey(id), resolved.toByteArray()));
        locks.putRecord(resolved);
      }
    }
  }

  @Override
  public void awaitUnlocked(MovingSet moving, Keyspace routed) {
    long until = clock.getAsLong() + DRAIN_MILLIS;
    while (true) {
      List<Holder> prepared = new ArrayList<>();
      List<ByteString> records = new ArrayList<>();
      synchronized (this) {
        for (Holder holder : new ArrayList<>(locks.holders())) {
          if (!touches(holder, moving, routed)) {
            continue;
          }
          if (holder.prepared) {
            prepared.add(holder);
          } else {
            // Not prepared: it finds out at its prepare that it lost the lock.
            dropLocks(holder);
            ended.put(holder.id, holder.deadlineMillis);
          }
        }
        for (TxnRecordState record : locks.openRecords()) {
          TxnKey primary = record.getTxn().getPrimary();
          if (primary.getKeyspace().equals(routed.name())
              && moving.contains(routed, primary.getKey().toByteArray())) {
            records.add(record.getTxn().getId());
          }
        }
      }
      if (prepared.isEmpty() && records.isEmpty()) {
        return;
      }
      if (clock.getAsLong() > until) {
        throw ShardClusterException.unavailable(
            "transactions on the moving keys did not finish within " + DRAIN_MILLIS + " ms");
      }
      for (ByteString id : records) {
        tellParticipants(id);
      }
      for (Holder holder : prepared) {
        try {
          settle(holder, clock.getAsLong() > holder.deadlineMillis);
        } catch (ShardClusterException e) {
          logger.log(Level.FINE, "cannot settle " + hex(holder.id) + " yet: " + e, e);
        }
      }
      synchronized (this) {
        try {
          // Woken by any lock released here; bounded so an expiry is noticed.
          wait(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw ShardClusterException.unavailable("interrupted");
        }
      }
    }
  }

  private static boolean touches(Holder holder, MovingSet moving, Keyspace routed) {
    for (RangeLock range : holder.ranges) {
      // A scanned range of the keyspace may reach into what moves: it ends first, to be safe.
      if (range.keyspace().equals(routed.name())) {
        return true;
      }
    }
    for (LockKey key : holder.locks.keySet()) {
      if (key.keyspace().equals(routed.name())
          && moving.contains(routed, key.key().toByteArray())) {
        return true;
      }
    }
    return false;
  }

  // ---- conflicts ----

  /**
   * For a request of {@code txn} (null: a plain write) on the keys: wounds every transaction that
   * holds a lock on them and has not prepared, if the request wins against it; returns the first
   * lock of a prepared transaction in the way, to settle from its record. A request that loses
   * aborts itself.
   */
  private @Nullable Holder woundOrFindPrepared(
      @Nullable TxnMeta txn, List<Keyspace> routed, List<byte[]> keys) {
    ByteString self = txn == null ? null : txn.getId();
    for (int i = 0; i < keys.size(); i++) {
      LockKey key = new LockKey(routed.get(i).name(), ByteString.copyFrom(keys.get(i)));
      List<Holder> others = new ArrayList<>();
      locks.others(key, self).forEach(lock -> others.add(lock.holder));
      locks.rangesCovering(key, self).forEach(range -> others.add(range.holder()));
      for (Holder other : others) {
        if (other.prepared) {
          return other;
        }
        if (txn != null && other.olderThan(txn)) {
          throw abortSelfLocked(
              txn, "conflict with older transaction " + hex(other.id) + " on a key");
        }
        if (locks.holder(other.id) != null) {
          dropLocks(other);
          ended.put(other.id, other.deadlineMillis);
        }
      }
    }
    return null;
  }

  /**
   * Checks a prepare or one-phase commit: the transaction is live, its shared locks here are held,
   * and no other transaction holds a lock on its writes (wounding younger ones that have not
   * prepared). Returns a prepared transaction's lock in the way, if any.
   */
  private @Nullable Holder validate(
      TxnMeta txn,
      @Nullable Holder me,
      List<Keyspace> routed,
      List<TxnWrite> writes,
      List<TxnKey> reads,
      List<TxnRange> ranges) {
    checkNotEnded(txn);
    if (me != null && clock.getAsLong() > me.deadlineMillis) {
      throw abortSelfLocked(txn, "it expired");
    }
    for (TxnKey read : reads) {
      if (me == null || !me.locks.containsKey(LockKey.of(read))) {
        throw abortSelfLocked(txn, lostLock("a read lock"));
      }
    }
    for (TxnRange range : ranges) {
      if (me == null || !me.holdsRange(range)) {
        throw abortSelfLocked(txn, lostLock("the lock of a scanned range"));
      }
    }
    List<byte[]> keys = new ArrayList<>(writes.size());
    for (TxnWrite write : writes) {
      keys.add(write.getKey().toByteArray());
    }
    return woundOrFindPrepared(txn, routed, keys);
  }

  private String lostLock(String what) {
    return "it lost "
        + what
        + " on node "
        + nodeId
        + " (a conflicting write or transaction, a restart, or a move of the key)";
  }

  /** Settles a conflict of {@code txn} with a prepared holder; aborts {@code txn} if it loses. */
  /**
   * Settles a read's conflict with a prepared holder: it is in its last round trip, so wait a
   * little for it to end (it waits for nobody, so this cannot deadlock), and settle it from its
   * record only if it has not.
   */
  private void settleRead(TxnMeta txn, Holder other) {
    if (MUST_NOT_BLOCK.get()) {
      throw new MustBlock();
    }
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(READ_WAIT_MILLIS);
    synchronized (this) {
      for (long left = until - System.nanoTime();
          left > 0 && locks.holder(other.id) == other;
          left = until - System.nanoTime()) {
        try {
          TimeUnit.NANOSECONDS.timedWait(this, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw ShardClusterException.unavailable("interrupted");
        }
      }
      if (locks.holder(other.id) != other) {
        return;
      }
    }
    settleAgainst(txn, other);
  }

  private void settleAgainst(TxnMeta txn, Holder other) {
    boolean older = !other.olderThan(txn);
    TxnStateProto state = settle(other, older);
    if (state == TxnStateProto.TXN_STATE_PENDING) {
      throw abortSelf(txn, "conflict with transaction " + hex(other.id) + ", which is committing");
    }
  }

  /**
   * Asks the record of a prepared holder (aborting it if {@code abort}) and applies the answer
   * here: committed, its locks here are applied; aborted, dropped. Returns the state.
   */
  private TxnStateProto settle(Holder holder, boolean abort) {
    if (MUST_NOT_BLOCK.get()) {
      throw new MustBlock();
    }
    TxnStateProto state = peers.check(holder.meta, abort);
    if (state != TxnStateProto.TXN_STATE_PENDING) {
      resolve(holder.id, state == TxnStateProto.TXN_STATE_COMMITTED);
    }
    return state;
  }

  // ---- helpers (callers hold `this` where noted) ----

  /** Applies a committed holder's intents here and deletes its locks, atomically. Holds `this`. */
  private void applyAndRelease(
      RoutingTable table,
      @Nullable Holder holder,
      java.util.function.Consumer<LocalStore.Batch> more) {
    List<Keyspace> routed = new ArrayList<>();
    List<Mutation> mutations = new ArrayList<>();
    List<byte[]> deletes = new ArrayList<>();
    if (holder != null) {
      if (holder.prepared) {
        holder.ranges.forEach(range -> deletes.add(TxnLocks.rangeLockKey(range)));
      }
      for (Lock lock : holder.locks.values()) {
        if (holder.prepared) {
          deletes.add(TxnLocks.lockKey(lock.key, holder.id));
        }
        if (lock.read) {
          continue;
        }
        Keyspace keyspace = table.keyspaces().get(lock.key.keyspace());
        if (keyspace == null) {
          continue; // dropped since
        }
        routed.add(keyspace);
        mutations.add(new Mutation(lock.key.key().toByteArray(), lock.value));
      }
    }
    outgoing.write(
        table,
        routed,
        mutations,
        batch -> {
          deletes.forEach(batch::deleteTxn);
          more.accept(batch);
        });
    if (holder != null) {
      locks.remove(holder);
      anyLocks = !locks.isEmpty();
      notifyAll();
    }
  }

  /** Drops a holder's locks here, on disk too. Holds `this`. */
  private void dropLocks(Holder holder) {
    if (holder.prepared) {
      LocalStore.Batch batch = store.batch();
      for (LockKey key : holder.locks.keySet()) {
        batch.deleteTxn(TxnLocks.lockKey(key, holder.id));
      }
      for (RangeLock range : holder.ranges) {
        batch.deleteTxn(TxnLocks.rangeLockKey(range));
      }
      store.write(batch);
    }
    locks.remove(holder);
    anyLocks = !locks.isEmpty();
    notifyAll();
  }

  /** Aborts the transaction here: its locks and a pending record go. Holds `this`. */
  private void abortHere(ByteString id) {
    Holder holder = locks.holder(id);
    long until = clock.getAsLong() + MAX_TIMEOUT_MILLIS;
    if (holder != null) {
      until = holder.deadlineMillis;
      dropLocks(holder);
    }
    TxnRecordState record = locks.record(id);
    if (record != null && !record.getCommitted()) {
      store.write(store.batch().deleteTxn(TxnLocks.recordKey(id)));
      locks.removeRecord(id);
      until = Math.max(until, record.getDeadlineMillis());
    }
    ended.put(id, until);
  }

  private ShardClusterException abortSelf(TxnMeta txn, String why) {
    synchronized (this) {
      return abortSelfLocked(txn, why);
    }
  }

  /** Drops the transaction's locks here and returns the ABORTED error to throw. Holds `this`. */
  private ShardClusterException abortSelfLocked(TxnMeta txn, String why) {
    Holder me = locks.holder(txn.getId());
    if (me != null && !me.prepared) {
      dropLocks(me);
    }
    if (me == null || !me.prepared) {
      ended.put(txn.getId(), deadline(txn));
    }
    return ShardClusterException.aborted("transaction " + hex(txn.getId()) + " aborted: " + why);
  }

  private void checkNotEnded(TxnMeta txn) {
    if (ended.containsKey(txn.getId())) {
      throw ShardClusterException.aborted(
          "transaction "
              + hex(txn.getId())
              + " was aborted on node "
              + nodeId
              + " (a conflicting transaction or write, a rollback, or it expired)");
    }
  }

  private long deadline(TxnMeta txn) {
    Holder holder = locks.holder(txn.getId());
    return holder != null ? holder.deadlineMillis : clock.getAsLong() + txn.getRemainingMillis();
  }

  private static void checkMeta(TxnMeta txn, boolean needsPrimary) {
    requireArgument(txn.getId().size() == ID_BYTES, "a transaction id has %s bytes", ID_BYTES);
    requireArgument(
        txn.getRemainingMillis() > 0 && txn.getRemainingMillis() <= MAX_TIMEOUT_MILLIS,
        "a transaction's remaining time must be 1 to %s ms, got %s",
        MAX_TIMEOUT_MILLIS,
        txn.getRemainingMillis());
    if (needsPrimary) {
      requireArgument(
          !txn.getPrimary().getKey().isEmpty(), "a transaction that writes needs a primary key");
    }
  }

  private List<Keyspace> checkWrites(RoutingTable table, List<TxnWrite> writes) {
    requireArgument(
        writes.size() <= Limits.MAX_BATCH_ENTRIES,
        "a transaction writes at most %s keys on one node",
        Limits.MAX_BATCH_ENTRIES);
    List<Keyspace> routed = new ArrayList<>(writes.size());
    Set<LockKey> seen = new HashSet<>();
    for (TxnWrite write : writes) {
      byte[] key = write.getKey().toByteArray();
      Limits.checkKey(key.length);
      if (!write.getDelete()) {
        Limits.checkValue(write.getValue().size());
      }
      requireArgument(
          seen.add(new LockKey(write.getKeyspace(), write.getKey())),
          "a transaction writes each key once");
      Keyspace keyspace = shard.checkOwned(table, write.getKeyspace(), key);
      outgoing.checkLockable(table, keyspace, key);
      routed.add(keyspace);
    }
    return routed;
  }

  private void checkReads(RoutingTable table, List<TxnKey> reads) {
    for (TxnKey read : reads) {
      Limits.checkKey(read.getKey().size());
      shard.checkOwned(table, read.getKeyspace(), read.getKey().toByteArray());
    }
  }

  private int[] stripesOf(List<Keyspace> routed, List<byte[]> keys) {
    if (keys.size() == 1) {
      return new int[] {stripeOf(routed.get(0), keys.get(0))};
    }
    TreeSet<Integer> indexes = new TreeSet<>();
    for (int i = 0; i < keys.size(); i++) {
      indexes.add(stripeOf(routed.get(i), keys.get(i)));
    }
    int[] out = new int[indexes.size()];
    Iterator<Integer> it = indexes.iterator();
    for (int i = 0; i < out.length; i++) {
      out[i] = it.next();
    }
    return out;
  }

  private static int stripeOf(Keyspace routed, byte[] key) {
    int hash = routed.name().hashCode() * 31 + Arrays.hashCode(key);
    return (hash ^ (hash >>> 16)) & (STRIPES - 1);
  }

  private void lockStripes(int[] held) {
    for (int index : held) {
      stripes[index].lock();
    }
  }

  private void unlockStripes(int[] held) {
    for (int i = held.length - 1; i >= 0; i--) {
      stripes[held[i]].unlock();
    }
  }

  static String hex(ByteString id) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < Math.min(id.size(), 8); i++) {
      out.append(String.format("%02x", id.byteAt(i)));
    }
    return out.toString();
  }
}
