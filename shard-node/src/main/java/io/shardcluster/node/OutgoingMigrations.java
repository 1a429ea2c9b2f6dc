package io.shardcluster.node;

// Over 500 lines: the source's change log, snapshot copy, fence and cleanup share one lock per
// migration and must be read together.

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.proto.v1.Change;
import io.shardcluster.proto.v1.Checkpoint;
import io.shardcluster.proto.v1.CopyBatch;
import io.shardcluster.proto.v1.MigrationSpec;
import io.shardcluster.proto.v1.OutgoingState;
import io.shardcluster.proto.v1.PullChangesResponse;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.RoutingTables;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.StampedLock;
import java.util.function.Consumer;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * The migrations this node is the source of. While one is active, every write to a moving key is
 * also recorded in its change log, in the same atomic write and in the order the writes were
 * accepted; the target pulls the log after copying a snapshot. At cutover the moving keys are
 * fenced (durably): reads and writes of them are refused with a wrong-shard error, which clients
 * retry until the coordinator's commit sends them to the target.
 */
final class OutgoingMigrations {
  private static final Logger logger = Logger.getLogger(OutgoingMigrations.class.getName());
  private static final String META_PREFIX = "out/";
  private static final long DROP_STEP = 50_000;

  private final String nodeId;
  private final LocalStore store;
  private final Supplier<RoutingTable> routing;
  // The routing table, refreshed first if older than the given epoch.
  private final LongFunction<RoutingTable> tableAtLeast;
  private final CopyPacer pacer;
  // Numbers the copies this node runs, to name their table files.
  private final AtomicLong copies = new AtomicLong();
  private final Map<String, Outgoing> byId = new ConcurrentHashMap<>();
  // Read on every data request; replaced (not mutated) when a migration begins or ends.
  private volatile List<Outgoing> active = List.of();
  // Held (shared) by each write from reading `active` to applying, and (exclusive) to change
  // `active`: a migration that starts recording sees every write that did not see it applied,
  // so its snapshot holds them; none can land unlogged after the snapshot.
  private final StampedLock recording = new StampedLock();

  /** A key and the value to write, or null to delete it. */
  record Mutation(byte[] key, byte @Nullable [] value) {}

  /** One outgoing migration. */
  private static final class Outgoing {
    final MigrationSpec spec;
    final MovingSet moving;
    // Serializes writes of moving keys with sequence numbering and with the fence.
    final ReentrantLock lock = new ReentrantLock();
    volatile boolean fenced;
    // Set while the fence waits for transactions on the moving keys to finish: no new ones lock
    // them, while those that hold locks may still commit or roll back.
    volatile boolean fencing;
    long lastSequence;
    long ackedSequence;
    long droppedBefore;
    // The checkpoint: a snapshot at a sequence, its checksum, and the keys changed since.
    LocalStore.@Nullable Snapshot checkpointSnapshot;
    volatile @Nullable MovingChecksum checkpointSum;
    @Nullable Set<ByteString> changedSinceCheckpoint;

    /** Forgets the checkpoint and releases its snapshot. */
    void dropCheckpoint() {
      if (checkpointSnapshot != null) {
        checkpointSnapshot.close();
      }
      checkpointSnapshot = null;
      checkpointSum = null;
      changedSinceCheckpoint = null;
    }

    Outgoing(MigrationSpec spec) {
      this.spec = spec;
      this.moving = RoutingTables.fromProto(spec.getMoving());
    }

    String id() {
      return spec.getId();
    }
  }

  OutgoingMigrations(
      String nodeId,
      LocalStore store,
      Supplier<RoutingTable> routing,
      LongFunction<RoutingTable> tableAtLeast,
      CopyPacer pacer) {
    this.nodeId = nodeId;
    this.pacer = pacer;
    this.store = store;
    this.routing = routing;
    this.tableAtLeast = tableAtLeast;
    for (byte[] saved : store.metaWithPrefix(META_PREFIX)) {
      try {
        OutgoingState state = OutgoingState.parseFrom(saved);
        Outgoing outgoing = new Outgoing(state.getSpec());
        outgoing.fenced = state.getFenced();
        outgoing.ackedSequence = state.getAckedSequence();
        outgoing.lastSequence = Math.max(state.getAckedSequence(), store.lastChange(outgoing.id()));
        byId.put(outgoing.id(), outgoing);
        logger.info(
            "resuming outgoing migration "
                + outgoing.id()
                + " to "
                + state.getSpec().getTarget()
                + (outgoing.fenced ? " (fenced)" : ""));
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException("damaged outgoing migration state: " + e.getMessage(), e);
      }
    }
    publish();
  }

