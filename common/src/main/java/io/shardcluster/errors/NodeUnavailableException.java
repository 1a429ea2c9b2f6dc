package io.shardcluster.errors;

import org.jspecify.annotations.Nullable;

/** The shard node that owns a key could not be reached. */
public final class NodeUnavailableException extends ShardClusterException {
  private static final long serialVersionUID = 1L;

  private final String node;
  private final String address;

  /** Creates the error for the given node, with the transport's reason. */
  public NodeUnavailableException(
      String node, String address, @Nullable String reason, Throwable cause) {
    super(
        ErrorCode.UNAVAILABLE,
        "node " + node + " at " + address + " is unavailable: " + reason,
        cause);
    this.node = node;
    this.address = address;
  }

  /** The unreachable node's id. */
  public String node() {
    return node;
  }

  /** The address that was tried. */
  public String address() {
    return address;
  }
}
