package io.shardcluster.node;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Context;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.Change;
import io.shardcluster.proto.v1.Checkpoint;
import io.shardcluster.proto.v1.CopyBatch;
import io.shardcluster.proto.v1.CopySnapshotRequest;
import io.shardcluster.proto.v1.IncomingState;
import io.shardcluster.proto.v1.KeyMigrationGrpc;
import io.shardcluster.proto.v1.KeyValueProto;
import io.shardcluster.proto.v1.MigrationProgress;
import io.shardcluster.proto.v1.MigrationSpec;
import io.shardcluster.proto.v1.PullChangesRequest;
import io.shardcluster.proto.v1.PullChangesResponse;
import io.shardcluster.proto.v1.TableFileChunk;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.rpc.StatusErrors;
import io.shardcluster.server.Failpoints;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.logging.Logger;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * The migrations this node is the target of. It pulls a snapshot of the moving keys from the
 * source, then the source's log of changes since the migration began, applying each batch durably
 * together with its progress, so that a restarted node (or a restarted driver) resumes where it
 * stopped. Copied keys are staged in the data column family: this node refuses requests for them
 * until the coordinator's commit makes them its own.
 */
final class IncomingMigrations {
  private static final Logger logger = Logger.getLogger(IncomingMigrations.class.getName());
  static final String META_PREFIX = "in/";
  private static final int PULL_BATCH = 2000;

  /** Catch-up stops (and cutover may start) once fewer changes than this are behind. */
  static final long SMALL_LAG = 500;

  private final String nodeId;
  private final LocalStore store;
  private final Supplier<RoutingTable> routing;
  private final Ownership ownership;
  private final NodeChannels channels;
  private final Failpoints failpoints;
  // One driver at a time per migration: a repeated call waits for the previous one to stop.
  private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  private final Map<String, TargetCheckpoint> checkpoints = new ConcurrentHashMap<>();
  // Numbers the table files this node receives.
  private final AtomicLong copies = new AtomicLong();

  /**
   * The checkpoint of one migration: its sums and the value each key had there, if changed since.
   */
  private static final class TargetCheckpoint {
    final long sequence;
    final MovingChecksum sum;
    final Map<ByteString, byte[]> valuesAtCheckpoint = new HashMap<>();

    TargetCheckpoint(long sequence, MovingChecksum sum) {
      this.sequence = sequence;
      this.sum = sum;
    }
  }

  IncomingMigrations(
      String nodeId,
      LocalStore store,
      Supplier<RoutingTable> routing,
      Ownership ownership,
      NodeChannels channels,
      Failpoints failpoints) {
    this.nodeId = nodeId;
    this.store = store;
    this.routing = routing;
    this.ownership = ownership;
    this.channels = channels;
    this.failpoints = failpoints;
  }

  /** The specs of the incoming migrations this node has state for. */
  List<MigrationSpec> specs() {
    List<MigrationSpec> specs = new ArrayList<>();
    for (byte[] saved : store.metaWithPrefix(META_PREFIX)) {
      try {
        specs.add(IncomingState.parseFrom(saved).getSpec());
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException("damaged incoming migration state: " + e.getMessage(), e);
      }
    }
    return specs;
  }

  private ReentrantLock lock(String id) {
    return locks.computeIfAbsent(id, x -> new ReentrantLock());
  }

  /** The migration's saved state as saved (with its spec then), or null if there is none. */
  private @Nullable IncomingState saved(String id) {
    byte[] saved = store.getMeta(META_PREFIX + id);
    if (saved == null) {
      return null;
    }
    try {
      return IncomingState.parseFrom(saved);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("damaged incoming migration state: " + e.getMessage(), e);
    }
  }

  private IncomingState load(MigrationSpec spec) {
    IncomingState saved = saved(spec.getId());
    if (saved == null) {
      throw ShardClusterException.failedPrecondition(
          "node " + nodeId + " has no incoming migration " + spec.getId());
    }
    return saved.toBuilder().setSpec(spec).build();
  }