  private void publish() {
    long stamp = recording.writeLock();
    try {
      active = List.copyOf(byId.values());
    } finally {
      recording.unlockWrite(stamp);
    }
  }

  /** Ids of the outgoing migrations. */
  Set<String> ids() {
    return Set.copyOf(byId.keySet());
  }

  /** Whether any migration is moving keys out of this node. */
  boolean isEmpty() {
    return active.isEmpty();
  }

  /** Starts recording changes of the moving keys. Idempotent. */
  void begin(MigrationSpec spec) {
    synchronized (byId) {
      Outgoing existing = byId.get(spec.getId());
      if (existing != null && !MigrationSpecs.sameMove(existing.spec, spec)) {
        // Another move under a reused id (a coordinator recovered from the nodes numbers its
        // migrations afresh): the old one's log and fence are stale.
        abort(spec.getId());
        existing = null;
      }
      if (existing == null) {
        Outgoing outgoing = new Outgoing(spec);
        persist(outgoing, store.batch());
        byId.put(spec.getId(), outgoing);
        publish();
        logger.info(
            "migration "
                + spec.getId()
                + ": recording changes of "
                + outgoing.moving
                + " for "
                + spec.getTarget());
      }
    }
  }

  private void persist(Outgoing outgoing, LocalStore.Batch batch) {
    store.write(
        batch.putMeta(
            META_PREFIX + outgoing.id(),
            OutgoingState.newBuilder()
                .setSpec(outgoing.spec)
                .setFenced(outgoing.fenced)
                .setAckedSequence(outgoing.ackedSequence)
                .build()
                .toByteArray()));
  }

  private Outgoing get(String id) {
    Outgoing outgoing = byId.get(id);
    if (outgoing == null) {
      throw ShardClusterException.notFound("no outgoing migration " + id + " on node " + nodeId);
    }
    return outgoing;
  }

  /** What a fence waits for: the end of the transactions holding locks on the moving keys. */
  interface TransactionDrain {
    /** Returns once no transaction locks a key of the set; fails if that takes too long. */
    void awaitUnlocked(MovingSet moving, Keyspace routed);
  }

  private volatile TransactionDrain transactions = (moving, routed) -> {};

  void drainTransactionsWith(TransactionDrain drain) {
    this.transactions = drain;
  }

  /**
   * Refuses a transaction's lock of a key that a migration is fencing or has fenced: the lock would
   * have to move with the key.
   */
  void checkLockable(RoutingTable table, Keyspace routed, byte[] key) {
    for (Outgoing outgoing : active) {
      if ((outgoing.fencing || outgoing.fenced)
          && outgoing.moving.keyspace().equals(routed.name())
          && outgoing.moving.contains(routed, key)) {
        throw fenced(table, outgoing);
      }
    }
  }

  /** Refuses a read of a key that a fenced migration is moving. */
  void checkReadable(RoutingTable table, String keyspace, Keyspace routed, byte[] key) {
    for (Outgoing outgoing : active) {
      if (outgoing.fenced
          && outgoing.moving.keyspace().equals(keyspace)
          && outgoing.moving.contains(routed, key)) {
        throw fenced(table, outgoing);
      }
    }
  }

  private WrongShardException fenced(RoutingTable table, Outgoing outgoing) {
    String target = outgoing.spec.getTarget();
    return new WrongShardException(table.epoch(), nodeId, target, table.address(target).orElse(""));
  }

  /**
   * Applies the mutations atomically, recording those of moving keys in their migration's log;
   * refuses them all if one is fenced.
   */
  void write(RoutingTable table, String keyspace, Keyspace routed, List<Mutation> mutations) {
    long stamp = recording.readLock();
    try {
      refuseIfRoutingMoved(table);
      if (active.isEmpty()) {
        apply(Collections.nCopies(mutations.size(), routed), mutations, null, null);
      } else {
        writeRecorded(table, Collections.nCopies(mutations.size(), routed), mutations, null);
      }
    } finally {
      recording.unlockRead(stamp);
    }
  }

  /**
   * Applies mutations of any keyspaces ({@code routed.get(i)} is the keyspace of mutation i) and
   * the extra writes in one atomic batch, as {@link #write} does: a transaction's writes with the
   * removal of its locks.
   */
  void write(
      RoutingTable table,
      List<Keyspace> routed,
      List<Mutation> mutations,
      Consumer<LocalStore.Batch> extra) {
    long stamp = recording.readLock();
    try {
      refuseIfRoutingMoved(table);
      writeRecorded(table, routed, mutations, extra);
    } finally {
      recording.unlockRead(stamp);
    }
  }

