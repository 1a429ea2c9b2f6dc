package io.shardcluster.node;

import io.grpc.Context;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Group commit for a replica group's log: the write batches of concurrent callers that arrive while
 * an entry is being replicated go into the next entry together, as one RocksDB write batch. A Raft
 * entry costs the same whether it holds one write or fifty (a log append and fsync on each replica,
 * an append round trip per follower, an apply), so under load the log carries a few large entries
 * instead of many small ones. One entry is in flight at a time; a caller waiting for it takes the
 * next round's lead when it completes (as RocksDB's own write groups do).
 *
 * <p>Each batch stays atomic (the merged batch is applied in one write), and a caller returns once
 * the entry holding its batch is committed and applied, or throws the entry's failure.
 */
final class GroupCommit implements LocalStore.WriteLog {
  // RocksDB's serialized write batch: an 8-byte sequence number and a 4-byte count (little
  // endian), then the records; batches are joined by summing the counts and concatenating the
  // records (what RocksDB's WriteBatchInternal::Append does).
  private static final int HEADER_BYTES = 12;
  private static final int COUNT_OFFSET = 8;

  private final LocalStore.WriteLog entries;
  private final int maxEntryBytes;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition roundDone = lock.newCondition();
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private boolean inFlight;

  /**
   * @param entries appends one entry (a serialized write batch) to the log and returns once it is
   *     committed and applied
   * @param maxEntryBytes batches are joined up to this size (a larger batch goes alone)
   */
  GroupCommit(LocalStore.WriteLog entries, int maxEntryBytes) {
    this.entries = entries;
    this.maxEntryBytes = maxEntryBytes;
  }

  private static final class Pending {
    final byte[] batch;
    final Context caller = Context.current();
    boolean done;
    @Nullable RuntimeException failure;

    Pending(byte[] batch) {
      this.batch = batch;
    }
  }

  @Override
  public void append(byte[] batch) {
    Pending mine = new Pending(batch);
    lock.lock();
    try {
      queue.add(mine);
      // A round takes the queue's oldest batches up to the size cap, so the thread that leads it
      // may not be in it: it leads (or waits for) rounds until its own batch is done.
      while (!mine.done) {
        if (inFlight) {
          roundDone.awaitUninterruptibly();
        } else {
          commitRound();
        }
      }
    } finally {
      lock.unlock();
    }
    rethrow(mine);
  }

  /** Appends the next round as one entry, with the lock released meanwhile; called holding it. */
  private void commitRound() {
    inFlight = true;
    List<Pending> round = takeRound();
    lock.unlock();
    // Until the entry is known to be in, every writer of the round fails; an Error fails them too
    // (it goes on from here) rather than leaving them waiting.
    RuntimeException failure =
        ShardClusterException.unavailable("the replica group's log failed to take a write");
    try {
      if (!round.isEmpty()) {
        entries.append(
            round.size() == 1
                ? round.get(0).batch
                : join(round.stream().map(p -> p.batch).toList()));
      }
      failure = null;
    } catch (RuntimeException e) {
      failure = e;
    } finally {
      lock.lock();
      for (Pending pending : round) {
        pending.done = true;
        pending.failure = failure;
      }
      inFlight = false;
      roundDone.signalAll();
    }
  }

  /** How many batches wait for the next entry (for tests). */
  int queued() {
    lock.lock();
    try {
      return queue.size();
    } finally {
      lock.unlock();
    }
  }

  private static void rethrow(Pending pending) {
    if (pending.failure != null) {
      throw pending.failure;
    }
  }

  /**
   * The queued batches that fit in one entry, in arrival order; a batch whose caller has gone is
   * answered CANCELLED and left out (it could otherwise land after the caller's next write).
   */
  private List<Pending> takeRound() {
    List<Pending> round = new ArrayList<>();
    long bytes = 0;
    while (!queue.isEmpty()) {
      Pending next = queue.peek();
      if (next.caller.isCancelled()) {
        queue.poll();
        next.done = true;
        next.failure =
            new ShardClusterException(
                ErrorCode.CANCELLED, "the caller gave up before the write was made");
        continue;
      }
      if (!round.isEmpty() && bytes + next.batch.length > maxEntryBytes) {
        break;
      }
      queue.poll();
      round.add(next);
      bytes += next.batch.length;
    }
    return round;
  }

  /** One serialized write batch holding every record of the given ones, in order. */
  static byte[] join(List<byte[]> all) {
    int size = HEADER_BYTES;
    long count = 0;
    for (byte[] batch : all) {
      if (batch.length < HEADER_BYTES) {
        throw new IllegalArgumentException("not a serialized write batch: " + batch.length + " B");
      }
      size += batch.length - HEADER_BYTES;
      count += ByteBuffer.wrap(batch).order(ByteOrder.LITTLE_ENDIAN).getInt(COUNT_OFFSET);
    }
    ByteBuffer joined = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    joined.putLong(0).putInt(Math.toIntExact(count));
    for (byte[] batch : all) {
      joined.put(batch, HEADER_BYTES, batch.length - HEADER_BYTES);
    }
    return joined.array();
  }
}
