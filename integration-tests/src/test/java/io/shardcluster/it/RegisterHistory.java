package io.shardcluster.it;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The recorded operations on registers (keys), and a linearizability check of them in the style of
 * Knossos and Porcupine, specialised to what our workloads write: each key has one writer, which
 * writes it increasing numbers (0 is the value before the first write). For such a register a
 * history is linearizable exactly when (1) every read returns the initial value or the value of a
 * write invoked before the read completed, (2) no read returns a value older than one whose write
 * was acknowledged before the read was invoked, and (3) of two reads one after the other in real
 * time, the later never returns an older value. A write that failed (its outcome unknown) may have
 * taken effect at any time after its invocation.
 */
final class RegisterHistory {
  /** One operation: a write of {@code value}, or a read that returned it. */
  record Op(boolean write, long value, long invokedNanos, long completedNanos, boolean ok) {}

  private final Map<String, List<Op>> byKey = new ConcurrentHashMap<>();

  void record(String key, Op op) {
    byKey.computeIfAbsent(key, k -> Collections.synchronizedList(new ArrayList<>())).add(op);
  }

  /** Operations recorded, all keys. */
  long size() {
    return byKey.values().stream().mapToLong(List::size).sum();
  }

  /** Keys with at least one operation. */
  int keys() {
    return byKey.size();
  }

  /** Every violation found, one line each; empty if every key's history is linearizable. */
  List<String> violations() {
    List<String> found = new ArrayList<>();
    byKey.forEach((key, ops) -> found.addAll(check(key, List.copyOf(ops))));
    return found;
  }

  static List<String> check(String key, List<Op> ops) {
    List<String> found = new ArrayList<>();
    Map<Long, Op> writes = new HashMap<>();
    List<Op> acknowledged = new ArrayList<>();
    List<Op> reads = new ArrayList<>();
    for (Op op : ops) {
      if (op.write()) {
        writes.put(op.value(), op);
        if (op.ok()) {
          acknowledged.add(op);
        }
      } else if (op.ok()) {
        reads.add(op);
      }
    }
    acknowledged.sort(Comparator.comparingLong(Op::completedNanos));
    for (Op read : reads) {
      Op write = writes.get(read.value());
      if (read.value() != 0 && (write == null || write.invokedNanos() > read.completedNanos())) {
        found.add(
            key + ": a read returned " + read.value() + ", which was never written before it");
      }
      long newestAcked = 0;
      for (Op acked : acknowledged) {
        if (acked.completedNanos() >= read.invokedNanos()) {
          break;
        }
        newestAcked = Math.max(newestAcked, acked.value());
      }
      if (read.value() < newestAcked) {
        found.add(
            key
                + ": a read returned "
                + read.value()
                + " after "
                + newestAcked
                + " had been acknowledged (a stale read)");
      }
    }
    List<Op> byInvocation = new ArrayList<>(reads);
    byInvocation.sort(Comparator.comparingLong(Op::invokedNanos));
    List<Op> byCompletion = new ArrayList<>(reads);
    byCompletion.sort(Comparator.comparingLong(Op::completedNanos));
    // For each read, the largest value returned by a read that completed before it was invoked.
    int next = 0;
    long newestRead = 0;
    Op newestReadOp = null;
    for (Op read : byInvocation) {
      while (next < byCompletion.size()
          && byCompletion.get(next).completedNanos() < read.invokedNanos()) {
        Op earlier = byCompletion.get(next++);
        if (earlier.value() > newestRead) {
          newestRead = earlier.value();
          newestReadOp = earlier;
        }
      }
      if (read.value() < newestRead && newestReadOp != null) {
        found.add(
            key
                + ": a read returned "
                + read.value()
                + " after an earlier read had returned "
                + newestRead
                + " (values went backwards)");
      }
    }
    return found;
  }
}