  /**
   * Refuses a write whose keys' ownership was checked with a table older than this node's now (the
   * client retries with the new one). A migration may have ended in between: its keys deleted here,
   * owned elsewhere, and the migration forgotten, so nothing else would stop the write from landing
   * here after the delete, acknowledged and never read again. Called holding {@code recording}: a
   * migration is forgotten under its exclusive lock, and only once this node has the table that
   * committed it, so a write that no longer sees the migration sees that table.
   */
  private void refuseIfRoutingMoved(RoutingTable table) {
    RoutingTable now = routing.get();
    if (now.epoch() > table.epoch()) {
      throw new WrongShardException(now.epoch(), nodeId, "", "");
    }
  }

  private void writeRecorded(
      RoutingTable table,
      List<Keyspace> routed,
      List<Mutation> mutations,
      @Nullable Consumer<LocalStore.Batch> extra) {
    List<Outgoing> current = active;
    if (current.isEmpty()) {
      apply(routed, mutations, null, extra);
      return;
    }
    Outgoing[] owners = new Outgoing[mutations.size()];
    TreeMap<String, Outgoing> involved = new TreeMap<>();
    for (int i = 0; i < mutations.size(); i++) {
      for (Outgoing outgoing : current) {
        if (outgoing.moving.keyspace().equals(routed.get(i).name())
            && outgoing.moving.contains(routed.get(i), mutations.get(i).key())) {
          owners[i] = outgoing;
          involved.put(outgoing.id(), outgoing);
          break;
        }
      }
    }
    if (involved.isEmpty()) {
      apply(routed, mutations, null, extra);
      return;
    }
    // Locks in id order, so two batches touching the same migrations cannot deadlock.
    List<Outgoing> locked = new ArrayList<>();
    try {
      for (Outgoing outgoing : involved.values()) {
        outgoing.lock.lock();
        locked.add(outgoing);
        if (outgoing.fenced) {
          throw fenced(table, outgoing);
        }
      }
      apply(routed, mutations, owners, extra);
    } finally {
      locked.forEach(outgoing -> outgoing.lock.unlock());
    }
  }

  private void apply(
      List<Keyspace> routed,
      List<Mutation> mutations,
      Outgoing @Nullable [] owners,
      @Nullable Consumer<LocalStore.Batch> extra) {
    if (owners == null && extra == null && mutations.size() == 1) {
      Mutation only = mutations.get(0);
      if (only.value() == null) {
        store.delete(routed.get(0), only.key());
      } else {
        store.put(routed.get(0), only.key(), only.value());
      }
      return;
    }
    LocalStore.Batch batch = store.batch();
    long[] sequences = new long[mutations.size()];
    for (int i = 0; i < mutations.size(); i++) {
      Mutation mutation = mutations.get(i);
      if (mutation.value() == null) {
        batch.delete(routed.get(i), mutation.key());
      } else {
        batch.put(routed.get(i), mutation.key(), mutation.value());
      }
      Outgoing outgoing = owners == null ? null : owners[i];
      if (outgoing != null) {
        sequences[i] = outgoing.lastSequence + 1;
        Change.Builder change =
            Change.newBuilder()
                .setSequence(sequences[i])
                .setKey(ByteString.copyFrom(mutation.key()));
        if (mutation.value() == null) {
          change.setDelete(true);
        } else {
          change.setValue(UnsafeByteOperations.unsafeWrap(mutation.value()));
        }
        batch.putChange(outgoing.id(), sequences[i], change.build().toByteArray());
        outgoing.lastSequence = sequences[i];
      }
    }
    if (extra != null) {
      extra.accept(batch);
    }
    store.write(batch);
    if (owners != null) {
      for (int i = 0; i < mutations.size(); i++) {
        Outgoing outgoing = owners[i];
        if (outgoing != null && outgoing.changedSinceCheckpoint != null) {
          outgoing.changedSinceCheckpoint.add(ByteString.copyFrom(mutations.get(i).key()));
        }
      }
    }
  }

