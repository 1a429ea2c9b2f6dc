package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.ClusterAdmin;
import io.shardcluster.client.ShardClient;
import io.shardcluster.server.Failpoints;
import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The bank of the transactions issue on real processes: 1,000 accounts over every node, 16 clients
 * transferring and 4 auditors reading every balance in one transaction, while nodes are SIGKILLed
 * (also at failpoints on both sides of the commit point), a client process is SIGKILLed mid-commit,
 * and nodes join and drain. Every audit sees the exact total; at the end the total is exact, no
 * transaction holds a lock, and every transfer a client saw commit is applied.
 */
class TransactionsIT {
  private static final int ACCOUNTS = 1000;
  // Short, so that what a killed process left behind expires within the test.
  private static final Duration TXN_TIMEOUT = Duration.ofSeconds(4);

  private LocalCluster cluster;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private ShardClient client() {
    return ShardClient.builder()
        .coordinator(cluster.coordinatorAddress())
        .requestTimeout(Duration.ofSeconds(5))
        .transactionTimeout(TXN_TIMEOUT)
        .build();
  }

  private static void awaitCommits(Bank bank, long more) {
    long target = bank.commits() + more;
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> bank.commits() >= target);
  }

  /** Waits until no node holds a transaction's lock or unresolved record. */
  private static void awaitNoTransactions(ShardClient client) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(() -> assertThat(client.admin().transactions()).isEmpty());
  }

  /** Restarts the node with the failpoint set to crash, and waits until it has. */
  private void crashAt(String node, String failpoint) throws Exception {
    try {
      cluster.restartWith(node, List.of("--failpoint", failpoint + "=crash"));
    } catch (IllegalStateException crashedWhileStarting) {
      // A transaction reached the failpoint before the node was seen listening.
    }
    assertThat(cluster.node(node).awaitExit(Duration.ofSeconds(60))).isEqualTo(137);
  }

  @Test
  void bank_plainThenNodesKilled_atRandomAndOnBothSidesOfTheCommitPoint_keepsEveryPromise()
      throws Exception {
    cluster = LocalCluster.start("txn-kills", 3);
    try (ShardClient client = client()) {
      Bank bank = new Bank(client, ACCOUNTS);
      bank.open();
      bank.start(16, 4);
      // (a) plain.
      awaitCommits(bank, 300);
      long auditsPlain = bank.audits.get();

      // (b) a node SIGKILLed at a random moment, and restarted.
      // A random moment: after a random number of further commits.
      awaitCommits(bank, ThreadLocalRandom.current().nextInt(1, 50));
      cluster.kill("node-1");
      awaitCommits(bank, 50);
      cluster.restart("node-1");
      awaitCommits(bank, 100);

      // Crash after the participants prepared, before the record commits: those abort.
      crashAt("node-2", Failpoints.TXN_BEFORE_RECORD);
      cluster.restart("node-2");
      awaitCommits(bank, 100);

      // Crash after the record committed, before the participants learn it: those commit.
      crashAt("node-3", Failpoints.TXN_AFTER_RECORD);
      cluster.restart("node-3");
      awaitCommits(bank, 100);

      bank.stop();
      awaitNoTransactions(client);
      bank.verify();
      assertThat(auditsPlain).as("audits while nothing failed").isPositive();
      assertThat(bank.audits.get()).isGreaterThan(auditsPlain);
    }
  }

  @Test
  void bank_whileAClientProcessIsKilledMidCommit_othersResolveWhatItLeft() throws Exception {
    cluster = LocalCluster.start("txn-client-kill", 3);
    try (ShardClient client = client()) {
      Bank bank = new Bank(client, ACCOUNTS);
      bank.open();
      bank.start(8, 2);
      // Another process transfers between the same accounts, and is killed mid-flight: some of
      // its transactions are prepared on some nodes and never told the outcome.
      Shardctl.Running other =
          cluster.startShardctl(
              "bench",
              "--txn",
              "--no-preload",
              "--keys",
              "1000",
              "--threads",
              "16",
              "--duration",
              "60",
              "--warmup",
              "0",
              "--no-audit");
      // Mid-flight: once more transactions are in flight than this test's 10 threads can hold.
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(50))
          .until(
              () ->
                  client.admin().transactions().stream()
                          .map(ClusterAdmin.TransactionInfo::id)
                          .distinct()
                          .count()
                      > 10);
      awaitCommits(bank, ThreadLocalRandom.current().nextInt(1, 100));
      other.kill();
      awaitCommits(bank, 200);

      bank.stop();
      awaitNoTransactions(client);
      bank.verify();
    }
  }

  @Test
  void bank_duringAJoinAndADrain_keepsEveryPromise() throws Exception {
    cluster = LocalCluster.start("txn-moves", 3);
    try (ShardClient client = client()) {
      Bank bank = new Bank(client, ACCOUNTS);
      bank.open();
      bank.start(16, 4);
      awaitCommits(bank, 200);

      cluster.addNode("node-4");
      cluster.awaitSettled(Duration.ofSeconds(120));
      awaitCommits(bank, 100);
      assertThat(cluster.shardctl("drain", "node-1").exitCode()).isZero();
      cluster.awaitSettled(Duration.ofSeconds(120));
      awaitCommits(bank, 100);

      bank.stop();
      awaitNoTransactions(client);
      bank.verify();
      assertThat(cluster.ownedKeys().getOrDefault("node-1", Set.of())).isEmpty();
    }
  }
}
