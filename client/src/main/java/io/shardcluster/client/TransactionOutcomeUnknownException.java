package io.shardcluster.client;

import io.shardcluster.errors.ShardClusterException;

/**
 * A transaction's commit request got no answer (the node died or the deadline passed after it was
 * sent): the transaction may have committed or not. It is not retried, since running it again could
 * apply it twice; read the keys to find out. Its code is the failure's (UNAVAILABLE or
 * DEADLINE_EXCEEDED).
 */
public final class TransactionOutcomeUnknownException extends ShardClusterException {
  private static final long serialVersionUID = 1L;

  public TransactionOutcomeUnknownException(ShardClusterException cause) {
    super(
        cause.code(),
        "the transaction's commit got no answer, so it may or may not have committed: "
            + cause.getMessage(),
        cause);
  }
}
