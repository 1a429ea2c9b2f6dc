package io.shardcluster.node;

import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * What is wrong with the node's storage, reported in its stats so that {@code shardctl health}
 * fails: damage found in the stored data since it started (each read that met it failed with
 * DATA_LOSS), and whether writes are refused (RocksDB read-only after an I/O error, until the node
 * is restarted or a write succeeds again).
 */
final class StorageFaults {
  private static final Logger logger = Logger.getLogger(StorageFaults.class.getName());

  private final AtomicLong count = new AtomicLong();
  private volatile String latest = "";
  private volatile String writeFault = "";

  void record(String message) {
    count.incrementAndGet();
    if (!message.equals(latest)) {
      logger.severe(message);
    }
    latest = message;
  }

  long count() {
    return count.get();
  }

  void writeFailed(String message) {
    if (writeFault.isEmpty()) {
      logger.severe(message + "; writes are refused until the node restarts");
    }
    writeFault = message;
  }

  void writeSucceeded() {
    if (!writeFault.isEmpty()) {
      writeFault = "";
      logger.info("storage takes writes again");
    }
  }

  /** Why writes are refused now; empty while they are not. */
  String writeFault() {
    return writeFault;
  }

  /** The latest fault's message; empty if there was none. */
  String latest() {
    return latest;
  }
}
