package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Keyspaces with real JVMs, driven through shardctl as a user would: created, loaded, survived a
 * SIGKILL of a node and of the coordinator, moved by a join, dropped.
 */
class KeyspacesIT {
  private LocalCluster cluster;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private void ok(String... args) throws Exception {
    Shardctl.Result result = cluster.shardctl(args);
    assertThat(result.exitCode()).as(String.join(" ", args) + ": " + result.err()).isZero();
  }

  @Test
  void keyspace_survivesKills_movesWithAJoin_andDropDeletesItsKeys() throws Exception {
    cluster = LocalCluster.start("keyspaces", 3);
    ok("keyspace", "create", "users");
    ok("load", "--keyspace", "users", "--count", "3000", "--prefix", "u", "--value-size", "40");
    ok("load", "--count", "3000", "--prefix", "d", "--value-size", "40");

    cluster.kill("node-1");
    cluster.kill("coordinator");
    cluster.restart("coordinator");
    cluster.restart("node-1");
    cluster.awaitUp(3);
    ok("verify", "--keyspace", "users", "--count", "3000", "--prefix", "u", "--value-size", "40");

    cluster.addNode("node-4");
    cluster.awaitSettled(Duration.ofSeconds(120));
    ok("verify", "--keyspace", "users", "--count", "3000", "--prefix", "u", "--value-size", "40");
    ok("verify", "--count", "3000", "--prefix", "d", "--value-size", "40");
    Shardctl.Result list = cluster.shardctl("keyspace", "list", "--json");
    assertThat(list.out()).contains("\"name\":\"users\"", "\"strategy\":\"hash\"");

    Shardctl.Result unconfirmed = cluster.shardctl("keyspace", "drop", "users");
    assertThat(unconfirmed.exitCode()).isEqualTo(2);
    assertThat(unconfirmed.err()).contains("add --yes to confirm");
    ok("get", "--keyspace", "users", "u0");

    ok("keyspace", "drop", "users", "--yes");
    Shardctl.Result gone = cluster.shardctl("get", "--keyspace", "users", "u0");
    assertThat(gone.exitCode()).isEqualTo(3);
    assertThat(gone.err()).contains("no keyspace named 'users'");
    for (String node : new String[] {"node-1", "node-2", "node-3", "node-4"}) {
      cluster
          .node(node)
          .awaitLog("deleted the keys of dropped keyspace users", Duration.ofSeconds(30));
    }
    ok("verify", "--count", "3000", "--prefix", "d", "--value-size", "40");
  }

  /** Runs a load or verify of 1,000 keys of events for each of the prefixes a, h and q. */
  private void onEachPrefix(String command) throws Exception {
    for (String prefix : new String[] {"a", "h", "q"}) {
      ok(
          command,
          "--keyspace",
          "events",
          "--count",
          "1000",
          "--prefix",
          prefix,
          "--value-size",
          "20");
    }
  }

