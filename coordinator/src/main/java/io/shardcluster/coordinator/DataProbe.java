package io.shardcluster.coordinator;

import com.google.protobuf.ByteString;

/** Asks a shard node how many keys it stores in a key range, owned or not. */
interface DataProbe {
  /**
   * The number of keys the node stores in {@code [start, end)} of the keyspace (empty end: no end).
   * FAILED_PRECONDITION naming the node if it cannot be asked.
   */
  long countKeys(String node, String address, String keyspace, ByteString start, ByteString end);
}