  private IncomingState loadOrCreate(MigrationSpec spec) {
    IncomingState saved = saved(spec.getId());
    if (saved != null) {
      if (MigrationSpecs.sameMove(saved.getSpec(), spec)) {
        return saved.toBuilder().setSpec(spec).build();
      }
      // Another move under a reused id (a coordinator recovered from the nodes numbers its
      // migrations afresh): what this node kept of the old one is stale.
      abort(saved.getSpec());
    }
    // A fresh start: drop whatever stale copies of the moving keys this node may hold.
    deleteMovingKeys(spec);
    IncomingState state =
        IncomingState.newBuilder()
            .setSpec(spec)
            .setProgress(MigrationProgress.getDefaultInstance())
            .build();
    store.write(store.batch().putMeta(META_PREFIX + spec.getId(), state.toByteArray()));
    logger.info(
        "migration "
            + spec.getId()
            + ": receiving "
            + RoutingTables.fromProto(spec.getMoving())
            + " from "
            + spec.getSource());
    return state;
  }

  private KeyMigrationGrpc.KeyMigrationBlockingStub source(MigrationSpec spec) {
    return KeyMigrationGrpc.newBlockingStub(channels.channel(spec.getSourceAddress()));
  }

  /**
   * Copies the snapshot (if not done yet) and applies logged changes until fewer than {@link
   * #SMALL_LAG} are behind, reporting progress. Stops early if the calling RPC is cancelled.
   */
  void run(MigrationSpec spec, Consumer<MigrationProgress> progress) {
    ReentrantLock lock = lock(spec.getId());
    lock.lock();
    try {
      IncomingState state = loadOrCreate(spec);
      Context context = Context.current();
      if (!state.getSnapshotDone()) {
        state = copySnapshot(state, progress, context);
      }
      boolean first = true;
      while (!context.isCancelled()) {
        PullChangesResponse pulled = pull(state, PULL_BATCH);
        state = apply(state, pulled);
        if (first) {
          first = false;
          failpoints.hit(Failpoints.CATCH_UP);
        }
        long lag = pulled.getLastSequence() - state.getAppliedSequence();
        progress.accept(state.getProgress().toBuilder().setLag(lag).build());
        if (lag < SMALL_LAG) {
          return;
        }
      }
    } finally {
      lock.unlock();
    }
  }

