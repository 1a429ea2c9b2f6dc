package io.shardcluster.it;

import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.TestCluster;
import java.nio.file.Path;
import java.util.List;

/** {@link ClusterScenarios} with a real coordinator and node JVMs, crashed with SIGKILL. */
class ProcessClusterScenariosIT extends ClusterScenarios {
  @Override
  TestCluster start(Path dir, String name, int nodes) throws Exception {
    return LocalCluster.start(name, nodes, List.of("--balancer", "off"));
  }
}
