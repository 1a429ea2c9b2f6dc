package io.shardcluster.it;

import io.shardcluster.client.ShardClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writers that each own some keys, writing them increasing numbers and reading them back, every
 * operation recorded in a {@link RegisterHistory} for the linearizability check. Failed operations
 * are recorded too (a failed write as one whose outcome is unknown); the workload never stops on
 * one.
 */
final class HistoryWorkload implements AutoCloseable {
  private final ShardClient client;
  private final int keys;
  private final RegisterHistory history = new RegisterHistory();
  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicLong acknowledged = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final long[] lastAcknowledged;
  private final long[] lastAttempted;
  private final List<Thread> threads = new ArrayList<>();

  HistoryWorkload(ShardClient client, int keys, int threads) {
    this.client = client;
    this.keys = keys;
    this.lastAcknowledged = new long[keys];
    this.lastAttempted = new long[keys];
    for (int t = 0; t < threads; t++) {
      int owner = t;
      Thread thread = new Thread(() -> run(owner, threads), "history-" + t);
      thread.setDaemon(true);
      this.threads.add(thread);
    }
  }

  static String key(int i) {
    return "reg-" + i;
  }

  void start() {
    threads.forEach(Thread::start);
  }

  private void run(int owner, int stride) {
    SplittableRandom random = new SplittableRandom(owner);
    while (!stop.get()) {
      int k = owner + stride * random.nextInt((keys - owner + stride - 1) / stride);
      String key = key(k);
      boolean write = random.nextBoolean();
      long invoked = System.nanoTime();
      if (write) {
        long value = lastAttempted[k] + 1;
        lastAttempted[k] = value;
        boolean ok;
        try {
          client.put(key, Long.toString(value));
          ok = true;
          lastAcknowledged[k] = value;
          acknowledged.incrementAndGet();
        } catch (RuntimeException e) {
          ok = false;
          failed.incrementAndGet();
        }
        history.record(
            key,
            new RegisterHistory.Op(
                true, value, invoked, ok ? System.nanoTime() : Long.MAX_VALUE, ok));
      } else {
        try {
          Optional<String> read = client.get(key);
          history.record(
              key,
              new RegisterHistory.Op(
                  false, read.map(Long::parseLong).orElse(0L), invoked, System.nanoTime(), true));
        } catch (RuntimeException e) {
          failed.incrementAndGet();
        }
      }
    }
  }

  /** Writes acknowledged so far. */
  long acknowledged() {
    return acknowledged.get();
  }

  /** Operations that failed so far (during elections, say). */
  long failed() {
    return failed.get();
  }

  RegisterHistory history() {
    return history;
  }

  @Override
  public void close() throws InterruptedException {
    stop.set(true);
    for (Thread thread : threads) {
      thread.join();
    }
  }

  /**
   * Reads every key once more (after {@link #close}) and lists each whose value is not the last
   * acknowledged one or a later attempted one: an acknowledged write that was lost.
   */
  List<String> lostWrites() {
    List<String> lost = new ArrayList<>();
    for (int k = 0; k < keys; k++) {
      long value = client.get(key(k)).map(Long::parseLong).orElse(0L);
      if (value < lastAcknowledged[k] || value > lastAttempted[k]) {
        lost.add(
            key(k)
                + " = "
                + value
                + ", last acknowledged "
                + lastAcknowledged[k]
                + ", last attempted "
                + lastAttempted[k]);
      }
    }
    return lost;
  }
}
