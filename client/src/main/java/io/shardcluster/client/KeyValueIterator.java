package io.shardcluster.client;

import io.shardcluster.errors.ShardClusterException;
import java.util.Iterator;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * Rows of a scan in the keyspace's scan order ({@link ShardClient#scan}), streamed from the nodes
 * as they are consumed. Close it to release the streams early; reaching the end closes it too.
 * Methods throw {@link ShardClusterException} when a node fails in a way retries cannot mend.
 */
public interface KeyValueIterator extends Iterator<KeyValue>, AutoCloseable {
  @Override
  void close();

  /** The remaining rows as a sequential stream that closes this iterator when closed. */
  default Stream<KeyValue> stream() {
    return StreamSupport.stream(
            Spliterators.spliteratorUnknownSize(this, Spliterator.ORDERED | Spliterator.NONNULL),
            false)
        .onClose(this::close);
  }
}
