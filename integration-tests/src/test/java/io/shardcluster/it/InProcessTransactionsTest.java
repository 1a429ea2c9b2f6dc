package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.KeyValue;
import io.shardcluster.client.ShardClient;
import io.shardcluster.client.Transaction;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.testing.InProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Transactions on a real three-node cluster in one JVM: atomicity, isolation, bad input. */
class InProcessTransactionsTest {
  @TempDir Path dir;
  private InProcessCluster cluster;
  private ShardClient client;

  @BeforeEach
  void start() {
    cluster =
        new InProcessCluster(dir, InProcessCluster.config(dir, false, Duration.ofMillis(500)));
    for (int i = 1; i <= 3; i++) {
      cluster.addNode("node-" + i);
    }
    client = cluster.client();
  }

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /**
   * Waits until no node holds a lock or a record still to resolve (resolution follows the commit).
   */
  private void awaitNoTransactions() {
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(client.admin().transactions()).isEmpty());
  }

  /** Two keys that live on different nodes. */
  private List<String> keysOnTwoNodes() {
    RoutingTable table = client.refreshRoutingTable();
    String first = "acct-0";
    String firstOwner = table.ownerOf("default", first.getBytes(StandardCharsets.UTF_8));
    for (int i = 1; ; i++) {
      String other = "acct-" + i;
      if (!firstOwner.equals(table.ownerOf("default", other.getBytes(StandardCharsets.UTF_8)))) {
        return List.of(first, other);
      }
    }
  }

  @Test
  void transaction_acrossNodes_appliesEveryWriteAndSeesItsOwnWrites() {
    List<String> keys = keysOnTwoNodes();
    client.put(keys.get(0), "100");
    client.put(keys.get(1), "0");

    client.transaction(
        tx -> {
          long a = Long.parseLong(tx.get(keys.get(0)).orElseThrow());
          tx.put(keys.get(0), Long.toString(a - 30));
          assertThat(tx.get(keys.get(0))).contains("70");
          tx.put(keys.get(1), "30");
          tx.delete("absent-key");
          assertThat(tx.get("absent-key")).isEmpty();
        });

    assertThat(client.get(keys.get(0))).contains("70");
    assertThat(client.get(keys.get(1))).contains("30");
    awaitNoTransactions();
  }

  @Test
  void commit_ofKeysOnOneNode_andReadOnly_commit() {
    client.put("solo", "1");
    String result = client.transactionResult(tx -> tx.get("solo").orElseThrow());
    assertThat(result).isEqualTo("1");
    try (Transaction tx = client.begin()) {
      tx.put("solo", "2");
      tx.commit();
      assertThat(tx.committed()).isTrue();
    }
    assertThat(client.get("solo")).contains("2");
  }

  @Test
  void rollback_andCloseWithoutCommit_changeNothing() {
    List<String> keys = keysOnTwoNodes();
    client.put(keys.get(0), "a");
    try (Transaction tx = client.begin()) {
      tx.get(keys.get(0));
      tx.put(keys.get(0), "b");
      tx.put(keys.get(1), "b");
    }
    Transaction tx = client.begin();
    tx.put(keys.get(0), "c");
    tx.rollback();
    assertThatThrownBy(tx::commit)
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining("has ended");
    assertThat(client.get(keys.get(0))).contains("a");
    assertThat(client.get(keys.get(1))).isEmpty();
    // A plain write of a key a rolled-back transaction read goes through at once.
    client.put(keys.get(0), "d");
    assertThat(client.get(keys.get(0))).contains("d");
  }

  @Test
  void writeSkew_twoTransactionsReadingBothKeys_neverBothCommit() {
    List<String> keys = keysOnTwoNodes();
    client.put(keys.get(0), "1");
    client.put(keys.get(1), "1");
    Transaction first = client.begin();
    Transaction second = client.begin();
    first.get(keys.get(0));
    first.get(keys.get(1));
    second.get(keys.get(0));
    second.get(keys.get(1));
    first.put(keys.get(0), "0");
    second.put(keys.get(1), "0");

    int committed = 0;
    for (Transaction tx : List.of(first, second)) {
      try {
        tx.commit();
        committed++;
      } catch (ShardClusterException e) {
        assertThat(e.code()).isEqualTo(ErrorCode.ABORTED);
      }
    }

    assertThat(committed).isEqualTo(1);
    long zeros = keys.stream().filter(key -> client.get(key).orElseThrow().equals("0")).count();
    assertThat(zeros).isEqualTo(1);
  }

  @Test
  void plainWrite_ofKeyATransactionRead_abortsTheTransaction() {
    client.put("seen", "1");
    Transaction tx = client.begin();
    tx.get("seen");
    client.put("seen", "2");
    tx.put("seen", "from-tx");
    assertThatThrownBy(tx::commit)
        .isInstanceOfSatisfying(
            ShardClusterException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.ABORTED));
    assertThat(client.get("seen")).contains("2");
  }

  @Test
  void counter_incrementedByManyClients_countsEveryAcknowledgedCommit() throws Exception {
    client.put("counter", "0");
    AtomicInteger acknowledged = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(32);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < 32; t++) {
      done.add(
          pool.submit(
              () -> {
                for (int i = 0; i < 5; i++) {
                  client.transaction(
                      tx -> {
                        long value = Long.parseLong(tx.get("counter").orElseThrow());
                        tx.put("counter", Long.toString(value + 1));
                      });
                  acknowledged.incrementAndGet();
                }
              }));
    }
    for (Future<?> future : done) {
      future.get(2, TimeUnit.MINUTES);
    }
    pool.shutdown();
    assertThat(acknowledged.get()).isEqualTo(160);
    assertThat(client.get("counter")).contains("160");
    awaitNoTransactions();
  }

  private ShardClient rangeKeyspace() {
    client.admin().createKeyspace("ranges", "range", List.of(bytes("h"), bytes("p")));
    ShardClient ranges = client.keyspace("ranges");
    for (String key : List.of("a", "c", "i", "q", "x")) {
      ranges.put(key, "v-" + key);
    }
    return ranges;
  }

  private static List<String> keys(List<KeyValue> rows) {
    return rows.stream().map(row -> new String(row.key(), StandardCharsets.UTF_8)).toList();
  }

  @Test
  void scan_ofARangeKeyspace_spansNodes_andSeesItsOwnWrites() {
    rangeKeyspace();
    try (Transaction tx = client.begin()) {
      tx.put("ranges", bytes("b"), bytes("new"));
      tx.delete("ranges", bytes("i"));
      assertThat(keys(tx.scan("ranges", bytes(""), bytes(""), 0)))
          .containsExactly("a", "b", "c", "q", "x");
      assertThat(keys(tx.scan("ranges", bytes("c"), bytes("r"), 0))).containsExactly("c", "q");
      assertThat(keys(tx.scan("ranges", bytes("a"), bytes(""), 2))).containsExactly("a", "b", "c");
      tx.commit();
    }
    assertThat(client.keyspace("ranges").get("b")).contains("new");
    assertThat(client.keyspace("ranges").get("i")).isEmpty();
    awaitNoTransactions();
  }

  @Test
  void scan_thenAnInsertIntoTheRange_abortsOneOfThem() {
    ShardClient ranges = rangeKeyspace();
    // A plain write into a scanned range wins: the scanning transaction aborts.
    Transaction scanner = client.begin();
    assertThat(keys(scanner.scan("ranges", bytes("a"), bytes("z"), 0))).hasSize(5);
    ranges.put("d", "phantom");
    scanner.put("count", "5");
    assertThatThrownBy(scanner::commit)
        .isInstanceOfSatisfying(
            ShardClusterException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.ABORTED));
    assertThat(client.get("count")).isEmpty();

    // A younger transaction inserting into the range of an older one's scan aborts itself.
    Transaction older = client.begin();
    Transaction younger = client.begin();
    assertThat(keys(older.scan("ranges", bytes("a"), bytes("z"), 0))).hasSize(6);
    younger.put("ranges", bytes("e"), bytes("late"));
    assertThatThrownBy(younger::commit)
        .isInstanceOfSatisfying(
            ShardClusterException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.ABORTED));
    older.put("count", "6");
    older.commit();
    assertThat(client.get("count")).contains("6");
    assertThat(ranges.get("e")).isEmpty();
  }

  @Test
  void scan_ofAHashKeyspace_isRefused() {
    try (Transaction tx = client.begin()) {
      assertThatThrownBy(() -> tx.scan("default", bytes("a"), bytes("b"), 0))
          .isInstanceOfSatisfying(
              ShardClusterException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }
  }

  @Test
  void badInput_unknownKeyspaceOrOversized_failsAndChangesNothing() {
    client.put("keep", "1");
    assertThatThrownBy(
            () ->
                client.transaction(
                    tx -> {
                      tx.put("keep", "2");
                      tx.put("no-such-keyspace", bytes("k"), bytes("v"));
                    }))
        .isInstanceOfSatisfying(
            ShardClusterException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    assertThat(client.get("keep")).contains("1");

    try (Transaction tx = client.begin()) {
      assertThatThrownBy(() -> tx.put(bytes("k"), new byte[2 * 1024 * 1024]))
          .isInstanceOfSatisfying(
              ShardClusterException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
      byte[] value = new byte[1024 * 1024];
      assertThatThrownBy(
              () -> {
                for (int i = 0; i < 20; i++) {
                  tx.put(bytes("big-" + i), value);
                }
              })
          .isInstanceOfSatisfying(
              ShardClusterException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED));
    }
    assertThat(client.get("big-0")).isEqualTo(Optional.empty());
    awaitNoTransactions();
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
