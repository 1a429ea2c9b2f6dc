package io.shardcluster.node;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import io.shardcluster.errors.ShardClusterException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.jspecify.annotations.Nullable;

/**
 * The place a spare process took in a shard's replica group, saved in its data directory when the
 * coordinator adopted it, so that a restart runs as that replica again.
 *
 * @param nodeId the shard's node id
 * @param replicaId the spare's id in the group
 * @param peers the group's members as of the adoption, the spare included
 */
record SpareAdoption(String nodeId, String replicaId, List<GroupPeer> peers) {
  static final String FILE = "ADOPTED";

  SpareAdoption {
    peers = List.copyOf(peers);
    requireArgument(!nodeId.isBlank(), "a node id is required");
    requireArgument(
        peers.stream().anyMatch(peer -> peer.id().equals(replicaId)),
        "replica %s is not among the peers %s",
        replicaId,
        peers);
  }

  /** The adoption saved in the data directory; null if the spare was never adopted. */
  static @Nullable SpareAdoption load(Path dataDir) {
    Path file = dataDir.resolve(FILE);
    if (!Files.exists(file)) {
      return null;
    }
    Properties properties;
    try {
      properties = PropertiesFile.read(file);
    } catch (IOException e) {
      throw ShardClusterException.invalidArgument("cannot read " + file + ": " + e.getMessage());
    }
    String peers = properties.getProperty("peers", "");
    try {
      return new SpareAdoption(
          properties.getProperty("node.id", ""),
          properties.getProperty("replica.id", ""),
          Arrays.stream(peers.split(",")).filter(p -> !p.isEmpty()).map(GroupPeer::parse).toList());
    } catch (ShardClusterException e) {
      throw ShardClusterException.invalidArgument(file + " is damaged: " + e.getMessage());
    }
  }

  /** Saves it (fsync, atomically) in the data directory. */
  void save(Path dataDir) {
    Properties properties = new Properties();
    properties.setProperty("node.id", nodeId);
    properties.setProperty("replica.id", replicaId);
    properties.setProperty(
        "peers", String.join(",", peers.stream().map(GroupPeer::toString).toList()));
    Path file = dataDir.resolve(FILE);
    try {
      PropertiesFile.write(
          file, properties, "shardcluster: this spare's place in a replica group; do not edit");
    } catch (IOException e) {
      throw ShardClusterException.unavailable("cannot write " + file + ": " + e.getMessage());
    }
  }
}
