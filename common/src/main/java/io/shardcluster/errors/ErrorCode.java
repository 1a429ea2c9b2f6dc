package io.shardcluster.errors;

/**
 * Why an operation failed. Each code has one meaning across the cluster and maps to one gRPC status
 * code on the wire.
 */
public enum ErrorCode {
  /** The request is malformed: empty or oversized key or value, bad name, bad address. */
  INVALID_ARGUMENT,
  /** The named thing (node, directory entry, keyspace) does not exist. */
  NOT_FOUND,
  /** The thing to create exists already, such as a node id held by a live process. */
  ALREADY_EXISTS,
  /** The cluster is not in a state that allows the operation; the message says which. */
  FAILED_PRECONDITION,
  /** The node asked does not own the key; see {@link WrongShardException}. */
  WRONG_SHARD,
  /**
   * The process asked is a follower of its shard's replica group (or a leader that lost its
   * leadership): it serves nothing; see {@link NotLeaderException}. Retried by the client.
   */
  NOT_LEADER,
  /** A node or the coordinator cannot be reached, or is shutting down. */
  UNAVAILABLE,
  /** The operation did not finish within its deadline. */
  DEADLINE_EXCEEDED,
  /** The request is too large or the server is overloaded. */
  RESOURCE_EXHAUSTED,
  /**
   * A transaction conflicted with another one, or expired, and was rolled back: nothing of it was
   * applied. Running it again may succeed ({@code ShardClient.transaction} does so itself).
   */
  ABORTED,
  /** The operation was cancelled by the caller. */
  CANCELLED,
  /** The operation or option is not supported (yet); the message says which. */
  UNIMPLEMENTED,
  /**
   * Stored data cannot be read: a checksum failed or a file is damaged. Never retried; the message
   * names the node and the file, and the node reports it to {@code shardctl health}.
   */
  DATA_LOSS,
  /** A bug: something that should not happen. The message has the detail. */
  INTERNAL
}
