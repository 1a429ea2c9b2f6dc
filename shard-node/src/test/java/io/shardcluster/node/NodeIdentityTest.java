package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.shardcluster.errors.ShardClusterException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeIdentityTest {
  @TempDir Path dir;

  @Test
  void loadOrCreate_newDir_createsIdentity_reloadKeepsIt() {
    NodeIdentity created = NodeIdentity.loadOrCreate(dir, "node-1");
    assertThat(created.nodeId()).isEqualTo("node-1");
    assertThat(NodeIdentity.loadOrCreate(dir, null)).isEqualTo(created);
    assertThat(NodeIdentity.loadOrCreate(dir, "node-1")).isEqualTo(created);
  }

  @Test
  void loadOrCreate_otherId_isRefusedNamingBoth() {
    NodeIdentity.loadOrCreate(dir, "node-1");
    assertThatThrownBy(() -> NodeIdentity.loadOrCreate(dir, "node-2"))
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining("belongs to node node-1, not node-2");
  }

  @Test
  void loadOrCreate_newDirWithoutId_isRefused() {
    assertThatThrownBy(() -> NodeIdentity.loadOrCreate(dir, null)).hasMessageContaining("--id");
  }
}
