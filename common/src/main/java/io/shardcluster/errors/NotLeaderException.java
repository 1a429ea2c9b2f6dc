package io.shardcluster.errors;

import java.util.Optional;

/**
 * The process asked belongs to a shard's replica group but is not its leader, so it serves nothing
 * (a follower, or a leader deposed by an election it has not heard of yet). The client retries at
 * the leader it names, or after a routing refresh.
 */
public final class NotLeaderException extends ShardClusterException {
  private static final long serialVersionUID = 1L;

  private final String node;
  private final String leaderAddress;

  /**
   * @param node the shard (node id) the refusing process belongs to
   * @param leaderAddress the leader's client address, or empty if unknown (an election runs)
   */
  public NotLeaderException(String node, String leaderAddress) {
    super(
        ErrorCode.NOT_LEADER,
        "this process of "
            + node
            + " is not its leader"
            + (leaderAddress.isEmpty()
                ? " (an election is running)"
                : "; the leader is at " + leaderAddress));
    this.node = node;
    this.leaderAddress = leaderAddress;
  }

  /** An answer, not a bug: no stack trace (see {@link WrongShardException}). */
  @Override
  public synchronized Throwable fillInStackTrace() {
    return this;
  }

  /** The shard the refusing process belongs to. */
  public String node() {
    return node;
  }

  /** The leader's client address, if the refusing process knows it. */
  public Optional<String> leaderAddress() {
    return leaderAddress.isEmpty() ? Optional.empty() : Optional.of(leaderAddress);
  }
}
