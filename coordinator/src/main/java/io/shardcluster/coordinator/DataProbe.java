package io.shardcluster.coordinator;

import com.google.protobuf.ByteString;
import java.util.Optional;

/** Asks a shard node what it stores, and which process it is. */
interface DataProbe {
  /**
   * The number of keys the node stores in {@code [start, end)} of the keyspace (empty end: no end).
   * FAILED_PRECONDITION naming the node if it cannot be asked.
   */
  long countKeys(String node, String address, String keyspace, ByteString start, ByteString end);

  /**
   * The session id of the process answering at the address as the node; empty if none answers
   * (within a second) or another node does. A probe that cannot ask (a test's) sees none.
   */
  default Optional<String> session(String node, String address) {
    return Optional.empty();
  }
}
