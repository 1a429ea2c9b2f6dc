package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.client.KeyValue;
import io.shardcluster.client.ShardClient;
import io.shardcluster.client.Transaction;
import io.shardcluster.client.TransactionOutcomeUnknownException;
import io.shardcluster.errors.ShardClusterException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bank for transaction tests: accounts {@code acct:N} (as {@code shardctl bench --txn} names
 * them) with a balance each; transfer threads move random amounts between random pairs, each
 * transfer also writing a receipt key in the same transaction; auditors read every balance in one
 * read-only transaction and check the total. Records what the clients were told.
 */
final class Bank {
  static final long START_BALANCE = 1000;

  private final ShardClient client;
  private final int accounts;
  private final AtomicBoolean stop = new AtomicBoolean();
  private final List<Thread> threads = new ArrayList<>();
  final Set<String> committed = ConcurrentHashMap.newKeySet();
  final Set<String> aborted = ConcurrentHashMap.newKeySet();
  final AtomicLong unknown = new AtomicLong();
  final AtomicLong failures = new AtomicLong();
  final AtomicLong audits = new AtomicLong();
  final List<Long> wrongAudits = new CopyOnWriteArrayList<>();

  Bank(ShardClient client, int accounts) {
    this.client = client;
    this.accounts = accounts;
  }

  static byte[] account(int i) {
    return ("acct:" + i).getBytes(StandardCharsets.UTF_8);
  }

  long expectedTotal() {
    return START_BALANCE * accounts;
  }

  void open() {
    List<KeyValue> entries = new ArrayList<>();
    for (int i = 0; i < accounts; i++) {
      entries.add(new KeyValue(account(i), bytes(Long.toString(START_BALANCE))));
    }
    client.multiPut(entries);
  }

  void start(int transferers, int auditors) {
    for (int t = 0; t < transferers; t++) {
      SplittableRandom random = new SplittableRandom(t * 31L + 7);
      threads.add(new Thread(() -> transfers(random), "transfer-" + t));
    }
    for (int a = 0; a < auditors; a++) {
      threads.add(new Thread(this::audits, "audit-" + a));
    }
    threads.forEach(Thread::start);
  }

  void stop() throws InterruptedException {
    stop.set(true);
    for (Thread thread : threads) {
      thread.join(120_000);
      assertThat(thread.isAlive()).as(thread.getName() + " ended").isFalse();
    }
  }

  long commits() {
    return committed.size();
  }

  private void transfers(SplittableRandom random) {
    while (!stop.get()) {
      int from = random.nextInt(accounts);
      int to = (from + 1 + random.nextInt(accounts - 1)) % accounts;
      long amount = 1L + random.nextInt(50);
      String receipt = "receipt:" + UUID.randomUUID();
      Transaction tx = client.begin();
      try {
        List<Optional<byte[]>> balances = tx.getAll("default", List.of(account(from), account(to)));
        tx.put(account(from), bytes(Long.toString(balance(balances.get(0)) - amount)));
        tx.put(account(to), bytes(Long.toString(balance(balances.get(1)) + amount)));
        tx.put(bytes(receipt), bytes(from + "," + to + "," + amount));
        tx.commit();
        committed.add(receipt);
      } catch (TransactionOutcomeUnknownException e) {
        unknown.incrementAndGet();
      } catch (ShardClusterException e) {
        // Aborted, or a node could not be reached before the commit: nothing applied.
        aborted.add(receipt);
        failures.incrementAndGet();
      } finally {
        tx.close();
      }
    }
  }

  private void audits() {
    List<byte[]> keys = new ArrayList<>();
    for (int i = 0; i < accounts; i++) {
      keys.add(account(i));
    }
    while (!stop.get()) {
      try {
        // Retried in the transaction's name, so an audit ages and gets through the writers.
        long total =
            client.transactionResult(
                tx -> {
                  long sum = 0;
                  for (Optional<byte[]> value : tx.getAll("default", keys)) {
                    sum += balance(value);
                  }
                  return sum;
                });
        audits.incrementAndGet();
        if (total != expectedTotal()) {
          wrongAudits.add(total);
        }
      } catch (ShardClusterException e) {
        // An audit that could not finish saw nothing it could vouch for.
      }
    }
  }

  /** The sum of the balances, read plainly. */
  long total() {
    List<byte[]> keys = new ArrayList<>();
    for (int i = 0; i < accounts; i++) {
      keys.add(account(i));
    }
    long total = 0;
    for (Optional<byte[]> value : client.multiGet(keys)) {
      total += balance(value);
    }
    return total;
  }

  /**
   * Checks what the bank promises: every audit saw the exact total, the total is exact, every
   * transfer the client saw commit has its receipt and none it saw abort has one.
   */
  void verify() {
    assertThat(audits.get()).as("audits that completed").isPositive();
    assertThat(wrongAudits).as("audits with a wrong total").isEmpty();
    assertThat(total()).as("total of all balances").isEqualTo(expectedTotal());
    List<byte[]> receipts = new ArrayList<>();
    committed.forEach(receipt -> receipts.add(bytes(receipt)));
    List<Optional<byte[]>> found = receipts.isEmpty() ? List.of() : client.multiGet(receipts);
    assertThat(found.stream().filter(Optional::isEmpty).count())
        .as("committed transfers without their receipt")
        .isZero();
    List<byte[]> abortedReceipts = new ArrayList<>();
    aborted.forEach(receipt -> abortedReceipts.add(bytes(receipt)));
    List<Optional<byte[]>> leaked =
        abortedReceipts.isEmpty() ? List.of() : client.multiGet(abortedReceipts);
    assertThat(leaked.stream().filter(Optional::isPresent).count())
        .as("aborted transfers whose receipt was written")
        .isZero();
  }

  private static long balance(Optional<byte[]> value) {
    return value.map(v -> Long.parseLong(new String(v, StandardCharsets.UTF_8))).orElse(0L);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