  /**
   * Streams the moving keys after {@code afterKey} from a snapshot taken now, in the keyspace's
   * scan order (reading only the stored ranges that hold them), in batches, at most {@code
   * bytesPerSecond} (0: no limit); every batch carries the log sequence the snapshot is at. The
   * sink blocks for flow control. A copy from the first key also makes the snapshot the checkpoint:
   * the count and checksum of what it sent, kept with the snapshot, so that the final checksum only
   * has to look at keys changed since. A resumed copy has none.
   */
  void copy(
      String id,
      byte[] afterKey,
      long bytesPerSecond,
      boolean tableFiles,
      Consumer<CopyBatch> sink) {
    Outgoing outgoing = get(id);
    Keyspace routed = routing.get().keyspace(outgoing.moving.keyspace());
    boolean fromStart = afterKey.length == 0;
    LocalStore.Snapshot snapshot;
    long sequence;
    outgoing.lock.lock();
    try {
      // Taken under the lock, the snapshot holds exactly the writes logged up to `sequence`.
      snapshot = store.snapshot();
      sequence = outgoing.lastSequence;
      outgoing.dropCheckpoint();
      if (fromStart) {
        outgoing.checkpointSnapshot = snapshot;
        outgoing.changedSinceCheckpoint = ConcurrentHashMap.newKeySet();
      }
    } finally {
      outgoing.lock.unlock();
    }
    MovingChecksum sum = new MovingChecksum();
    long rowsRead = 0;
    long rowsSent = 0;
    CopyPacer.Copy copying = pacer.copying();
    String copyName = id + "-" + copies.incrementAndGet();
    try (LocalStore.Cursor cursor =
            store.scan(snapshot, routed, outgoing.moving, fromStart ? null : afterKey);
        CopyStream out =
            new CopyStream(
                store, routed, copyName, sequence, bytesPerSecond, pacer, tableFiles, sink)) {
      while (cursor.advance()) {
        byte[] key = cursor.key();
        rowsRead++;
        if (!outgoing.moving.contains(routed, key)) {
          continue;
        }
        byte[] value = cursor.value();
        rowsSent++;
        sum.add(key, value);
        out.add(key, value);
      }
      out.finish();
    } finally {
      copying.close();
      if (!fromStart) {
        snapshot.close();
      }
    }
    if (fromStart) {
      outgoing.checkpointSum = sum;
    }
    // What the copy read against what it moved: the benchmark checks that a copy reads only the
    // stored ranges of its moving set.
    logger.info(
        "migration "
            + id
            + ": copy read "
            + rowsRead
            + " rows, sent "
            + rowsSent
            + " moving keys"
            + (tableFiles ? " in table files" : ""));
  }

  /**
   * Logged changes after {@code afterSequence}, which the target has applied and which are dropped
   * from the log.
   */
  PullChangesResponse pull(String id, long afterSequence, int max) {
    Outgoing outgoing = get(id);
    long last;
    boolean fenced;
    outgoing.lock.lock();
    try {
      if (afterSequence > outgoing.ackedSequence) {
        outgoing.ackedSequence = Math.min(afterSequence, outgoing.lastSequence);
        LocalStore.Batch batch = store.batch();
        // Range deletions slow down every later read of the log, so drop applied changes in
        // large steps only; reads seek past the rest.
        if (outgoing.ackedSequence - outgoing.droppedBefore >= DROP_STEP) {
          outgoing.droppedBefore = outgoing.ackedSequence + 1;
          batch.deleteChangesBefore(id, outgoing.droppedBefore);
        }
        persist(outgoing, batch);
      }
      last = outgoing.lastSequence;
      fenced = outgoing.fenced;
    } finally {
      outgoing.lock.unlock();
    }
    PullChangesResponse.Builder response =
        PullChangesResponse.newBuilder().setLastSequence(last).setFenced(fenced);
    for (LocalStore.LoggedChange logged : store.changes(id, afterSequence + 1, max)) {
      if (logged.sequence() > last) {
        break;
      }
      try {
        response.addChanges(Change.parseFrom(logged.change()));
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException("damaged change log of " + id, e);
      }
    }
    return response.build();
  }

  /** Fences the moving keys, durably. Returns the last logged sequence: nothing follows it. */
  long fence(String id) {
    Outgoing outgoing = get(id);
    if (!outgoing.fenced) {
      // Transaction locks do not move with the keys: let those on moving keys end first.
      outgoing.fencing = true;
      try {
        transactions.awaitUnlocked(
            outgoing.moving, routing.get().keyspace(outgoing.moving.keyspace()));
      } catch (RuntimeException e) {
        outgoing.fencing = false;
        throw e;
      }
    }
    outgoing.lock.lock();
    try {
      if (!outgoing.fenced) {
        outgoing.fenced = true;
        persist(outgoing, store.batch());
        logger.info("migration " + id + ": fenced at sequence " + outgoing.lastSequence);
      }
      return outgoing.lastSequence;
    } finally {
      outgoing.lock.unlock();
    }
  }

