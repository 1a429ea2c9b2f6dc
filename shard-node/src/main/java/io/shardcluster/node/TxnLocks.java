package io.shardcluster.node;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.shardcluster.proto.v1.TxnKey;
import io.shardcluster.proto.v1.TxnLockState;
import io.shardcluster.proto.v1.TxnMeta;
import io.shardcluster.proto.v1.TxnRange;
import io.shardcluster.proto.v1.TxnRecordState;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The transaction locks and records of this node: which transaction holds which key, in memory, and
 * on disk (the store's transactions family) once prepared. A shared lock of a read is in memory
 * only until its transaction prepares here; an intent (an exclusive lock carrying the value to
 * write) exists only from the prepare on, and so is always on disk. Not thread-safe: {@link
 * Transactions} guards it.
 */
final class TxnLocks {
  private static final byte LOCK = 'L';
  private static final byte RECORD = 'R';
  private static final byte RANGE = 'G';

  /** A key of a keyspace, as locks name it. */
  record LockKey(String keyspace, ByteString key) {
    static LockKey of(TxnKey key) {
      return new LockKey(key.getKeyspace(), key.getKey());
    }

    TxnKey toProto() {
      return TxnKey.newBuilder().setKeyspace(keyspace).setKey(key).build();
    }
  }

  /** One transaction's lock on one key. */
  static final class Lock {
    final Holder holder;
    final LockKey key;
    // A shared lock of a read, or an intent with the value to write (null: a delete).
    final boolean read;
    final byte @Nullable [] value;

    Lock(Holder holder, LockKey key, boolean read, byte @Nullable [] value) {
      this.holder = holder;
      this.key = key;
      this.read = read;
      this.value = value;
    }
  }

  /**
   * A transaction's shared lock of the keys of a range keyspace in [start, end) (empty: to the
   * last).
   */
  record RangeLock(Holder holder, String keyspace, ByteString start, ByteString end) {
    static RangeLock of(Holder holder, TxnRange range) {
      return new RangeLock(holder, range.getKeyspace(), range.getStart(), range.getEnd());
    }

    boolean covers(String keyspace, ByteString key) {
      return this.keyspace.equals(keyspace) && inRange(key, start, end);
    }

    boolean sameRange(TxnRange range) {
      return keyspace.equals(range.getKeyspace())
          && start.equals(range.getStart())
          && end.equals(range.getEnd());
    }

    TxnRange toProto() {
      return TxnRange.newBuilder().setKeyspace(keyspace).setStart(start).setEnd(end).build();
    }
  }

  /** A transaction as this node knows it: its locks here and whether it prepared here. */
  static final class Holder {
    final ByteString id;
    TxnMeta meta;
    long deadlineMillis;
    boolean prepared;
    final Map<LockKey, Lock> locks = new LinkedHashMap<>();
    final List<RangeLock> ranges = new ArrayList<>();

    Holder(TxnMeta meta, long deadlineMillis) {
      this.id = meta.getId();
      this.meta = meta;
      this.deadlineMillis = deadlineMillis;
    }

    boolean holdsRange(TxnRange range) {
      for (RangeLock lock : ranges) {
        if (lock.sameRange(range)) {
          return true;
        }
      }
      return false;
    }

    /** Whether this transaction began before the other (wins a conflict with it). */
    boolean olderThan(Holder other) {
      return olderThan(other.meta);
    }

    boolean olderThan(TxnMeta other) {
      if (meta.getStartMicros() != other.getStartMicros()) {
        return meta.getStartMicros() < other.getStartMicros();
      }
      return ByteString.unsignedLexicographicalComparator().compare(id, other.getId()) < 0;
    }
  }

  private final Map<LockKey, Map<ByteString, Lock>> byKey = new HashMap<>();
  private final Map<ByteString, Holder> byTxn = new HashMap<>();
  private final Map<String, List<RangeLock>> rangesByKeyspace = new HashMap<>();
  private final Map<ByteString, TxnRecordState> records = new HashMap<>();
  // Records still to act on: pending, or committed with participants to resolve.
  private final Map<ByteString, TxnRecordState> open = new LinkedHashMap<>();
  // Resolved records, kept a while for commits retried after a lost answer; oldest first.
  private final ArrayDeque<TxnRecordState> retained = new ArrayDeque<>();

  /** Whether no transaction holds a lock here. */
  boolean isEmpty() {
    return byTxn.isEmpty();
  }

  @Nullable Holder holder(ByteString id) {
    return byTxn.get(id);
  }

  Holder holderFor(TxnMeta meta, long deadlineMillis) {
    Holder holder = byTxn.get(meta.getId());
    if (holder == null) {
      holder = new Holder(meta, deadlineMillis);
      byTxn.put(holder.id, holder);
    }
    return holder;
  }

  Collection<Holder> holders() {
    return byTxn.values();
  }

  /** The locks other transactions than {@code except} hold on the key. */
  List<Lock> others(LockKey key, @Nullable ByteString except) {
    Map<ByteString, Lock> locks = byKey.get(key);
    if (locks == null) {
      return List.of();
    }
    List<Lock> others = new ArrayList<>(locks.size());
    for (Lock lock : locks.values()) {
      if (!lock.holder.id.equals(except)) {
        others.add(lock);
      }
    }
    return others;
  }

  /** The intent on the key, if a transaction holds one. */
  @Nullable Lock intent(LockKey key) {
    Map<ByteString, Lock> locks = byKey.get(key);
    if (locks == null) {
      return null;
    }
    for (Lock lock : locks.values()) {
      if (!lock.read) {
        return lock;
      }
    }
    return null;
  }

  boolean isLocked(LockKey key) {
    return byKey.containsKey(key);
  }

  /** Whether the key is in [start, end) (an empty end: no upper bound). */
  static boolean inRange(ByteString key, ByteString start, ByteString end) {
    return ByteString.unsignedLexicographicalComparator().compare(key, start) >= 0
        && (end.isEmpty() || ByteString.unsignedLexicographicalComparator().compare(key, end) < 0);
  }

  /** Adds a range lock, unless the holder has it already. */
  void addRange(RangeLock range) {
    if (range.holder().holdsRange(range.toProto())) {
      return;
    }
    range.holder().ranges.add(range);
    rangesByKeyspace.computeIfAbsent(range.keyspace(), k -> new ArrayList<>()).add(range);
  }

  /** The range locks of transactions other than {@code except} that cover the key. */
  List<RangeLock> rangesCovering(LockKey key, @Nullable ByteString except) {
    List<RangeLock> ranges = rangesByKeyspace.get(key.keyspace());
    if (ranges == null) {
      return List.of();
    }
    List<RangeLock> covering = new ArrayList<>();
    for (RangeLock range : ranges) {
      if (!range.holder().id.equals(except) && range.covers(key.keyspace(), key.key())) {
        covering.add(range);
      }
    }
    return covering;
  }

  /** The intents of transactions other than {@code except} on keys of the range. */
  List<Lock> intentsIn(TxnRange range, @Nullable ByteString except) {
    List<Lock> found = new ArrayList<>();
    for (Map.Entry<LockKey, Map<ByteString, Lock>> entry : byKey.entrySet()) {
      if (!entry.getKey().keyspace().equals(range.getKeyspace())
          || !inRange(entry.getKey().key(), range.getStart(), range.getEnd())) {
        continue;
      }
      for (Lock lock : entry.getValue().values()) {
        if (!lock.read && !lock.holder.id.equals(except)) {
          found.add(lock);
        }
      }
    }
    return found;
  }

  /** Adds a lock (replacing the holder's lock on the key, if any). */
  void add(Lock lock) {
    Lock previous = lock.holder.locks.put(lock.key, lock);
    if (previous != null && !previous.read && lock.read) {
      // An intent covers a read of the same key.
      lock.holder.locks.put(lock.key, previous);
      return;
    }
    byKey.computeIfAbsent(lock.key, k -> new LinkedHashMap<>()).put(lock.holder.id, lock);
  }

  /** Forgets the transaction's locks here (in memory; the caller deletes them on disk). */
  void remove(Holder holder) {
    for (LockKey key : holder.locks.keySet()) {
      Map<ByteString, Lock> locks = byKey.get(key);
      if (locks != null) {
        locks.remove(holder.id);
        if (locks.isEmpty()) {
          byKey.remove(key);
        }
      }
    }
    for (RangeLock range : holder.ranges) {
      List<RangeLock> ranges = rangesByKeyspace.get(range.keyspace());
      if (ranges != null) {
        ranges.remove(range);
        if (ranges.isEmpty()) {
          rangesByKeyspace.remove(range.keyspace());
        }
      }
    }
    byTxn.remove(holder.id);
  }

  // ---- records ----

  @Nullable TxnRecordState record(ByteString id) {
    return records.get(id);
  }

  void putRecord(TxnRecordState record) {
    ByteString id = record.getTxn().getId();
    records.put(id, record);
    if (record.getCommitted() && record.getParticipantsCount() == 0) {
      open.remove(id);
      retained.add(record);
    } else {
      open.put(id, record);
    }
  }

  /** Forgets a pending record (an abort). */
  void removeRecord(ByteString id) {
    records.remove(id);
    open.remove(id);
  }

  /** The records still to act on: pending, or committed with participants to resolve. */
  Collection<TxnRecordState> openRecords() {
    return open.values();
  }

  /** The oldest resolved record kept for retried commits, if any. */
  @Nullable TxnRecordState oldestRetained() {
    return retained.peekFirst();
  }

  /** Forgets the oldest resolved record. */
  void dropOldestRetained() {
    TxnRecordState record = retained.pollFirst();
    if (record != null) {
      records.remove(record.getTxn().getId());
    }
  }

  // ---- on disk ----

  static byte[] lockKey(LockKey key, ByteString txn) {
    return stored(LOCK, key, txn);
  }

  static byte[] rangeLockKey(RangeLock range) {
    return stored(RANGE, new LockKey(range.keyspace(), range.start()), range.holder().id);
  }

  static byte[] rangeLockState(RangeLock range) {
    return TxnLockState.newBuilder()
        .setTxn(range.holder().meta)
        .setDeadlineMillis(range.holder().deadlineMillis)
        .setRead(true)
        .setRange(true)
        .setRangeEnd(range.end())
        .build()
        .toByteArray();
  }

  private static byte[] stored(byte tag, LockKey key, ByteString txn) {
    byte[] name = key.keyspace().getBytes(StandardCharsets.UTF_8);
    // Tag, keyspace, 0, key length (4 bytes), key, transaction id: unambiguous for any bytes.
    byte[] out = new byte[1 + name.length + 1 + 4 + key.key().size() + txn.size()];
    int at = 0;
    out[at++] = tag;
    System.arraycopy(name, 0, out, at, name.length);
    at += name.length + 1;
    int length = key.key().size();
    out[at++] = (byte) (length >>> 24);
    out[at++] = (byte) (length >>> 16);
    out[at++] = (byte) (length >>> 8);
    out[at++] = (byte) length;
    key.key().copyTo(out, at);
    at += length;
    txn.copyTo(out, at);
    return out;
  }

  static byte[] recordKey(ByteString txn) {
    byte[] out = new byte[1 + txn.size()];
    out[0] = RECORD;
    txn.copyTo(out, 1);
    return out;
  }

  static byte[] lockState(Lock lock) {
    TxnLockState.Builder state =
        TxnLockState.newBuilder()
            .setTxn(lock.holder.meta)
            .setDeadlineMillis(lock.holder.deadlineMillis)
            .setRead(lock.read);
    if (!lock.read) {
      if (lock.value == null) {
        state.setDelete(true);
      } else {
        state.setValue(ByteString.copyFrom(lock.value));
      }
    }
    return state.build().toByteArray();
  }

  /** Loads what the store holds: the prepared locks and the records. */
  void load(LocalStore store) {
    store.forEachTxn(
        (key, value) -> {
          try {
            if (key[0] == RECORD) {
              putRecord(TxnRecordState.parseFrom(value));
              return;
            }
            TxnLockState state = TxnLockState.parseFrom(value);
            LockKey lockKey = parseLockKey(key);
            Holder holder = holderFor(state.getTxn(), state.getDeadlineMillis());
            holder.prepared = true;
            if (key[0] == RANGE) {
              addRange(
                  new RangeLock(holder, lockKey.keyspace(), lockKey.key(), state.getRangeEnd()));
              return;
            }
            byte[] written = state.getDelete() ? null : state.getValue().toByteArray();
            add(new Lock(holder, lockKey, state.getRead(), state.getRead() ? null : written));
          } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("damaged transaction lock or record", e);
          }
        });
  }

  private static LockKey parseLockKey(byte[] stored) {
    int zero = 1;
    while (stored[zero] != 0) {
      zero++;
    }
    String keyspace = new String(stored, 1, zero - 1, StandardCharsets.UTF_8);
    int at = zero + 1;
    int length =
        ((stored[at] & 0xff) << 24)
            | ((stored[at + 1] & 0xff) << 16)
            | ((stored[at + 2] & 0xff) << 8)
            | (stored[at + 3] & 0xff);
    return new LockKey(keyspace, ByteString.copyFrom(stored, at + 4, length));
  }
}
