package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.client.KeyValue;
import io.shardcluster.client.ShardClient;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.IntFunction;

/**
 * Writers and readers running against keys {@code k0..k(N-1)} while a test changes the cluster.
 * Each key belongs to one writer, which writes it increasing numbers and records the last one
 * acknowledged. Readers check they never see a value older than one already acknowledged.
 */
final class AcknowledgedWorkload implements AutoCloseable {
  private final ShardClient client;
  private final int keys;
  private final AtomicLongArray acknowledged;
  private final AtomicLongArray attempted;
  private final IntFunction<String> naming;
  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicLong writes = new AtomicLong();
  private final AtomicLong reads = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicLong staleReads = new AtomicLong();
  private final ConcurrentLinkedQueue<String> firstErrors = new ConcurrentLinkedQueue<>();
  private final List<Thread> threads = new ArrayList<>();

  private AcknowledgedWorkload(ShardClient client, int keys, IntFunction<String> naming) {
    this.client = client;
    this.keys = keys;
    this.naming = naming;
    this.acknowledged = new AtomicLongArray(keys);
    this.attempted = new AtomicLongArray(keys);
  }

  static String key(int i) {
    return "k" + i;
  }

  private String name(int i) {
    return naming.apply(i);
  }

  /** Writes every key with value 0, then starts the writers and readers. */
  static AcknowledgedWorkload start(ShardClient client, int keys, int writers, int readers) {
    return start(client, keys, writers, readers, AcknowledgedWorkload::key);
  }

  /** As {@link #start(ShardClient, int, int, int)}, with the i-th key named {@code naming(i)}. */
  static AcknowledgedWorkload start(
      ShardClient client, int keys, int writers, int readers, IntFunction<String> naming) {
    List<KeyValue> batch = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      batch.add(KeyValue.of(naming.apply(i), "0"));
      if (batch.size() == 1000) {
        client.multiPut(batch);
        batch.clear();
      }
    }
    if (!batch.isEmpty()) {
      client.multiPut(batch);
    }
    AcknowledgedWorkload workload = new AcknowledgedWorkload(client, keys, naming);
    for (int w = 0; w < writers; w++) {
      int writer = w;
      workload.spawn("writer-" + w, () -> workload.write(writer, writers));
    }
    for (int r = 0; r < readers; r++) {
      SplittableRandom random = new SplittableRandom(r);
      workload.spawn("reader-" + r, () -> workload.read(random));
    }
    return workload;
  }

  private void spawn(String name, Runnable body) {
    Thread thread = new Thread(body, name);
    thread.setDaemon(true);
    threads.add(thread);
    thread.start();
  }

  private void write(int writer, int writers) {
    // Each key has one writer (keys writer, writer + writers, ...), so its values only grow.
    for (int i = writer; !stop.get(); i = i + writers < keys ? i + writers : writer) {
      long value = attempted.incrementAndGet(i);
      try {
        client.put(name(i), Long.toString(value));
        acknowledged.set(i, value);
        writes.incrementAndGet();
      } catch (RuntimeException e) {
        error("write " + name(i), e);
      }
    }
  }

  private void read(SplittableRandom random) {
    while (!stop.get()) {
      int i = random.nextInt(keys);
      long floor = acknowledged.get(i);
      try {
        Optional<String> value = client.get(name(i));
        reads.incrementAndGet();
        if (value.isEmpty() || Long.parseLong(value.get()) < floor) {
          staleReads.incrementAndGet();
          firstErrors.add("stale read of " + name(i) + ": " + value + " < " + floor);
        }
      } catch (RuntimeException e) {
        error("read " + name(i), e);
      }
    }
  }

  private void error(String what, RuntimeException e) {
    if (errors.incrementAndGet() <= 10) {
      firstErrors.add(what + ": " + e.getMessage());
    }
  }

  long writes() {
    return writes.get();
  }

  long errors() {
    return errors.get();
  }

  long staleReads() {
    return staleReads.get();
  }

  List<String> firstErrors() {
    return List.copyOf(firstErrors);
  }

  /** Stops the threads, waiting for their requests in flight. */
  @Override
  public void close() throws InterruptedException {
    stop.set(true);
    for (Thread thread : threads) {
      thread.join(30_000);
    }
  }

  /**
   * Every key holds its last acknowledged value, or (only where a write failed without an answer) a
   * later one that was attempted: never an older one, never none.
   */
  void verify() {
    List<byte[]> all = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      all.add(name(i).getBytes(StandardCharsets.UTF_8));
    }
    for (int from = 0; from < keys; from += 1000) {
      List<Optional<byte[]>> values =
          client.multiGet(all.subList(from, Math.min(keys, from + 1000)));
      for (int j = 0; j < values.size(); j++) {
        int i = from + j;
        assertThat(values.get(j)).as("%s lost", name(i)).isPresent();
        long stored = Long.parseLong(new String(values.get(j).get(), StandardCharsets.UTF_8));
        assertThat(stored).as(name(i)).isBetween(acknowledged.get(i), attempted.get(i));
      }
    }
  }
}
