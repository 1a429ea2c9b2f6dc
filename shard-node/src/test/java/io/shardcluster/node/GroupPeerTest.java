package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.shardcluster.errors.ShardClusterException;
import java.util.List;
import org.junit.jupiter.api.Test;

class GroupPeerTest {
  @Test
  void parse_idAddressAndRaftPort() {
    GroupPeer peer = GroupPeer.parse("b@127.0.0.1:7412/8412");
    assertThat(peer.id()).isEqualTo("b");
    assertThat(peer.address().toString()).isEqualTo("127.0.0.1:7412");
    assertThat(peer.raftAddress()).isEqualTo("127.0.0.1:8412");
    assertThat(peer).hasToString("b@127.0.0.1:7412/8412");
  }

  @Test
  void parse_malformed_isInvalidArgumentNamingTheForm() {
    for (String bad :
        List.of("127.0.0.1:7412", "b@127.0.0.1:7412", "b@127.0.0.1:7412/x", "@h:1/2")) {
      assertThatThrownBy(() -> GroupPeer.parse(bad))
          .isInstanceOf(ShardClusterException.class)
          .hasMessageContaining(bad);
    }
  }

  @Test
  void replication_replicaMustBeAmongUniquePeers() {
    List<GroupPeer> peers = List.of(GroupPeer.parse("a@h:1/2"), GroupPeer.parse("b@h:3/4"));
    assertThat(new ShardNodeConfig.Replication("a", peers).replicated()).isTrue();
    assertThatThrownBy(() -> new ShardNodeConfig.Replication("c", peers))
        .hasMessageContaining("not among the peers");
    assertThatThrownBy(
            () ->
                new ShardNodeConfig.Replication(
                    "a", List.of(GroupPeer.parse("a@h:1/2"), GroupPeer.parse("a@h:3/4"))))
        .hasMessageContaining("given twice");
    assertThatThrownBy(() -> new ShardNodeConfig.Replication("", peers))
        .hasMessageContaining("go together");
    assertThat(ShardNodeConfig.Replication.NONE.groupInstance("node-1")).isNull();
    List<GroupPeer> replaced = List.of(GroupPeer.parse("a@h:1/2"), GroupPeer.parse("d@h:5/6"));
    assertThat(new ShardNodeConfig.Replication("a", peers).groupInstance("node-1"))
        .isEqualTo(new ShardNodeConfig.Replication("b", peers).groupInstance("node-1"))
        .as("a replacement, with the new peer list")
        .isEqualTo(new ShardNodeConfig.Replication("d", replaced).groupInstance("node-1"))
        .startsWith("group-");
    assertThat(new ShardNodeConfig.Replication("a", peers).groupInstance("node-2"))
        .isNotEqualTo(new ShardNodeConfig.Replication("a", peers).groupInstance("node-1"));
  }
}
