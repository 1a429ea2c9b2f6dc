package io.shardcluster.node;

import com.google.common.util.concurrent.RateLimiter;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.shardcluster.proto.v1.CopyBatch;
import io.shardcluster.proto.v1.TableFileChunk;
import io.shardcluster.routing.Keyspace;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * Sends a copy's moving rows, in the keyspace's scan order, to the target: as entries of {@link
 * CopyBatch} messages, or written into table files of the data family that go in chunks (the target
 * ingests each file whole, with no per-row work). Either way paced by the node's {@link CopyPacer}
 * within the migration's limit, and every message carries the snapshot's sequence. Not thread-safe;
 * close it when done.
 */
final class CopyStream implements AutoCloseable {
  static final int BATCH_ROWS = 4096;
  static final int BATCH_BYTES = 4 << 20;
  // Small enough that progress and a resumed copy go file by file, large enough that the per-file
  // work (open, finish, ingest) does not count.
  static final long FILE_BYTES = 16L << 20;
  static final int CHUNK_BYTES = 1 << 20;

  private final LocalStore store;
  private final Keyspace keyspace;
  private final String copyName;
  private final long sequence;
  private final long limit;
  private final CopyPacer pacer;
  private final Consumer<CopyBatch> sink;
  private final @Nullable RateLimiter limiter;
  private final boolean tableFiles;
  private long rate;
  private boolean sent;

  private CopyBatch.Builder batch;
  private int batchBytes;

  private LocalStore.@Nullable TableFile file;
  private int fileIndex;
  private long fileKeyValueBytes;
  private byte @Nullable [] fileLastKey;

  /**
   * A stream.
   *
   * @param copyName unique among the copies running on this node (names its table files)
   * @param sequence the log sequence the copy's snapshot is at
   * @param limit bytes per second at most; 0 for no limit (and no pacing)
   * @param tableFiles whether to send table files rather than rows
   */
  CopyStream(
      LocalStore store,
      Keyspace keyspace,
      String copyName,
      long sequence,
      long limit,
      CopyPacer pacer,
      boolean tableFiles,
      Consumer<CopyBatch> sink) {
    this.store = store;
    this.keyspace = keyspace;
    this.copyName = copyName;
    this.sequence = sequence;
    this.limit = limit;
    this.pacer = pacer;
    this.tableFiles = tableFiles;
    this.sink = sink;
    this.limiter = limit > 0 ? RateLimiter.create((double) limit) : null;
    this.rate = limit;
    this.batch = CopyBatch.newBuilder();
  }

  /** Adds a moving row. */
  void add(byte[] key, byte[] value) {
    if (tableFiles) {
      LocalStore.TableFile current = file;
      if (current == null) {
        current = store.newTableFile(copyName + "-" + fileIndex + ".sst");
        file = current;
      }
      current.put(keyspace, key, value);
      fileKeyValueBytes += key.length + value.length;
      fileLastKey = key;
      if (fileKeyValueBytes >= FILE_BYTES) {
        sendFile();
      }
      return;
    }
    batch
        .addEntriesBuilder()
        .setKey(UnsafeByteOperations.unsafeWrap(key))
        .setValue(UnsafeByteOperations.unsafeWrap(value));
    batchBytes += key.length + value.length;
    if (batch.getEntriesCount() >= BATCH_ROWS || batchBytes >= BATCH_BYTES) {
      sendBatch();
    }
  }

  /** Sends what is left; a copy always sends at least one message, which carries the sequence. */
  void finish() {
    if (file != null) {
      sendFile();
    }
    if (batch.getEntriesCount() > 0 || !sent) {
      sendBatch();
    }
  }

  private void sendBatch() {
    throttle(batchBytes);
    send(batch);
    batch = CopyBatch.newBuilder();
    batchBytes = 0;
  }

  /** Finishes the current file and sends it in chunks, then deletes it here. */
  private void sendFile() {
    LocalStore.TableFile current = file;
    if (current == null) {
      return;
    }
    file = null;
    try (current) {
      Path path = current.finish();
      CRC32C crc = new CRC32C();
      try (InputStream in = Files.newInputStream(path)) {
        byte[] buffer = new byte[CHUNK_BYTES];
        int read;
        while ((read = in.readNBytes(buffer, 0, buffer.length)) > 0) {
          crc.update(buffer, 0, read);
          throttle(read);
          send(
              CopyBatch.newBuilder()
                  .setFile(
                      TableFileChunk.newBuilder()
                          .setIndex(fileIndex)
                          .setData(ByteString.copyFrom(buffer, 0, read))));
        }
      } finally {
        Files.deleteIfExists(path);
      }
      byte[] lastKey = fileLastKey;
      send(
          CopyBatch.newBuilder()
              .setFile(
                  TableFileChunk.newBuilder()
                      .setIndex(fileIndex)
                      .setLast(true)
                      .setLastKey(lastKey == null ? ByteString.EMPTY : ByteString.copyFrom(lastKey))
                      .setKeys(current.entries())
                      .setKeyValueBytes(fileKeyValueBytes)
                      .setCrc32C((int) crc.getValue())));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read back table file of copy " + copyName, e);
    }
    fileIndex++;
    fileKeyValueBytes = 0;
    fileLastKey = null;
  }

  /** Waits for the pace: the foreground's latency sets it, within the migration's limit. */
  private void throttle(int bytes) {
    if (limiter == null || bytes == 0) {
      return;
    }
    long paced = pacer.rate(limit);
    if (paced != rate) {
      rate = paced;
      limiter.setRate((double) rate);
    }
    limiter.acquire(bytes);
  }

  private void send(CopyBatch.Builder message) {
    sink.accept(
        message
            .setSnapshotSequence(sequence)
            .setRateLimit(rate)
            .setPace(limiter == null ? "no limit" : pacer.describe())
            .build());
    sent = true;
  }

  /** Deletes a file left unsent by a failure. */
  @Override
  public void close() {
    LocalStore.TableFile current = file;
    if (current != null) {
      file = null;
      current.close();
    }
  }
}
