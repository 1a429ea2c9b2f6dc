package io.shardcluster.client;

/** A shard node's membership state as the coordinator sees it. */
public enum NodeState {
  /** A member heartbeating within the failure-detection timeout. */
  UP,
  /** Missed heartbeats for longer than the timeout. */
  DOWN,
  /** Receiving its share of the keys; not serving any yet. */
  JOINING,
  /** Handing all its keys to the other nodes. */
  DRAINING,
  /** No longer a member; owns nothing. */
  REMOVED
}
