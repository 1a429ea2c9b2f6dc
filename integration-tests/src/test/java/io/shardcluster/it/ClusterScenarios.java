package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.client.KeyValue;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.ShardClient;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.testing.TestCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scenarios written once against {@link TestCluster} and run by each harness: {@link
 * InProcessClusterScenariosTest} in one JVM, {@link ProcessClusterScenariosIT} with real processes.
 */
abstract class ClusterScenarios {
  private static final int KEYS = 2_000;

  @TempDir Path dir;
  private TestCluster cluster;

  /** A started cluster of {@code nodes} nodes, all UP. */
  abstract TestCluster start(Path dir, String name, int nodes) throws Exception;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private ShardClient startWithKeys(TestInfo test, int nodes) throws Exception {
    cluster = start(dir, test.getTestMethod().orElseThrow().getName(), nodes);
    ShardClient client = cluster.client();
    List<KeyValue> batch = new ArrayList<>();
    for (int i = 0; i < KEYS; i++) {
      batch.add(KeyValue.of("k" + i, "v" + i));
    }
    client.multiPut(batch);
    return client;
  }

  private static void assertEveryKeyReadable(ShardClient client) {
    List<byte[]> keys = new ArrayList<>();
    for (int i = 0; i < KEYS; i++) {
      keys.add(("k" + i).getBytes(StandardCharsets.UTF_8));
    }
    List<Optional<byte[]>> values = client.multiGet(keys);
    for (int i = 0; i < KEYS; i++) {
      assertThat(values.get(i).map(v -> new String(v, StandardCharsets.UTF_8)))
          .as("k%d", i)
          .contains("v" + i);
    }
  }

  /** Every key on exactly one node; returns the nodes' key counts. */
  private Map<String, Set<String>> assertEachKeyOnOneNode() {
    Map<String, Set<String>> byNode = cluster.keysByNode(Keyspace.DEFAULT);
    Set<String> seen = new HashSet<>();
    byNode.forEach(
        (node, keys) ->
            keys.forEach(k -> assertThat(seen.add(k)).as("%s on two nodes", k).isTrue()));
    assertThat(seen).hasSize(KEYS);
    return byNode;
  }

  @Test
  void join_movesAShareToTheNewNode_losingNothing(TestInfo test) throws Exception {
    ShardClient client = startWithKeys(test, 3);

    cluster.startNode("node-4");
    cluster.awaitNodeState("node-4", NodeState.UP);
    cluster.awaitSettled();

    assertEveryKeyReadable(client);
    Map<String, Set<String>> byNode = assertEachKeyOnOneNode();
    assertThat(byNode.get("node-4").size()).isBetween(KEYS / 8, KEYS / 2);
  }

  @Test
  void crashedNode_recoversWithItsKeys(TestInfo test) throws Exception {
    ShardClient client = startWithKeys(test, 3);
    Map<String, Set<String>> before = cluster.keysByNode(Keyspace.DEFAULT);

    cluster.crashNode("node-2");
    cluster.awaitNodeState("node-2", NodeState.DOWN);
    cluster.recoverNode("node-2");
    cluster.awaitNodeState("node-2", NodeState.UP);

    assertEveryKeyReadable(client);
    assertThat(cluster.keysByNode(Keyspace.DEFAULT)).isEqualTo(before);
  }
}
