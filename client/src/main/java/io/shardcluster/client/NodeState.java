package io.shardcluster.client;

/** A shard node's membership state as the coordinator sees it. */
public enum NodeState {
  /** Heartbeating within the failure-detection timeout. */
  UP,
  /** Missed heartbeats for longer than the timeout. */
  DOWN
}
