package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
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
}
