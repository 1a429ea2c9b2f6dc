package io.shardcluster.shardctl;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/** Runs a task over the indexes 0..count-1 in batches, on several threads. */
final class KeyRangeWorkers {
  /** Processes indexes [from, to). */
  interface Batch {
    void run(long from, long to);
  }

  private KeyRangeWorkers() {}

  /**
   * Runs the batches; the commands have checked the count (>= 0), batch size and threads (>= 1).
   */
  static void run(long count, int batchSize, int threads, Batch batch) throws InterruptedException {
    AtomicLong next = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> workers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        workers.add(
            pool.submit(
                () -> {
                  long from;
                  while ((from = next.getAndAdd(batchSize)) < count) {
                    batch.run(from, Math.min(count, from + batchSize));
                  }
                }));
      }
      for (Future<?> worker : workers) {
        try {
          worker.get();
        } catch (ExecutionException e) {
          next.set(count);
          if (e.getCause() instanceof RuntimeException runtime) {
            throw runtime;
          }
          throw new IllegalStateException(e.getCause());
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
