package io.shardcluster.shardctl;

import io.shardcluster.client.KeyValue;
import io.shardcluster.client.ShardClient;
import io.shardcluster.client.Transaction;
import io.shardcluster.client.TransactionOutcomeUnknownException;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.routing.RoutingTable;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * {@code shardctl bench --txn}: a bank. Accounts start at {@link #START_BALANCE}; threads move
 * random amounts between random pairs of accounts on different nodes (or, to measure the one-call
 * commit, on the same node), each in a transaction, while an auditor reads every balance in one
 * read-only transaction and checks the total. Measured side by side with single-key puts from as
 * many threads on the same cluster, in the same run.
 */
final class TransferBench {
  static final long START_BALANCE = 1000;
  private static final String ACCOUNT = "acct:";
  private static final String PUT = "bench-put:";

  private final ShardClient client;
  private final PrintWriter out;
  private final int threads;
  private final int accounts;
  private final double duration;
  private final double warmup;
  private final boolean preload;
  private final boolean audit;
  private final boolean sameNodePairs;
  private final boolean json;

  TransferBench(
      ShardClient client,
      PrintWriter out,
      int threads,
      int accounts,
      double duration,
      double warmup,
      boolean preload,
      boolean audit,
      boolean sameNodePairs,
      boolean json) {
    this.client = client;
    this.out = out;
    this.threads = threads;
    this.accounts = accounts;
    this.duration = duration;
    this.warmup = warmup;
    this.preload = preload;
    this.audit = audit;
    this.sameNodePairs = sameNodePairs;
    this.json = json;
  }

  static byte[] account(int i) {
    return (ACCOUNT + i).getBytes(StandardCharsets.UTF_8);
  }

  /** Runs the bench; exit code 1 if an audit or the final total was wrong. */
  int run() throws InterruptedException {
    if (preload) {
      List<KeyValue> entries = new ArrayList<>();
      for (int i = 0; i < accounts; i++) {
        entries.add(new KeyValue(account(i), bytes(Long.toString(START_BALANCE))));
      }
      client.multiPut(entries);
    }
    Phase puts = new Phase("puts");
    puts.run(random -> client.put(bytes(PUT + random.nextInt(100_000)), new byte[100]));

    Phase transfers = new Phase("transfers");
    LongAdder aborts = new LongAdder();
    LongAdder unknown = new LongAdder();
    Recorder auditLatency = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
    LongAdder audits = new LongAdder();
    LongAdder wrongAudits = new LongAdder();
    Thread auditor =
        new Thread(
            () -> {
              while (audit && !transfers.stopped) {
                long start = System.nanoTime();
                try {
                  long total = audit();
                  auditLatency.recordValue(Math.min(System.nanoTime() - start, 60_000_000_000L));
                  audits.increment();
                  if (total != START_BALANCE * accounts) {
                    wrongAudits.increment();
                  }
                } catch (ShardClusterException e) {
                  // An aborted audit is tried again.
                }
              }
            },
            "auditor");
    auditor.setDaemon(true);
    auditor.start();
    RoutingTable table = client.routingTable();
    transfers.run(random -> transfer(random, table, aborts, unknown));
    auditor.join();

    long total = 0;
    List<byte[]> keys = new ArrayList<>();
    for (int i = 0; i < accounts; i++) {
      keys.add(account(i));
    }
    for (Optional<byte[]> value : client.multiGet(keys)) {
      total += value.map(v -> Long.parseLong(new String(v, StandardCharsets.UTF_8))).orElse(0L);
    }
    Histogram audit = auditLatency.getIntervalHistogram();
    long attempts = transfers.ops.sum() + aborts.sum();
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("puts_per_sec", puts.rate());
    result.put("put_p50_ms", puts.latency.getValueAtPercentile(50) / 1e6);
    result.put("put_p99_ms", puts.latency.getValueAtPercentile(99) / 1e6);
    result.put("transfers_per_sec", transfers.rate());
    result.put("transfer_p50_ms", transfers.latency.getValueAtPercentile(50) / 1e6);
    result.put("transfer_p99_ms", transfers.latency.getValueAtPercentile(99) / 1e6);
    result.put("ratio", transfers.rate() / Math.max(1e-9, puts.rate()));
    result.put("aborts", aborts.sum());
    result.put("abort_rate", attempts == 0 ? 0.0 : aborts.sum() / (double) attempts);
    result.put("outcome_unknown", unknown.sum());
    result.put("errors", transfers.errors.sum());
    result.put("audits", audits.sum());
    result.put("audit_p50_ms", audit.getValueAtPercentile(50) / 1e6);
    result.put("audit_p99_ms", audit.getValueAtPercentile(99) / 1e6);
    result.put("wrong_audits", wrongAudits.sum());
    result.put("accounts", accounts);
    result.put("threads", threads);
    result.put("total", total);
    result.put("expected_total", START_BALANCE * accounts);
    if (json) {
      Output.json(out, result);
    } else {
      out.printf(
          Locale.ROOT,
          "bench --txn: %d threads, %,d accounts, %.1f s per phase%n",
          threads,
          accounts,
          duration);
      out.printf(
          Locale.ROOT,
          "  single-key puts/s   %,.0f  (p50 %.2f ms, p99 %.2f ms)%n",
          puts.rate(),
          puts.latency.getValueAtPercentile(50) / 1e6,
          puts.latency.getValueAtPercentile(99) / 1e6);
      out.printf(
          Locale.ROOT,
          "  transfers/s         %,.0f  (p50 %.2f ms, p99 %.2f ms), %.2fx of puts%n",
          transfers.rate(),
          transfers.latency.getValueAtPercentile(50) / 1e6,
          transfers.latency.getValueAtPercentile(99) / 1e6,
          transfers.rate() / Math.max(1e-9, puts.rate()));
      out.printf(
          Locale.ROOT,
          "  aborts              %,d (%.1f%% of attempts), %d outcome unknown, %d errors%n",
          aborts.sum(),
          100.0 * (attempts == 0 ? 0 : aborts.sum() / (double) attempts),
          unknown.sum(),
          transfers.errors.sum());
      out.printf(
          Locale.ROOT,
          "  audits              %,d (p50 %.2f ms, p99 %.2f ms), %d with a wrong total%n",
          audits.sum(),
          audit.getValueAtPercentile(50) / 1e6,
          audit.getValueAtPercentile(99) / 1e6,
          wrongAudits.sum());
      out.printf(
          Locale.ROOT,
          "  total               %,d (expected %,d)%n",
          total,
          START_BALANCE * accounts);
    }
    boolean exact = wrongAudits.sum() == 0 && total == START_BALANCE * accounts;
    return exact ? 0 : ShardctlMain.EXIT_NO;
  }

  /** The sum of every balance, read in one read-only transaction. */
  private long audit() {
    List<byte[]> keys = new ArrayList<>(accounts);
    for (int i = 0; i < accounts; i++) {
      keys.add(account(i));
    }
    return client.transactionResult(
        tx -> {
          long total = 0;
          for (Optional<byte[]> value : tx.getAll(client.keyspaceName(), keys)) {
            total += value.map(TransferBench::balance).orElse(0L);
          }
          return total;
        });
  }

  /** One transfer between two accounts on different nodes (or the same, as asked), if there are. */
  private void transfer(
      SplittableRandom random, RoutingTable table, LongAdder aborts, LongAdder unknown) {
    int from = random.nextInt(accounts);
    int to = random.nextInt(accounts);
    for (int i = 0; i < 64 && sameNode(table, from, to) != sameNodePairs; i++) {
      to = random.nextInt(accounts);
    }
    if (to == from) {
      to = (from + 1) % accounts;
    }
    long amount = 1L + random.nextInt(100);
    for (int attempt = 0; ; attempt++) {
      try (Transaction tx = client.begin()) {
        // Both balances in one round trip: a request to each of the two nodes, in parallel.
        List<Optional<byte[]>> balances =
            tx.getAll(client.keyspaceName(), List.of(account(from), account(to)));
        long a = balances.get(0).map(TransferBench::balance).orElse(0L);
        long b = balances.get(1).map(TransferBench::balance).orElse(0L);
        tx.put(account(from), bytes(Long.toString(a - amount)));
        tx.put(account(to), bytes(Long.toString(b + amount)));
        tx.commit();
        return;
      } catch (TransactionOutcomeUnknownException e) {
        unknown.increment();
        return;
      } catch (ShardClusterException e) {
        if (e.code() != ErrorCode.ABORTED || attempt >= 50) {
          throw e;
        }
        aborts.increment();
        long cap = Math.min(100, 1L << Math.min(attempt, 7));
        try {
          TimeUnit.MILLISECONDS.sleep(random.nextLong(cap + 1));
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  private boolean sameNode(RoutingTable table, int a, int b) {
    String keyspace = client.keyspaceName();
    String owner = table.ownerOf(keyspace, account(a));
    return owner != null && owner.equals(table.ownerOf(keyspace, account(b)));
  }

  private static long balance(byte[] value) {
    return Long.parseLong(new String(value, StandardCharsets.UTF_8));
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** Closed-loop threads running one operation after another; measured after the warm-up. */
  private final class Phase {
    final String name;
    final Histogram latency = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
    final LongAdder ops = new LongAdder();
    final LongAdder errors = new LongAdder();
    volatile boolean stopped;
    double seconds;

    Phase(String name) {
      this.name = name;
    }

    double rate() {
      return seconds == 0 ? 0 : ops.sum() / seconds;
    }

    void run(Consumer<SplittableRandom> operation) throws InterruptedException {
      Recorder recorder = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
      LongAdder measured = new LongAdder();
      List<Thread> workers = new ArrayList<>();
      AtomicBoolean measuring = new AtomicBoolean();
      for (int t = 0; t < threads; t++) {
        SplittableRandom random = new SplittableRandom(t * 7919L + name.hashCode());
        Thread worker =
            new Thread(
                () -> {
                  while (!stopped) {
                    long start = System.nanoTime();
                    try {
                      operation.accept(random);
                      if (measuring.get()) {
                        recorder.recordValue(Math.min(System.nanoTime() - start, 60_000_000_000L));
                        measured.increment();
                      }
                    } catch (RuntimeException e) {
                      if (measuring.get()) {
                        errors.increment();
                      }
                    }
                  }
                },
                name + "-" + t);
        worker.setDaemon(true);
        workers.add(worker);
        worker.start();
      }
      Thread.sleep((long) (warmup * 1000));
      recorder.reset();
      measuring.set(true);
      long start = System.nanoTime();
      Thread.sleep((long) (duration * 1000));
      measuring.set(false);
      seconds = (System.nanoTime() - start) / 1e9;
      ops.add(measured.sum());
      latency.add(recorder.getIntervalHistogram());
      stopped = true;
      for (Thread worker : workers) {
        worker.join(TimeUnit.SECONDS.toMillis(60));
      }
    }
  }
}