  private IncomingState copySnapshot(
      IncomingState state, Consumer<MigrationProgress> progress, Context context) {
    MigrationSpec spec = state.getSpec();
    Keyspace keyspace = routed(spec);
    boolean fromStart = state.getAfterKey().isEmpty();
    checkpoints.remove(spec.getId());
    Iterator<CopyBatch> batches =
        source(spec)
            .copySnapshot(
                CopySnapshotRequest.newBuilder()
                    .setId(spec.getId())
                    .setAfterKey(state.getAfterKey())
                    .setResume(!fromStart)
                    .setThrottleBytesPerSec(spec.getThrottleBytesPerSec())
                    .setTableFiles(!store.replicated())
                    .build());
    // Copied keys are new here (stale copies were dropped), so their sum is the checkpoint's.
    MovingChecksum sum = new MovingChecksum();
    long sequence = 0;
    boolean first = true;
    ReceivedFile receiving = null;
    try {
      while (batches.hasNext()) {
        CopyBatch batch = batches.next();
        sequence = batch.getSnapshotSequence();
        IncomingState.Builder next = state.toBuilder();
        if (!state.getSnapshotSequenceKnown()) {
          // Changes after the first snapshot are pulled later; a resumed copy reads a newer
          // snapshot, and replaying the changes in between again is harmless.
          next.setSnapshotSequence(sequence).setSnapshotSequenceKnown(true);
        }
        LocalStore.Batch writes = store.batch();
        long keys;
        long bytes;
        if (batch.hasFile()) {
          TableFileChunk chunk = batch.getFile();
          if (receiving == null || receiving.index != chunk.getIndex()) {
            if (receiving != null) {
              receiving.discard();
            }
            receiving =
                new ReceivedFile(
                    store.tableFilePath(
                        "in-" + spec.getId() + "-" + copies.incrementAndGet() + ".sst"),
                    chunk.getIndex());
          }
          if (!chunk.getLast()) {
            receiving.append(chunk.getData());
            continue;
          }
          // A whole file: checked and summed (the checkpoint counts what was copied, not keys of
          // this node's own that lie in the same ranges), then moved into the store; a copy
          // resumes after its last key.
          Path file = receiving.finish(chunk.getCrc32C());
          store.readTableFile(file, keyspace, sum::add);
          store.ingest(List.of(file));
          receiving = null;
          keys = chunk.getKeys();
          bytes = chunk.getKeyValueBytes();
          next.setAfterKey(chunk.getLastKey());
        } else {
          bytes = 0;
          for (KeyValueProto row : batch.getEntriesList()) {
            byte[] key = row.getKey().toByteArray();
            byte[] value = row.getValue().toByteArray();
            writes.put(keyspace, key, value);
            sum.add(key, value);
            bytes += key.length + value.length;
          }
          keys = batch.getEntriesCount();
          if (keys > 0) {
            next.setAfterKey(batch.getEntries(batch.getEntriesCount() - 1).getKey());
          }
        }
        next.setProgress(
            state.getProgress().toBuilder()
                .setCopyRateLimit(batch.getRateLimit())
                .setPace(batch.getPace())
                .setKeysCopied(state.getProgress().getKeysCopied() + keys)
                .setBytesCopied(state.getProgress().getBytesCopied() + bytes));
        state = next.build();
        store.write(writes.putMeta(META_PREFIX + spec.getId(), state.toByteArray()));
        progress.accept(state.getProgress());
        if (first) {
          first = false;
          failpoints.hit(Failpoints.MID_COPY);
        }
        if (context.isCancelled()) {
          throw ShardClusterException.unavailable("migration " + spec.getId() + " was interrupted");
        }
      }
    } catch (RuntimeException e) {
      throw fromSource(spec, e);
    } finally {
      if (receiving != null) {
        receiving.discard();
      }
    }
    state =
        state.toBuilder()
            .setSnapshotDone(true)
            .setAppliedSequence(Math.max(state.getAppliedSequence(), state.getSnapshotSequence()))
            .setProgress(
                state.getProgress().toBuilder()
                    .setSnapshotDone(true)
                    .clearCopyRateLimit()
                    .clearPace())
            .build();
    store.write(store.batch().putMeta(META_PREFIX + spec.getId(), state.toByteArray()));
    if (fromStart) {
      checkpoints.put(spec.getId(), new TargetCheckpoint(sequence, sum));
    }
    logger.info(
        "migration "
            + spec.getId()
            + ": snapshot copied ("
            + state.getProgress().getKeysCopied()
            + " keys); catching up");
    return state;
  }

  /** A table file arriving in chunks, checked against its CRC-32C once whole. */
  static final class ReceivedFile {
    final int index;
    private final Path path;
    private final OutputStream out;
    private final CRC32C crc = new CRC32C();

    ReceivedFile(Path path, int index) {
      this.path = path;
      this.index = index;
      try {
        this.out = new BufferedOutputStream(Files.newOutputStream(path), 1 << 20);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + path, e);
      }
    }

    void append(ByteString data) {
      try {
        data.writeTo(out);
        for (ByteBuffer buffer : data.asReadOnlyByteBufferList()) {
          crc.update(buffer);
        }
      } catch (IOException e) {
        discard();
        throw new UncheckedIOException("cannot write " + path, e);
      }
    }

    /** The complete file, if its bytes match the sender's checksum. */
    Path finish(int expectedCrc) {
      try {
        out.close();
      } catch (IOException e) {
        discard();
        throw new UncheckedIOException("cannot write " + path, e);
      }
      if ((int) crc.getValue() != expectedCrc) {
        discard();
        // Damaged on the way: the copy goes again from the last whole file.
        throw ShardClusterException.unavailable(
            "table file " + index + " arrived damaged (checksum mismatch)");
      }
      return path;
    }

