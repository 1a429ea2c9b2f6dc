package io.shardcluster.errors;

import java.util.Optional;

/**
 * A node was asked for a key it does not own under its routing table. The client handles this
 * itself by refreshing its table and retrying; callers see it only when retries are exhausted or
 * when they talk to a node directly.
 */
public final class WrongShardException extends ShardClusterException {
  private static final long serialVersionUID = 1L;

  private final long epoch;
  private final String node;
  private final String owner;
  private final String ownerAddress;

  /**
   * Creates the error a node answers with.
   *
   * @param epoch the epoch of the refusing node's routing table
   * @param node the refusing node's id
   * @param owner the owner by that table, or empty if unknown
   * @param ownerAddress the owner's address, or empty if unknown
   */
  public WrongShardException(long epoch, String node, String owner, String ownerAddress) {
    super(ErrorCode.WRONG_SHARD, describe(epoch, node, owner, ownerAddress));
    this.epoch = epoch;
    this.node = node;
    this.owner = owner;
    this.ownerAddress = ownerAddress;
  }

  /**
   * No stack trace: this is an answer, not a bug, and during a cutover nodes and clients make one
   * for every request to a fenced key, where capturing stacks would cost CPU the cutover needs.
   */
  @Override
  public synchronized Throwable fillInStackTrace() {
    return this;
  }

  private static String describe(long epoch, String node, String owner, String address) {
    String ownerText = owner.isEmpty() ? "an unknown node" : owner + " at " + address;
    return "node "
        + node
        + " does not own this key at epoch "
        + epoch
        + "; it belongs to "
        + ownerText;
  }

  /** The epoch of the refusing node's routing table. */
  public long epoch() {
    return epoch;
  }

  /** The refusing node's id. */
  public String node() {
    return node;
  }

  /** The owner by the refusing node's table, if it knows one. */
  public Optional<String> owner() {
    return owner.isEmpty() ? Optional.empty() : Optional.of(owner);
  }

  /** The owner's address, if known. */
  public Optional<String> ownerAddress() {
    return ownerAddress.isEmpty() ? Optional.empty() : Optional.of(ownerAddress);
  }
}
