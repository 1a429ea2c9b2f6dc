package io.shardcluster.node;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Requests per range of a range keyspace over one window, with a uniform sample of the keys they
 * touched (reservoir sampling), so a hot range can be split where its load, not its size, divides
 * in two.
 */
final class RangeOperations {
  private static final int SAMPLES = 64;

  private final Map<KeyCounts.RangeSlot, Counter> counters = new ConcurrentHashMap<>();

  /** One window's figures for a range. */
  record Load(double opsPerSec, byte[] median) {}

  /** Counts a request for {@code key} in the range that starts at {@code start}. */
  void record(String keyspace, ByteString start, byte[] key) {
    counters
        .computeIfAbsent(new KeyCounts.RangeSlot(keyspace, start), s -> new Counter())
        .record(key);
  }

  /** Closes the window of {@code seconds}: each touched range's rate and load median. */
  Map<KeyCounts.RangeSlot, Load> closeWindow(double seconds) {
    Map<KeyCounts.RangeSlot, Load> loads = new HashMap<>();
    for (var iterator = counters.entrySet().iterator(); iterator.hasNext(); ) {
      var entry = iterator.next();
      // A range that has gone quiet (or away, after a split or a move) is forgotten.
      iterator.remove();
      Counter counter = entry.getValue();
      long count = counter.count.get();
      if (count > 0) {
        loads.put(entry.getKey(), new Load(count / seconds, counter.median()));
      }
    }
    return loads;
  }

  private static final class Counter {
    private final AtomicLong count = new AtomicLong();
    private final AtomicReferenceArray<byte[]> samples = new AtomicReferenceArray<>(SAMPLES);

    void record(byte[] key) {
      long n = count.incrementAndGet();
      if (n <= SAMPLES) {
        samples.set((int) n - 1, key);
      } else {
        long slot = ThreadLocalRandom.current().nextLong(n);
        if (slot < SAMPLES) {
          samples.set((int) slot, key);
        }
      }
    }

    /** The middle of the sampled keys in unsigned order: the key that halves the load. */
    byte[] median() {
      List<byte[]> keys = new ArrayList<>(SAMPLES);
      for (int i = 0; i < SAMPLES; i++) {
        keys.add(samples.get(i));
      }
      keys.removeIf(Objects::isNull);
      keys.sort(Arrays::compareUnsigned);
      return keys.isEmpty() ? new byte[0] : keys.get(keys.size() / 2);
    }
  }
}