  /**
   * Count and checksum of the moving keys now, which must be fenced: the checkpoint's, corrected
   * for the keys changed since; a full scan if this process has no checkpoint.
   */
  Checkpoint finalChecksum(String id) {
    Outgoing outgoing = get(id);
    if (!outgoing.fenced) {
      throw ShardClusterException.failedPrecondition("migration " + id + " is not fenced yet");
    }
    Keyspace keyspace = routing.get().keyspace(outgoing.moving.keyspace());
    MovingChecksum sum;
    MovingChecksum checkpointSum = outgoing.checkpointSum;
    if (checkpointSum == null) {
      sum = sumMoving(outgoing, null);
    } else {
      // A checkpoint is its snapshot, its checksum and the keys changed since, set together.
      LocalStore.Snapshot snapshot = requireNonNull(outgoing.checkpointSnapshot);
      sum = new MovingChecksum(checkpointSum.count(), checkpointSum.sum());
      for (ByteString key : new HashSet<>(requireNonNull(outgoing.changedSinceCheckpoint))) {
        byte[] bytes = key.toByteArray();
        sum.change(bytes, store.get(snapshot, keyspace, bytes), store.get(keyspace, bytes));
      }
    }
    return Checkpoint.newBuilder()
        .setSequence(outgoing.lastSequence)
        .setCount(sum.count())
        .setChecksum(sum.sum())
        .build();
  }

  private MovingChecksum sumMoving(Outgoing outgoing, LocalStore.@Nullable Snapshot snapshot) {
    Keyspace routed = routing.get().keyspace(outgoing.moving.keyspace());
    MovingChecksum sum = new MovingChecksum();
    try (LocalStore.Cursor cursor = store.scan(snapshot, routed, outgoing.moving, null)) {
      while (cursor.advance()) {
        byte[] key = cursor.key();
        if (outgoing.moving.contains(routed, key)) {
          sum.add(key, cursor.value());
        }
      }
    }
    return sum;
  }

  /**
   * After the commit: deletes the moved keys and forgets the migration (and its fence). Idempotent.
   * UNAVAILABLE until this node's routing table has caught up with the commit: until then the fence
   * is what keeps it from answering for keys it no longer holds.
   */
  void finish(String id, long committedEpoch) {
    Outgoing outgoing = byId.get(id);
    if (outgoing == null) {
      return;
    }
    if (tableAtLeast.apply(committedEpoch).epoch() < committedEpoch) {
      throw ShardClusterException.unavailable(
          "node " + nodeId + " has not seen routing epoch " + committedEpoch + " yet");
    }
    Keyspace routed = routing.get().keyspace(outgoing.moving.keyspace());
    long started = System.nanoTime();
    String deleted;
    if (store.deleteRanges(routed, outgoing.moving)) {
      deleted = "range-deleted the moved keys";
    } else {
      deleted = "deleted " + deleteOneByOne(routed, outgoing.moving) + " moved keys";
    }
    logger.info(
        "migration "
            + id
            + ": done; "
            + deleted
            + " in "
            + (System.nanoTime() - started) / 1_000_000
            + " ms");
    forget(outgoing);
  }

  /** Deletes the keys of the set, of the stored ranges that hold them, that are in the set. */
  private long deleteOneByOne(Keyspace routed, MovingSet moving) {
    long deleted = 0;
    try (LocalStore.Cursor cursor = store.scan(null, routed, moving, null)) {
      LocalStore.Batch batch = store.batch();
      while (cursor.advance()) {
        byte[] key = cursor.key();
        if (moving.contains(routed, key)) {
          batch.delete(routed, key);
          deleted++;
          if (batch.size() >= CopyStream.BATCH_ROWS) {
            store.write(batch);
            batch = store.batch();
          }
        }
      }
      store.write(batch);
    }
    return deleted;
  }

  /** Instead of a commit: lifts the fence and forgets the migration. Idempotent. */
  void abort(String id) {
    Outgoing outgoing = byId.get(id);
    if (outgoing == null) {
      return;
    }
    // Forgotten first, without its lock (a write holding `recording` may be waiting for that lock):
    // writes that still see it are refused until then, later ones no longer see it.
    forget(outgoing);
    outgoing.lock.lock();
    try {
      outgoing.fenced = false;
    } finally {
      outgoing.lock.unlock();
    }
    logger.info("migration " + id + ": aborted; the keys stay here");
  }

  private void forget(Outgoing outgoing) {
    synchronized (byId) {
      store.write(
          store
              .batch()
              .deleteChangesBefore(outgoing.id(), -1L)
              .deleteMeta(META_PREFIX + outgoing.id()));
      outgoing.dropCheckpoint();
      byId.remove(outgoing.id());
      publish();
    }
  }
}
