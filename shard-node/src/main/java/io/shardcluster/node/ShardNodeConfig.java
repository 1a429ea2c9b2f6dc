package io.shardcluster.node;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import io.shardcluster.rpc.HostPort;
import io.shardcluster.server.Failpoints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * A shard node's validated settings.
 *
 * @param nodeId the node id; may be null when the data dir already records one
 * @param host address to listen on (and to advertise)
 * @param port port to listen on; 0 picks a free one
 * @param dataDir where the partition and the node's identity are kept
 * @param coordinator the coordinator's address
 * @param syncWrites fsync every write batch before acknowledging it
 * @param heartbeatInterval time between heartbeats
 * @param threads threads serving requests when writes are fsynced
 * @param countInterval time between full counts of the owned keys (for the balancer) while keys are
 *     written
 * @param copyP99Factor outgoing copies slow down while this node's request p99 is above this many
 *     times its p99 before the move (see {@link CopyPacer}); 0 turns that off
 * @param failpoints where to crash or pause, for tests
 * @param replication this process's replica group, or {@link Replication#NONE}
 */
public record ShardNodeConfig(
    String nodeId,
    String host,
    int port,
    Path dataDir,
    HostPort coordinator,
    boolean syncWrites,
    Duration heartbeatInterval,
    int threads,
    Duration countInterval,
    double copyP99Factor,
    Failpoints failpoints,
    Replication replication) {
  /** Default bound on the foreground p99 while keys are copied away: twice the p99 before. */
  public static final double DEFAULT_COPY_P99_FACTOR = 2.0;

  public ShardNodeConfig {
    requireArgument(host != null && !host.isBlank(), "host must not be empty");
    requireArgument(port >= 0 && port <= 65535, "port must be 0-65535, got %s", port);
    requireArgument(dataDir != null, "data dir is required");
    requireArgument(coordinator != null, "coordinator address is required");
    requireArgument(
        heartbeatInterval != null && heartbeatInterval.toMillis() >= 10,
        "heartbeat interval must be at least 10 ms");
    requireArgument(threads >= 1 && threads <= 1024, "threads must be 1-1024, got %s", threads);
    requireArgument(
        countInterval != null && countInterval.toMillis() >= 100,
        "count interval must be at least 100 ms");
    requireArgument(
        copyP99Factor == 0 || (copyP99Factor >= 1 && copyP99Factor <= 100),
        "copy p99 factor must be 0 (off) or 1-100, got %s",
        copyP99Factor);
    requireArgument(failpoints != null, "failpoints must not be null");
    requireArgument(replication != null, "replication must not be null");
  }

  /**
   * The shard's replica group: every process of it runs with the same node id and peers, each with
   * its own replica id.
   *
   * @param replicaId this process's id in the group; empty for a shard of one process
   * @param peers every process of the group, this one included
   * @param zone where this process runs (a rack, a data centre); empty if not given
   */
  public record Replication(String replicaId, List<GroupPeer> peers, String zone) {
    /** A shard of one process: writes go straight to its store. */
    public static final Replication NONE = new Replication("", List.of());

    /** A replica with no zone given. */
    public Replication(String replicaId, List<GroupPeer> peers) {
      this(replicaId, peers, "");
    }

    public Replication {
      peers = List.copyOf(peers);
      requireArgument(
          zone.isEmpty() || !replicaId.isEmpty(),
          "--zone is for a replica of a replica group (with --replica and --peer)");
      requireArgument(
          zone.matches("[A-Za-z0-9._-]*"),
          "zone '%s' may hold only letters, digits, '.', '_' and '-'",
          zone);
      requireArgument(
          replicaId.isEmpty() == peers.isEmpty(),
          "a replica id and the group's peers go together (--replica with --peer)");
      Set<String> ids = new HashSet<>();
      for (GroupPeer peer : peers) {
        requireArgument(ids.add(peer.id()), "replica id %s is given twice", peer.id());
      }
      requireArgument(
          replicaId.isEmpty() || ids.contains(replicaId),
          "replica %s is not among the peers %s",
          replicaId,
          peers);
    }

    /**
     * The instance id every process of the group records for its data (they hold the same data),
     * from the node id alone: a process that replaces a member (with another peer list) records the
     * same one. Null without a group, or without a node id.
     */
    public @Nullable String groupInstance(@Nullable String nodeId) {
      if (!replicated() || nodeId == null) {
        return null;
      }
      String name = "shardcluster-group/" + nodeId;
      return "group-" + UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8));
    }

    /** Whether the shard has a replica group. */
    public boolean replicated() {
      return !peers.isEmpty();
    }
  }
}
