package io.shardcluster.server;

/**
 * Which kind of process a data directory belongs to, known by the entry each kind creates in it
 * first. A process refuses a directory that holds the other kind's entry, so that a coordinator
 * never writes its metadata among a node's data, nor a node its data beside a coordinator's.
 */
public enum DataDirRole {
  COORDINATOR("the coordinator", "metadata"),
  SHARD_NODE("a shard node", "IDENTITY");

  private final String owner;
  private final String marker;

  DataDirRole(String owner, String marker) {
    this.owner = owner;
    this.marker = marker;
  }

  /** Who owns a directory of this role, in words ("a shard node"). */
  String owner() {
    return owner;
  }

  /** The entry in the directory that shows this role. */
  String marker() {
    return marker;
  }
}