  @Test
  void rangeKeyspace_scansOnlyTheNodesItNeeds_splits_andMovesWholeRangesToANewNode()
      throws Exception {
    cluster = LocalCluster.start("range-keyspace", 3);
    ok("keyspace", "create", "events", "--strategy", "range", "--split-at", "g,p");
    onEachPrefix("load");
    Shardctl.Result first =
        cluster.shardctl("scan", "--keyspace", "events", "--from", "h", "--limit", "3");
    assertThat(first.exitCode()).as(first.err()).isZero();
    assertThat(first.out().lines().map(l -> l.split("\t")[0]).toList())
        .containsExactly("h0", "h1", "h10");
    Shardctl.Result route = cluster.shardctl("route", "--keyspace", "events", "h5");
    assertThat(route.out())
        .startsWith("node-2")
        .contains("placed by key range ['g', 'p')")
        .doesNotContain("position");

    // With node-2 (the owner of [g, p)) killed, a scan of [a, b) still answers.
    cluster.kill("node-2");
    Shardctl.Result left =
        cluster.shardctl("scan", "--keyspace", "events", "--from", "a", "--to", "b");
    assertThat(left.exitCode()).as(left.err()).isZero();
    assertThat(left.out().lines().count()).isEqualTo(1000);
    Shardctl.Result middle =
        cluster.shardctl(
            "scan", "--keyspace", "events", "--from", "h", "--to", "i", "--timeout-ms", "2000");
    assertThat(middle.exitCode()).isEqualTo(3);
    cluster.restart("node-2");
    cluster.awaitUp(3);

    // Split a range and move ranges to a new node while keys across all ranges are written and
    // read: no errors, every acknowledged write kept.
    AcknowledgedWorkload workload =
        AcknowledgedWorkload.start(
            cluster.client().keyspace("events"), 260, 3, 1, i -> (char) ('a' + i % 26) + "w" + i);
    await().atMost(Duration.ofSeconds(30)).until(() -> workload.writes() > 300);
    ok("split", "events", "--at", "m");
    Shardctl.Result again = cluster.shardctl("split", "events", "--at", "m");
    assertThat(again.exitCode()).isEqualTo(3);
    assertThat(again.err()).contains("a range already starts at 'm'");

    cluster.addNode("node-4");
    cluster.awaitSettled(Duration.ofSeconds(120));
    assertThat(cluster.nodeStates()).containsEntry("node-4", "UP");
    long settled = workload.writes();
    await().atMost(Duration.ofSeconds(30)).until(() -> workload.writes() > settled + 300);
    workload.close();
    assertThat(workload.errors()).as("errors: %s", workload.firstErrors()).isZero();
    assertThat(workload.staleReads()).as("stale: %s", workload.firstErrors()).isZero();
    workload.verify();
    assertThat(cluster.ownedKeys("events").get("node-4")).isNotEmpty();
    onEachPrefix("verify");
    Shardctl.Result all = cluster.shardctl("scan", "--keyspace", "events");
    List<String> keys = all.out().lines().map(l -> l.split("\t")[0]).toList();
    assertThat(keys).hasSize(3260).isSortedAccordingTo(String::compareTo);

    // Bad input: a clear one-line error, a failing exit code, and no change.
    long epoch = cluster.client().refreshRoutingTable().epoch();
    refused(3, "must not be empty", "split", "events", "--at", "");
    refused(3, "only range keyspaces have ranges", "split", "default", "--at", "m");
    refused(3, "no keyspace named 'nope'", "split", "nope", "--at", "m");
    refused(3, "no keyspace named 'nope'", "put", "--keyspace", "nope", "k", "v");
    refused(2, "unknown strategy 'chord'", "keyspace", "create", "x", "--strategy", "chord");
    refused(3, "split keys are for range keyspaces", "keyspace", "create", "x", "--split-at", "m");
    refused(2, "add --yes to confirm", "keyspace", "drop", "events");
    assertThat(cluster.client().refreshRoutingTable().epoch()).isEqualTo(epoch);
    assertThat(cluster.shardctl("keyspace", "list").out()).doesNotContain("x ");
  }

  private void refused(int exitCode, String message, String... args) throws Exception {
    Shardctl.Result result = cluster.shardctl(args);
    assertThat(result.exitCode()).as(String.join(" ", args)).isEqualTo(exitCode);
    assertThat(result.err()).as(String.join(" ", args)).contains(message);
    assertThat(result.err().lines().count()).as(result.err()).isEqualTo(1);
  }

