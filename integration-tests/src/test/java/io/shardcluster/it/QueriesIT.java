package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Queries with real JVMs through shardctl, as a user runs them: documents stored with put --json,
 * tables and JSON out, the plan, a SIGKILLed node named (or skipped with --allow-partial) and back
 * after a restart, and bad queries refused in one line.
 */
class QueriesIT {
  private LocalCluster cluster;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private Shardctl.Result ok(String... args) throws Exception {
    Shardctl.Result result = cluster.shardctl(args);
    assertThat(result.exitCode()).as(String.join(" ", args) + ": " + result.err()).isZero();
    return result;
  }

  private void refused(String message, String... args) throws Exception {
    Shardctl.Result result = cluster.shardctl(args);
    assertThat(result.exitCode()).as(String.join(" ", args)).isEqualTo(3);
    assertThat(result.err()).as(String.join(" ", args)).contains(message);
    assertThat(result.err().lines().count()).as(result.err()).isEqualTo(1);
  }

  @Test
  void documents_queriedAcrossNodes_survivingAKilledNode() throws Exception {
    cluster = LocalCluster.start("queries", 3);
    ok("keyspace", "create", "users");
    String[] cities = {"london", "paris", "rome"};
    // A few documents as a user types them, the rest through the client API (faster than a JVM
    // per put).
    try (var client = cluster.client()) {
      for (int i = 0; i < 30; i++) {
        String document =
            "{\"name\":\"user"
                + i
                + "\",\"age\":"
                + (10 + i * 2)
                + ",\"city\":\""
                + cities[i % 3]
                + "\"}";
        if (i < 3) {
          ok("put", "--keyspace", "users", "u" + i, "--json", document);
        } else {
          client.keyspace("users").putDocument("u" + i, document);
        }
      }
    }
    ok("put", "--keyspace", "users", "note", "not a document");

    Shardctl.Result adults =
        ok("query", "SELECT COUNT(*) FROM users WHERE age >= 18 AND city IS NOT NULL");
    assertThat(adults.out().lines().toList()).containsExactly("COUNT(*)", "26", "(1 row)");
    Shardctl.Result byCity =
        ok(
            "query",
            "SELECT city, COUNT(*) AS n, AVG(age), MAX(name) FROM users GROUP BY city ORDER BY city",
            "--json");
    assertThat(byCity.out().lines().toList())
        .containsExactly(
            "{\"city\":null,\"n\":1,\"AVG(age)\":null,\"MAX(name)\":null}",
            "{\"city\":\"london\",\"n\":10,\"AVG(age)\":37.0,\"MAX(name)\":\"user9\"}",
            "{\"city\":\"paris\",\"n\":10,\"AVG(age)\":39.0,\"MAX(name)\":\"user7\"}",
            "{\"city\":\"rome\",\"n\":10,\"AVG(age)\":41.0,\"MAX(name)\":\"user8\"}");
    Shardctl.Result oldest =
        ok("query", "SELECT name, age FROM users ORDER BY age DESC LIMIT 2", "--json");
    assertThat(oldest.out().lines().toList())
        .containsExactly("{\"name\":\"user29\",\"age\":68}", "{\"name\":\"user28\",\"age\":66}");
    Shardctl.Result plan = ok("query", "SELECT * FROM users WHERE _key = 'u7'", "--explain");
    assertThat(plan.out()).contains("(1 of 3)", "pushed down to each node: filter _key = \"u7\"");

    String victim =
        cluster.client().keyspace("users").route("u7".getBytes(StandardCharsets.UTF_8)).owner();
    cluster.kill(victim);
    refused("no answer from " + victim, "query", "SELECT COUNT(*) FROM users");
    Shardctl.Result partial =
        ok("query", "SELECT name FROM users WHERE age > 0", "--allow-partial", "--json");
    assertThat(partial.err()).contains("partial result: no answer from " + victim);
    assertThat(partial.out().lines().count()).isBetween(1L, 29L);
    cluster.restart(victim);
    cluster.awaitUp(3);
    assertThat(ok("query", "SELECT COUNT(*) FROM users", "--json").out().trim())
        .isEqualTo("{\"COUNT(*)\":31}");

    refused("syntax error at column", "query", "SELECT * FORM users");
    refused("no keyspace named 'nope'", "query", "SELECT * FROM nope");
    refused("unknown function 'MEDIAN'", "query", "SELECT MEDIAN(age) FROM users");
    refused("field 'city' must be in GROUP BY", "query", "SELECT city, COUNT(*) FROM users");
    refused("LIMIT must not be negative", "query", "SELECT * FROM users LIMIT -1");
    refused("unsupported: JOIN", "query", "SELECT * FROM users JOIN b ON users.x = b.x");
    refused("a document must be a JSON object", "put", "--keyspace", "users", "x", "--json", "[1]");
    refused("the document is not JSON", "put", "--keyspace", "users", "x", "--json", "{oops");
    assertThat(ok("query", "SELECT COUNT(*) FROM users", "--json").out().trim())
        .isEqualTo("{\"COUNT(*)\":31}");
  }
}
