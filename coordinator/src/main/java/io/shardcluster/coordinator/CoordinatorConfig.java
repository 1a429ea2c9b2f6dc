package io.shardcluster.coordinator;

import static io.shardcluster.client.ShardClusterException.requireArgument;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The coordinator's validated settings.
 *
 * @param host address to listen on
 * @param port port to listen on; 0 picks a free one
 * @param dataDir where metadata is persisted
 * @param vnodes most ring pieces a joining node takes
 * @param heartbeatTimeout silence after which a node is DOWN
 */
public record CoordinatorConfig(
    String host, int port, Path dataDir, int vnodes, Duration heartbeatTimeout) {
  /** Default number of ring pieces a joining node takes. */
  public static final int DEFAULT_VNODES = 16;

  public CoordinatorConfig {
    requireArgument(host != null && !host.isBlank(), "host must not be empty");
    requireArgument(port >= 0 && port <= 65535, "port must be 0-65535, got " + port);
    requireArgument(dataDir != null, "data dir is required");
    requireArgument(vnodes >= 1 && vnodes <= 4096, "vnodes must be 1-4096, got " + vnodes);
    requireArgument(
        heartbeatTimeout != null && heartbeatTimeout.toMillis() >= 100,
        "heartbeat timeout must be at least 100 ms");
  }
}