  @Test
  void rangeKeyspace_growingPastTheSplitSize_isSplitAtMediansAndSpreadOverTheNodes()
      throws Exception {
    cluster = LocalCluster.start("range-auto-split", 3, List.of("--range-split-keys", "300"));
    ok("keyspace", "create", "ticks", "--strategy", "range");
    ok("load", "--keyspace", "ticks", "--count", "2000", "--prefix", "t", "--value-size", "20");

    var admin = cluster.client().admin();
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(admin.migrations(false)).isEmpty();
              Map<String, Set<String>> owned = cluster.ownedKeys("ticks");
              assertThat(owned.values().stream().mapToInt(Set::size).sum()).isEqualTo(2000);
              for (String node : List.of("node-1", "node-2", "node-3")) {
                assertThat(owned.get(node).size()).as(node).isBetween(1, 800);
              }
            });
    ok("verify", "--keyspace", "ticks", "--count", "2000", "--prefix", "t", "--value-size", "20");
    Shardctl.Result list = cluster.shardctl("keyspace", "list");
    assertThat(list.out()).containsPattern("ticks +range +([7-9]|[1-9][0-9])");
  }

  private String groupOwner(String group) throws Exception {
    Shardctl.Result result = cluster.shardctl("directory", "get", "tenants", group, "--json");
    assertThat(result.exitCode()).as(result.err()).isZero();
    return LocalCluster.JSON.readTree(result.out()).get("owner").asText();
  }

  @Test
  void directoryKeyspace_firstWritesFromManyProcessesAgree_groupsMoveUnderWrites_andSurviveKills()
      throws Exception {
    cluster = LocalCluster.start("directory-keyspace", 3);
    ok("keyspace", "create", "tenants", "--strategy", "directory");

    // Four shardctl processes write the new group acme at once: one placement, all keys on it.
    List<Thread> writers = new ArrayList<>();
    List<Shardctl.Result> results = new CopyOnWriteArrayList<>();
    for (int w = 0; w < 4; w++) {
      String prefix = "acme:w" + w + ":";
      Thread thread =
          new Thread(
              () -> {
                try {
                  results.add(
                      cluster.shardctl(
                          "load", "--keyspace", "tenants", "--count", "500", "--prefix", prefix));
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      thread.start();
      writers.add(thread);
    }
    for (Thread thread : writers) {
      thread.join(120_000);
    }
    assertThat(results).hasSize(4).allSatisfy(r -> assertThat(r.exitCode()).as(r.err()).isZero());
    String acme = groupOwner("acme");
    Map<String, Set<String>> owned = cluster.ownedKeys("tenants");
    assertThat(owned.get(acme)).hasSize(2000);
    assertThat(owned.values().stream().mapToInt(Set::size).sum()).isEqualTo(2000);
    for (String tenant : List.of("globex", "initech", "umbrella")) {
      ok("load", "--keyspace", "tenants", "--count", "300", "--prefix", tenant + ":");
    }
    Shardctl.Result list = cluster.shardctl("directory", "list", "tenants");
    assertThat(list.out()).contains("4 of 4 group(s)");

    // A group moves to another node while its keys are written and read.
    var client = cluster.client().keyspace("tenants");
    AcknowledgedWorkload workload = AcknowledgedWorkload.start(client, 300, 3, 1, i -> "hot:k" + i);
    String from = groupOwner("hot");
    String to = from.equals("node-1") ? "node-2" : "node-1";
    await().atMost(Duration.ofSeconds(30)).until(() -> workload.writes() > 500);
    ok("directory", "move", "tenants", "hot", "--to", to);
    ok("wait", "--migrations-done", "--timeout", "120");
    long after = workload.writes();
    await().atMost(Duration.ofSeconds(30)).until(() -> workload.writes() > after + 500);
    workload.close();
    assertThat(workload.errors()).as("errors: %s", workload.firstErrors()).isZero();
    assertThat(workload.staleReads()).as("stale: %s", workload.firstErrors()).isZero();
    workload.verify();
    assertThat(groupOwner("hot")).isEqualTo(to);
    owned = cluster.ownedKeys("tenants");
    owned.forEach(
        (node, keys) ->
            assertThat(keys.stream().filter(k -> k.startsWith("hot:")).count())
                .as("hot keys on %s", node)
                .isEqualTo(node.equals(to) ? 300 : 0));

    // Entries and data survive SIGKILL of the coordinator and of acme's node.
    cluster.kill("coordinator");
    cluster.kill(acme);
    cluster.restart("coordinator");
    cluster.restart(acme);
    cluster.awaitUp(3);
    assertThat(groupOwner("acme")).isEqualTo(acme);
    assertThat(groupOwner("hot")).isEqualTo(to);
    for (int w = 0; w < 4; w++) {
      ok("verify", "--keyspace", "tenants", "--count", "500", "--prefix", "acme:w" + w + ":");
    }
    workload.verify();

    // Bad input changes nothing.
    refused(
        3,
        "group 'nobody' of tenants has no entry",
        "directory",
        "move",
        "tenants",
        "nobody",
        "--to",
        "node-1");
    refused(3, "no node named node-9", "directory", "move", "tenants", "acme", "--to", "node-9");
    refused(
        3,
        "a group separator is for directory keyspaces only",
        "keyspace",
        "create",
        "x",
        "--separator",
        "/");
    assertThat(groupOwner("acme")).isEqualTo(acme);
  }
}