    void discard() {
      try {
        out.close();
        Files.deleteIfExists(path);
      } catch (IOException e) {
        logger.warning("cannot delete " + path + ": " + e.getMessage());
      }
    }
  }

  private PullChangesResponse pull(IncomingState state, int max) {
    try {
      return source(state.getSpec())
          .pullChanges(
              PullChangesRequest.newBuilder()
                  .setId(state.getSpec().getId())
                  .setAfterSequence(state.getAppliedSequence())
                  .setMaxChanges(max)
                  .build());
    } catch (RuntimeException e) {
      throw fromSource(state.getSpec(), e);
    }
  }

  private static ShardClusterException fromSource(MigrationSpec spec, RuntimeException e) {
    ShardClusterException error = StatusErrors.fromStatus(e);
    return new ShardClusterException(
        error.code(),
        "source " + spec.getSource() + " at " + spec.getSourceAddress() + ": " + error.getMessage(),
        e);
  }

  /** Applies pulled changes and the new applied sequence in one atomic write. */
  private IncomingState apply(IncomingState state, PullChangesResponse pulled) {
    if (pulled.getChangesCount() == 0) {
      return state;
    }
    MigrationSpec spec = state.getSpec();
    Keyspace keyspace = routed(spec);
    TargetCheckpoint checkpoint = checkpoints.get(spec.getId());
    LocalStore.Batch writes = store.batch();
    long applied = state.getAppliedSequence();
    for (Change change : pulled.getChangesList()) {
      byte[] key = change.getKey().toByteArray();
      if (checkpoint != null && change.getSequence() > checkpoint.sequence) {
        checkpoint.valuesAtCheckpoint.computeIfAbsent(
            change.getKey(), k -> orAbsent(store.get(keyspace, key)));
      }
      if (change.getDelete()) {
        writes.delete(keyspace, key);
      } else {
        writes.put(keyspace, key, change.getValue().toByteArray());
      }
      applied = change.getSequence();
    }
    IncomingState next =
        state.toBuilder()
            .setAppliedSequence(applied)
            .setProgress(
                state.getProgress().toBuilder()
                    .setChangesApplied(
                        state.getProgress().getChangesApplied() + pulled.getChangesCount()))
            .build();
    store.write(writes.putMeta(META_PREFIX + spec.getId(), next.toByteArray()));
    return next;
  }

  private static final byte[] ABSENT = new byte[0];

  private static byte[] orAbsent(byte @Nullable [] value) {
    return value == null ? ABSENT : value;
  }

  /** After the fence: applies every remaining change. */
  MigrationProgress drain(MigrationSpec spec) {
    ReentrantLock lock = lock(spec.getId());
    lock.lock();
    try {
      IncomingState state = load(spec);
      if (!state.getSnapshotDone()) {
        throw ShardClusterException.failedPrecondition(
            "migration " + spec.getId() + " has not finished copying its snapshot");
      }
      while (true) {
        PullChangesResponse pulled = pull(state, PULL_BATCH);
        state = apply(state, pulled);
        if (pulled.getFenced() && state.getAppliedSequence() >= pulled.getLastSequence()) {
          return state.getProgress().toBuilder().setLag(0).build();
        }
        if (!pulled.getFenced() && pulled.getChangesCount() == 0) {
          throw ShardClusterException.failedPrecondition(
              "migration " + spec.getId() + " is not fenced on its source");
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /** Count and checksum of the moving keys now: from the checkpoint, or a full scan. */
  Checkpoint finalChecksum(MigrationSpec spec) {
    ReentrantLock lock = lock(spec.getId());
    lock.lock();
    try {
      IncomingState state = load(spec);
      TargetCheckpoint checkpoint = checkpoints.get(spec.getId());
      MovingChecksum sum;
      if (checkpoint == null) {
        sum = sumMoving(spec);
      } else {
        Keyspace keyspace = routed(spec);
        sum = new MovingChecksum(checkpoint.sum.count(), checkpoint.sum.sum());
        for (var changed : checkpoint.valuesAtCheckpoint.entrySet()) {
          byte[] key = changed.getKey().toByteArray();
          byte[] before = changed.getValue() == ABSENT ? null : changed.getValue();
          sum.change(key, before, store.get(keyspace, key));
        }
      }
      return Checkpoint.newBuilder()
          .setSequence(state.getAppliedSequence())
          .setCount(sum.count())
          .setChecksum(sum.sum())
          .build();
    } finally {
      lock.unlock();
    }
  }

  private MovingChecksum sumMoving(MigrationSpec spec) {
    MovingSet moving = RoutingTables.fromProto(spec.getMoving());
    Keyspace routed = routed(spec);
    MovingChecksum sum = new MovingChecksum();
    try (LocalStore.Cursor cursor = store.scan(null, routed, moving, null)) {
      while (cursor.advance()) {
        byte[] key = cursor.key();
        if (moving.contains(routed, key) && isSourcesKey(spec, routed, key)) {
          sum.add(key, cursor.value());
        }
      }
    }
    return sum;
  }

  /** After the commit: the keys are this node's; forgets the migration. Idempotent. */
  void finish(String id) {
    ReentrantLock lock = lock(id);
    lock.lock();
    try {
      store.write(store.batch().deleteMeta(META_PREFIX + id));
      checkpoints.remove(id);
    } finally {
      lock.unlock();
    }
    logger.info("migration " + id + ": done; " + nodeId + " owns the moved keys");
  }

  /** Instead of a commit: deletes the copied keys and forgets the migration. Idempotent. */
  void abort(MigrationSpec spec) {
    ReentrantLock lock = lock(spec.getId());
    lock.lock();
    try {
      deleteMovingKeys(spec);
      store.write(store.batch().deleteMeta(META_PREFIX + spec.getId()));
      checkpoints.remove(spec.getId());
    } finally {
      lock.unlock();
    }
    logger.info("migration " + spec.getId() + ": aborted; dropped the copied keys");
  }

  private void deleteMovingKeys(MigrationSpec spec) {
    MovingSet moving = RoutingTables.fromProto(spec.getMoving());
    if (routing.get().epoch() == 0) {
      return;
    }
    Keyspace routed = routed(spec);
    try (LocalStore.Cursor cursor = store.scan(null, routed, moving, null)) {
      LocalStore.Batch batch = store.batch();
      while (cursor.advance()) {
        byte[] key = cursor.key();
        // Never delete a key this node owns: only stale copies of the source's keys.
        if (moving.contains(routed, key)
            && !nodeId.equals(ownership.ownerOf(routed, key))
            && isSourcesKey(spec, routed, key)) {
          batch.delete(routed, key);
          if (batch.size() >= 1000) {
            store.write(batch);
            batch = store.batch();
          }
        }
      }
      store.write(batch);
    }
  }

  /**
   * Whether a key of the moving set is the source's. Every key of a migration's set is, unless
   * migrations from other sources bring keys of the same set here (a directory entry placed over
   * keys of several nodes): then only those its source owns until the commit.
   */
  private boolean isSourcesKey(MigrationSpec spec, Keyspace routed, byte[] key) {
    return !spec.getSharedTarget() || spec.getSource().equals(ownership.ownerOf(routed, key));
  }

  /**
   * The routing of the migration's keyspace, which says how its keys are stored: UNAVAILABLE (the
   * coordinator calls again) while this node's table does not have the keyspace yet.
   */
  private Keyspace routed(MigrationSpec spec) {
    String name = spec.getMoving().getKeyspace();
    Keyspace keyspace = routing.get().keyspaces().get(name.isEmpty() ? Keyspace.DEFAULT : name);
    if (keyspace == null) {
      throw ShardClusterException.unavailable(
          "node " + nodeId + " has not seen keyspace " + name + " in its routing table yet");
    }
    return keyspace;
  }
}
