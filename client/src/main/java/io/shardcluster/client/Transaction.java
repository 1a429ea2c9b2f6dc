package io.shardcluster.client;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.grpc.Deadline;
import io.shardcluster.client.internal.TxnProtocol;
import io.shardcluster.client.internal.TxnProtocol.Item;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.TxnKey;
import io.shardcluster.proto.v1.TxnMeta;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.rpc.Limits;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * A serializable transaction over keys of any keyspaces and any nodes, from {@link
 * ShardClient#begin()}. Reads (and scans of range keyspaces) lock what they read (shared) until the
 * transaction ends, and see the transaction's own writes; writes are kept here until {@link
 * #commit()}, which makes them all visible at once or none. A conflict with another transaction (or
 * a plain write of a key it read) aborts one of the two: the younger one, so that a transaction run
 * again keeps its age and gets through. An aborted transaction throws {@link ShardClusterException}
 * with code ABORTED and has changed nothing.
 *
 * <p>Not thread-safe: one thread uses a transaction. Close it (or use {@link
 * ShardClient#transaction}) so that a transaction not committed is rolled back.
 *
 * <pre>{@code
 * try (Transaction tx = client.begin()) {
 *   long a = Long.parseLong(tx.get("alice").orElse("0"));
 *   long b = Long.parseLong(tx.get("bob").orElse("0"));
 *   tx.put("alice", Long.toString(a - 10));
 *   tx.put("bob", Long.toString(b + 10));
 *   tx.commit();
 * }
 * }</pre>
 */
public final class Transaction implements AutoCloseable {
  private static final SecureRandom random = new SecureRandom();
  // Per node and per transaction: what a node accepts in one request.
  static final int MAX_KEYS = Limits.MAX_BATCH_ENTRIES;
  static final long MAX_BYTES = Limits.MAX_MESSAGE_BYTES / 2;

  private final TxnProtocol protocol;
  private final String keyspace;
  private final Deadline deadline;
  private final Deadline.Ticker ticker = Deadline.getSystemTicker();
  private final long requestTimeoutNanos;
  private final byte[] id = new byte[16];
  private final long startMicros;
  // Every key read or written, in first-touch order; writes replace reads of the same key.
  private final Map<TxnKey, Item> items = new LinkedHashMap<>();
  // Ranges scanned, each locked on its node.
  private final List<Item> ranges = new ArrayList<>();
  private long bytes;
  private State state = State.OPEN;

  private enum State {
    OPEN,
    COMMITTED,
    ENDED
  }

  Transaction(
      TxnProtocol protocol,
      String keyspace,
      long timeoutNanos,
      long requestTimeoutNanos,
      long startMicros) {
    this.protocol = protocol;
    this.keyspace = keyspace;
    this.deadline = Deadline.after(timeoutNanos, TimeUnit.NANOSECONDS, ticker);
    this.requestTimeoutNanos = requestTimeoutNanos;
    this.startMicros = startMicros;
    random.nextBytes(id);
  }

  /** The transaction's id as {@code shardctl txn list} shows it (16 hex digits). */
  public String id() {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      out.append(String.format("%02x", id[i]));
    }
    return out.toString();
  }

  long startMicros() {
    return startMicros;
  }

  // ---- reads ----

  /** The value of a key of the client's keyspace, as of this transaction. */
  public Optional<byte[]> get(byte[] key) {
    return get(keyspace, key);
  }

  /** The value of a UTF-8 key of the client's keyspace, decoded as UTF-8. */
  public Optional<String> get(String key) {
    return get(utf8(key)).map(value -> new String(value, StandardCharsets.UTF_8));
  }

  /** The value of a key of the keyspace, as of this transaction. */
  public Optional<byte[]> get(String keyspace, byte[] key) {
    return getAll(keyspace, List.of(key)).get(0);
  }

  /**
   * The values of keys of the keyspace, in the keys' order, as of this transaction: one request per
   * node, in parallel.
   */
  public List<Optional<byte[]>> getAll(String keyspace, List<byte[]> keys) {
    checkOpen();
    Keyspace.checkName(keyspace);
    List<Optional<byte[]>> values = new ArrayList<>(keys.size());
    List<byte[]> toRead = new ArrayList<>();
    List<Integer> at = new ArrayList<>();
    for (byte[] key : keys) {
      Limits.checkKey(key.length);
      Item own = items.get(keyOf(keyspace, key));
      if (own != null && own.write()) {
        values.add(Optional.ofNullable(own.value()));
      } else {
        values.add(Optional.empty());
        if (own == null) {
          track(new Item(keyspace, key.clone(), false, null));
        }
        at.add(values.size() - 1);
        toRead.add(key);
      }
    }
    if (!toRead.isEmpty()) {
      List<Optional<byte[]>> read;
      try {
        read = protocol.read(meta(), keyspace, toRead, requestDeadline());
      } catch (RuntimeException e) {
        fail();
        throw e;
      }
      for (int i = 0; i < read.size(); i++) {
        values.set(at.get(i), read.get(i));
      }
    }
    return values;
  }

  /**
   * The entries of a range keyspace with keys in [start, end) (an empty end: to the last key), in
   * key order, as of this transaction, its own writes included; at most {@code limit} (0: all) of
   * the stored entries are read. No key can appear in the range read, change or go until the
   * transaction ends (the range is locked on each node it spans). INVALID_ARGUMENT for a hash or
   * directory keyspace, whose keys are not kept in key order.
   */
  public List<KeyValue> scan(String keyspace, byte[] start, byte[] end, int limit) {
    checkOpen();
    Keyspace.checkName(keyspace);
    if (limit < 0) {
      throw ShardClusterException.invalidArgument("limit must not be negative");
    }
    TxnProtocol.ScanPart part;
    try {
      part = protocol.scan(meta(), keyspace, start, end, limit, requestDeadline());
    } catch (RuntimeException e) {
      fail();
      throw e;
    }
    ranges.addAll(part.locked());
    TreeMap<byte[], byte[]> rows = new TreeMap<>(Arrays::compareUnsigned);
    part.entries()
        .forEach(entry -> rows.put(entry.getKey().toByteArray(), entry.getValue().toByteArray()));
    for (Item item : items.values()) {
      if (!item.write() || !item.keyspace().equals(keyspace) || !lockedByScan(part, item.key())) {
        continue;
      }
      if (item.value() == null) {
        rows.remove(item.key());
      } else {
        rows.put(item.key(), item.value());
      }
    }
    List<KeyValue> result = new ArrayList<>(rows.size());
    rows.forEach((key, value) -> result.add(new KeyValue(key, value)));
    return result;
  }

  private static boolean lockedByScan(TxnProtocol.ScanPart part, byte[] key) {
    for (Item range : part.locked()) {
      byte[] end = range.rangeEnd();
      if (Arrays.compareUnsigned(key, range.key()) >= 0
          && (end == null || end.length == 0 || Arrays.compareUnsigned(key, end) < 0)) {
        return true;
      }
    }
    return false;
  }

  // ---- writes ----

  /** Sets a key of the client's keyspace when the transaction commits. */
  public void put(byte[] key, byte[] value) {
    put(keyspace, key, value);
  }

  /** Sets a UTF-8 key of the client's keyspace to a UTF-8 value when the transaction commits. */
  public void put(String key, String value) {
    put(utf8(key), utf8(value));
  }

  /** Sets a key of the keyspace when the transaction commits. */
  public void put(String keyspace, byte[] key, byte[] value) {
    checkOpen();
    Keyspace.checkName(keyspace);
    Limits.checkKey(key.length);
    Limits.checkValue(value.length);
    track(new Item(keyspace, key.clone(), true, value.clone()));
  }

  /** Removes a key of the client's keyspace when the transaction commits. */
  public void delete(byte[] key) {
    delete(keyspace, key);
  }

  /** Removes a UTF-8 key of the client's keyspace when the transaction commits. */
  public void delete(String key) {
    delete(utf8(key));
  }

  /** Removes a key of the keyspace when the transaction commits. */
  public void delete(String keyspace, byte[] key) {
    checkOpen();
    Keyspace.checkName(keyspace);
    Limits.checkKey(key.length);
    track(new Item(keyspace, key.clone(), true, null));
  }

  // ---- end ----

  /**
   * Makes every write visible at once, if every read still holds. ABORTED (nothing applied) if the
   * transaction lost a conflict or expired; {@link TransactionOutcomeUnknownException} if the
   * commit's answer was lost.
   */
  public void commit() {
    checkOpen();
    try {
      protocol.commit(meta(), all(), requestDeadline());
      state = State.COMMITTED;
    } catch (TransactionOutcomeUnknownException e) {
      state = State.ENDED;
      throw e;
    } catch (RuntimeException e) {
      fail();
      throw e;
    }
  }

  /** Drops the transaction's writes and releases its locks. Does nothing once it has ended. */
  public void rollback() {
    if (state != State.OPEN) {
      return;
    }
    state = State.ENDED;
    protocol.rollback(meta(), all(), requestDeadline());
  }

  /** Rolls back unless committed. */
  @Override
  public void close() {
    rollback();
  }

  /** Whether {@link #commit()} succeeded. */
  public boolean committed() {
    return state == State.COMMITTED;
  }

  private void fail() {
    if (state == State.OPEN) {
      state = State.ENDED;
      protocol.rollback(meta(), all(), requestDeadline());
    }
  }

  /** Every key read or written and every range scanned. */
  private List<Item> all() {
    List<Item> all = new ArrayList<>(items.values());
    all.addAll(ranges);
    return all;
  }

  private void track(Item item) {
    TxnKey key = keyOf(item.keyspace(), item.key());
    Item previous = items.get(key);
    long size = sizeOf(item);
    long previousSize = previous == null ? 0 : sizeOf(previous);
    if (previous == null && items.size() >= MAX_KEYS) {
      throw ShardClusterException.resourceExhausted(
          "a transaction touches at most " + MAX_KEYS + " keys");
    }
    if (bytes - previousSize + size > MAX_BYTES) {
      throw ShardClusterException.resourceExhausted(
          "a transaction's keys and values are at most " + MAX_BYTES + " bytes");
    }
    bytes += size - previousSize;
    items.put(key, item);
  }

  private static long sizeOf(Item item) {
    byte[] value = item.value();
    return (long) item.key().length + (value == null ? 0 : value.length);
  }

  private void checkOpen() {
    if (state != State.OPEN) {
      throw ShardClusterException.failedPrecondition(
          "transaction "
              + id()
              + (state == State.COMMITTED ? " has committed" : " has ended")
              + "; begin a new one");
    }
    if (deadline.isExpired()) {
      fail();
      throw ShardClusterException.aborted("transaction " + id() + " expired before it committed");
    }
  }

  private TxnMeta meta() {
    TxnMeta.Builder meta =
        TxnMeta.newBuilder()
            .setId(ByteString.copyFrom(id))
            .setStartMicros(startMicros)
            .setRemainingMillis(Math.max(1, deadline.timeRemaining(TimeUnit.MILLISECONDS)));
    for (Item item : items.values()) {
      if (item.write()) {
        meta.setPrimary(keyOf(item.keyspace(), item.key()));
        break;
      }
    }
    return meta.build();
  }

  private Deadline requestDeadline() {
    Deadline request = Deadline.after(requestTimeoutNanos, TimeUnit.NANOSECONDS, ticker);
    return request.isBefore(deadline) ? request : deadline;
  }

  private static TxnKey keyOf(String keyspace, byte[] key) {
    return TxnKey.newBuilder().setKeyspace(keyspace).setKey(ByteString.copyFrom(key)).build();
  }

  private static byte[] utf8(String text) {
    return requireNonNull(text, "key").getBytes(StandardCharsets.UTF_8);
  }
}
