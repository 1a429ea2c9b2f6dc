package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.ShardClient;
import io.shardcluster.errors.NodeUnavailableException;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A shard node killed with SIGKILL mid-write and restarted on its data dir. */
class NodeFailureIT {
  private LocalCluster cluster;
  private ShardClient client;

  @BeforeEach
  void start() throws Exception {
    cluster = LocalCluster.start("node-failure", 3);
    client = cluster.client();
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void sigkillOfANode_othersKeepServing_itsKeysFailFast_restartBringsBackEveryAcknowledgedWrite()
      throws Exception {
    RoutingTable table = client.refreshRoutingTable();
    // Each writer owns its keys and overwrites them with increasing values; what was acknowledged
    // is recorded.
    Map<String, Integer> acknowledged = new ConcurrentHashMap<>();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger round = new AtomicInteger();
    List<Thread> writers =
        IntStream.range(0, 4)
            .mapToObj(
                w ->
                    new Thread(
                        () -> {
                          for (int value = 1; !stop.get(); value++) {
                            round.incrementAndGet();
                            String key = "w" + w + ":" + (value % 500);
                            try {
                              client.put(key, Integer.toString(value));
                              acknowledged.put(key, value);
                            } catch (RuntimeException expectedWhileDown) {
                              // Not acknowledged: no promise to keep.
                            }
                          }
                        }))
            .toList();
    writers.forEach(Thread::start);
    await().atMost(Duration.ofSeconds(30)).until(() -> acknowledged.size() >= 2000);

    cluster.kill("node-2");
    int acknowledgedAtKill = round.get();
    await().atMost(Duration.ofSeconds(10)).until(() -> round.get() > acknowledgedAtKill + 500);
    stop.set(true);
    for (Thread writer : writers) {
      writer.join();
    }

    // Keys on the other nodes stay readable and writable.
    String survivorKey = keyOwnedBy(table, "node-1");
    client.put(survivorKey, "still-here");
    assertThat(client.get(survivorKey)).contains("still-here");

    // Keys on the dead node fail fast, naming it.
    String deadKey = keyOwnedBy(table, "node-2");
    long start = System.nanoTime();
    assertThatThrownBy(() -> client.get(deadKey))
        .isInstanceOfSatisfying(
            NodeUnavailableException.class, e -> assertThat(e.node()).isEqualTo("node-2"))
        .hasMessageContaining("node node-2 at " + table.address("node-2").orElseThrow());
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    // Unhealthy at once: unreachable from here even before the coordinator marks it DOWN.
    Shardctl.Result justKilled = cluster.shardctl("health");
    assertThat(justKilled.exitCode()).isEqualTo(1);
    assertThat(justKilled.out()).containsPattern("(reachable|nodes) +FAIL +node-2 ");

    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> "DOWN".equals(cluster.nodeStates().get("node-2")));
    // The operator's check says what is wrong and what of the data is out of reach.
    Shardctl.Result unhealthy = cluster.shardctl("health");
    assertThat(unhealthy.exitCode()).isEqualTo(1);
    assertThat(unhealthy.out())
        .containsPattern("nodes +FAIL +node-2 is DOWN")
        .containsPattern("data +FAIL +default: [0-9.]+% of the ring \\(on DOWN node-2\\)")
        .contains("unhealthy: 2 check(s) failed");

    cluster.restart("node-2");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> "UP".equals(cluster.nodeStates().get("node-2")));
    Shardctl.Result healthy = cluster.shardctl("health");
    assertThat(healthy.exitCode()).as(healthy.out()).isZero();
    assertThat(healthy.out()).contains("3 node(s) answer from here").endsWith("healthy\n");

    for (var entry : acknowledged.entrySet()) {
      String value =
          client
              .get(entry.getKey())
              .orElseThrow(() -> new AssertionError("lost " + entry.getKey()));
      // A later write may have landed without its acknowledgement arriving; never an older one.
      assertThat(Integer.parseInt(value))
          .as(entry.getKey())
          .isGreaterThanOrEqualTo(entry.getValue());
    }
    assertThat(client.refreshRoutingTable().epoch()).isEqualTo(table.epoch());
  }

  private static String keyOwnedBy(RoutingTable table, String node) {
    for (int i = 0; ; i++) {
      String key = "probe" + i;
      if (node.equals(table.ownerOf(Keyspace.DEFAULT, utf8(key)))) {
        return key;
      }
    }
  }
}
