package io.shardcluster.client;

import java.util.List;

/**
 * One shard node as the coordinator reports it.
 *
 * @param id node id
 * @param address host:port
 * @param state JOINING, UP, DRAINING or REMOVED as recorded, or DOWN while the node is silent
 * @param memberState its membership as recorded (JOINING, UP, DRAINING or REMOVED), also while it
 *     is DOWN
 * @param share fraction of the default keyspace's hash space it owns
 * @param intervals number of ring intervals it owns
 * @param keys estimated keys stored
 * @param bytes estimated bytes stored
 * @param keysStale whether keys and bytes may be out of date (written to, or ownership changed,
 *     since the node's last count; it counts again within its count interval)
 * @param readsPerSec reads per second over the last heartbeat window
 * @param writesPerSec writes per second over the last heartbeat window
 * @param readP99Millis server-side read latency p99 in that window
 * @param writeP99Millis server-side write latency p99 in that window
 * @param millisSinceHeartbeat time since its last heartbeat; 0 if none since the coordinator
 *     started
 * @param note for a JOINING or DRAINING node with no migration running, what it waits for (a
 *     retry's delay, a node to answer, an operator); empty otherwise
 * @param stopped whether it is DRAINING with its drain stopped (an operator cancelled a move, or
 *     failures rolled its moves back too often), until {@code drain} is run again
 * @param storageFaults reads that found its stored data damaged since it started (answered as
 *     DATA_LOSS)
 * @param storageFault what the latest of those said; empty if none
 * @param writeFault why its storage refuses writes now (read-only after an I/O error, until it is
 *     restarted); empty while it takes them
 * @param replicas the processes of its replica group, the leader first; empty for a node of one
 *     process
 * @param leaderZone the zone its replica group's leader is pinned to ({@link
 *     ClusterAdmin#pinLeader}); empty if none
 */
public record NodeInfo(
    String id,
    String address,
    NodeState state,
    NodeState memberState,
    double share,
    int intervals,
    long keys,
    long bytes,
    boolean keysStale,
    double readsPerSec,
    double writesPerSec,
    double readP99Millis,
    double writeP99Millis,
    long millisSinceHeartbeat,
    String note,
    boolean stopped,
    long storageFaults,
    String storageFault,
    String writeFault,
    List<ReplicaInfo> replicas,
    String leaderZone) {
  public NodeInfo {
    replicas = List.copyOf(replicas);
  }
}
