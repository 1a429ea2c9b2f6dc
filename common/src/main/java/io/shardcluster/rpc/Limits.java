package io.shardcluster.rpc;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

/**
 * Limits both sides of the wire agree on: sizes of keys, values, messages and batches (checked by
 * the client before sending and by nodes on receipt), and how often a migration is tried.
 */
public final class Limits {
  /** Longest key, in bytes. */
  public static final int MAX_KEY_BYTES = 4 * 1024;

  /** Largest value, in bytes. */
  public static final int MAX_VALUE_BYTES = 1024 * 1024;

  /** Largest gRPC message a server or client accepts; batches are split to stay under it. */
  public static final int MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

  /** Most entries in one multi-get or multi-put sent to one node. */
  public static final int MAX_BATCH_ENTRIES = 10_000;

  /**
   * Most tries of one move that failures rolled back: the coordinator tries again until then, and
   * clients show whether it will.
   */
  public static final int MAX_MIGRATION_ATTEMPTS = 5;

  private Limits() {}

  /** INVALID_ARGUMENT unless the key is 1 to {@link #MAX_KEY_BYTES} bytes. */
  public static void checkKey(int length) {
    requireArgument(length > 0, "key must not be empty");
    requireArgument(
        length <= MAX_KEY_BYTES, "key is %s bytes; the limit is %s bytes", length, MAX_KEY_BYTES);
  }

  /** INVALID_ARGUMENT unless the value is 1 to {@link #MAX_VALUE_BYTES} bytes. */
  public static void checkValue(int length) {
    requireArgument(length > 0, "value must not be empty");
    requireArgument(
        length <= MAX_VALUE_BYTES,
        "value is %s bytes; the limit is %s bytes",
        length,
        MAX_VALUE_BYTES);
  }
}
