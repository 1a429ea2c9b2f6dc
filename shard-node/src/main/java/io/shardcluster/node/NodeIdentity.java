package io.shardcluster.node;

import io.shardcluster.errors.ShardClusterException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * Who a data directory belongs to: the node id, fixed when the directory is created, a random
 * instance id that tells this directory from any other claiming the same node id, and the cluster
 * it joined.
 *
 * @param nodeId the node's id
 * @param instanceId random id of this data directory
 * @param clusterId the cluster whose coordinator first admitted the node; empty until then
 */
record NodeIdentity(String nodeId, String instanceId, String clusterId) {
  static final String FILE = "IDENTITY";

  /**
   * The identity stored in the directory, or a new one for {@code requestedId} if the directory has
   * none. INVALID_ARGUMENT if the directory belongs to another node id, or if it is new and no id
   * was given.
   */
  static NodeIdentity loadOrCreate(Path dataDir, String requestedId) {
    return loadOrCreate(dataDir, requestedId, null);
  }

  /**
   * As above; a new directory gets {@code instanceIfNew} as its instance id if given (the processes
   * of a replica group share one: they hold the same data), else a random one.
   */
  static NodeIdentity loadOrCreate(
      Path dataDir, String requestedId, @Nullable String instanceIfNew) {
    Path file = dataDir.resolve(FILE);
    if (Files.exists(file)) {
      Properties properties;
      try {
        properties = PropertiesFile.read(file);
      } catch (IOException e) {
        throw ShardClusterException.invalidArgument("cannot read " + file + ": " + e.getMessage());
      }
      NodeIdentity stored =
          new NodeIdentity(
              properties.getProperty("node.id", ""),
              properties.getProperty("instance.id", ""),
              properties.getProperty("cluster.id", ""));
      if (stored.nodeId().isEmpty() || stored.instanceId().isEmpty()) {
        throw ShardClusterException.invalidArgument(
            file + " is damaged: it lacks node.id or instance.id");
      }
      if (requestedId != null && !requestedId.equals(stored.nodeId())) {
        throw ShardClusterException.invalidArgument(
            "data dir " + dataDir + " belongs to node " + stored.nodeId() + ", not " + requestedId);
      }
      return stored;
    }
    if (requestedId == null) {
      throw ShardClusterException.invalidArgument(
          "data dir " + dataDir + " is new: give the node an id with --id");
    }
    NodeIdentity created =
        new NodeIdentity(
            requestedId, instanceIfNew != null ? instanceIfNew : UUID.randomUUID().toString(), "");
    created.write(file);
    return created;
  }

  /** This identity with the cluster the node joined, saved (fsync) in the data directory. */
  NodeIdentity joined(Path dataDir, String cluster) {
    NodeIdentity joined = new NodeIdentity(nodeId, instanceId, cluster);
    joined.write(dataDir.resolve(FILE));
    return joined;
  }

  private void write(Path file) {
    Properties properties = new Properties();
    properties.setProperty("node.id", nodeId);
    properties.setProperty("instance.id", instanceId);
    if (!clusterId.isEmpty()) {
      properties.setProperty("cluster.id", clusterId);
    }
    try {
      PropertiesFile.write(file, properties, "shardcluster node identity; do not edit");
    } catch (IOException e) {
      throw ShardClusterException.invalidArgument("cannot write " + file + ": " + e.getMessage());
    }
  }
}
