package io.shardcluster.it;

import io.shardcluster.testing.InProcessCluster;
import io.shardcluster.testing.TestCluster;
import java.nio.file.Path;
import java.time.Duration;

/** {@link ClusterScenarios} in one JVM. */
class InProcessClusterScenariosTest extends ClusterScenarios {
  @Override
  TestCluster start(Path dir, String name, int nodes) {
    InProcessCluster cluster =
        new InProcessCluster(dir, InProcessCluster.config(dir, false, Duration.ofMillis(500)));
    for (int i = 1; i <= nodes; i++) {
      cluster.addNode("node-" + i);
    }
    return cluster;
  }
}
