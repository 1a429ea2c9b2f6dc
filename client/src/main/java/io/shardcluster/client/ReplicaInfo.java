package io.shardcluster.client;

/**
 * One process of a shard's replica group, as the coordinator last heard of it.
 *
 * @param replicaId its id within the group
 * @param address host:port it serves clients on (only the leader serves)
 * @param leader whether it leads the group
 * @param term its Raft term
 * @param appliedIndex the index of the last log entry it applied
 * @param lag log entries it is behind the leader, as the leader last reported (0 for the leader)
 * @param millisSinceHeartbeat time since it last reported (0 if it never has)
 * @param heard false for a member of the group's configuration that has not reported since the
 *     coordinator started: not running, or not reaching the coordinator
 * @param zone where it runs ({@code shard-node --zone}); empty if not given
 */
public record ReplicaInfo(
    String replicaId,
    String address,
    boolean leader,
    long term,
    long appliedIndex,
    long lag,
    long millisSinceHeartbeat,
    boolean heard,
    String zone) {}
