package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.Context;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

class GroupCommitTest {
  static {
    RocksDB.loadLibrary();
  }

  @TempDir Path dir;

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] batch(String... keys) throws Exception {
    try (WriteBatch batch = new WriteBatch()) {
      for (String key : keys) {
        if (key.startsWith("-")) {
          batch.delete(bytes(key.substring(1)));
        } else {
          batch.put(bytes(key), bytes("v-" + key));
        }
      }
      return batch.data();
    }
  }

  @Test
  void joinedBatches_applyAsOneWrite_withEveryRecordInOrder() throws Exception {
    byte[] joined = GroupCommit.join(List.of(batch("a", "b"), batch("-a", "c"), batch("a")));
    try (Options options = new Options().setCreateIfMissing(true);
        RocksDB db = RocksDB.open(options, dir.toString());
        WriteBatch writes = new WriteBatch(joined);
        WriteOptions writeOptions = new WriteOptions()) {
      assertThat(writes.count()).isEqualTo(5);
      db.write(writeOptions, writes);
      assertThat(db.get(bytes("a"))).as("put, deleted, put again").isEqualTo(bytes("v-a"));
      assertThat(db.get(bytes("b"))).isEqualTo(bytes("v-b"));
      assertThat(db.get(bytes("c"))).isEqualTo(bytes("v-c"));
    }
  }

  /** A log whose appends block until released, recording each entry's record count. */
  private static final class HeldLog implements LocalStore.WriteLog {
    final List<Integer> entries = new CopyOnWriteArrayList<>();
    final java.util.concurrent.atomic.AtomicInteger started =
        new java.util.concurrent.atomic.AtomicInteger();
    volatile CountDownLatch release = new CountDownLatch(1);
    volatile RuntimeException failure;

    @Override
    public void append(byte[] batch) {
      started.incrementAndGet();
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      try (WriteBatch writes = new WriteBatch(batch)) {
        entries.add(writes.count());
      }
      if (failure != null) {
        throw failure;
      }
    }
  }

  private static CompletableFuture<Void> appendAsync(GroupCommit commit, byte[] batch) {
    return CompletableFuture.runAsync(
        () -> commit.append(batch), command -> new Thread(command).start());
  }

  @Test
  void writersArrivingDuringAnEntry_shareTheNextEntry() throws Exception {
    HeldLog log = new HeldLog();
    GroupCommit commit = new GroupCommit(log, 1 << 20);
    CompletableFuture<Void> first = appendAsync(commit, batch("first"));
    // The first entry in flight before the others arrive: they queue behind it.
    await().atMost(Duration.ofSeconds(10)).until(() -> log.started.get() == 1);
    List<CompletableFuture<Void>> later = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      later.add(appendAsync(commit, batch("k" + i)));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> commit.queued() == 5);
    assertThat(first).isNotDone();
    log.release.countDown();
    CompletableFuture.allOf(later.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    first.get(10, TimeUnit.SECONDS);
    assertThat(log.entries).containsExactly(1, 5);
  }

  @Test
  void aFailedEntry_failsEveryWriterInIt() throws Exception {
    HeldLog log = new HeldLog();
    GroupCommit commit = new GroupCommit(log, 1 << 20);
    CompletableFuture<Void> first = appendAsync(commit, batch("first"));
    // The first entry in flight before the others arrive: they queue behind it.
    await().atMost(Duration.ofSeconds(10)).until(() -> log.started.get() == 1);
    CompletableFuture<Void> second = appendAsync(commit, batch("a"));
    CompletableFuture<Void> third = appendAsync(commit, batch("b"));
    await().atMost(Duration.ofSeconds(10)).until(() -> commit.queued() == 2);
    log.failure = ShardClusterException.unavailable("no majority");
    log.release.countDown();
    for (CompletableFuture<Void> writer : List.of(first, second, third)) {
      assertThatThrownBy(() -> writer.get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .hasMessageContaining("no majority");
    }
    assertThat(log.entries).containsExactly(1, 2);
  }

  @Test
  void entriesStopAtTheSizeCap_butALargerBatchStillGoesAlone() throws Exception {
    HeldLog log = new HeldLog();
    byte[] small = batch("s");
    GroupCommit commit = new GroupCommit(log, small.length * 2);
    CompletableFuture<Void> first = appendAsync(commit, batch("first"));
    // The first entry in flight before the others arrive: they queue behind it.
    await().atMost(Duration.ofSeconds(10)).until(() -> log.started.get() == 1);
    List<CompletableFuture<Void>> later = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      later.add(appendAsync(commit, small));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> commit.queued() == 3);
    log.release.countDown();
    CompletableFuture.allOf(later.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    first.get(10, TimeUnit.SECONDS);
    assertThat(log.entries).containsExactly(1, 2, 1);

    commit.append(batch("x".repeat(small.length * 4)));
    assertThat(log.entries).containsExactly(1, 2, 1, 1);
  }

  @Test
  void everyWriter_returnsOnlyOnceItsBatchIsInTheLog_whenRoundsAreCappedUnderContention()
      throws Exception {
    // One batch per entry: the thread that leads a round often finds older batches ahead of its
    // own, and must not return before its own is in.
    try (Options options = new Options().setCreateIfMissing(true);
        RocksDB db = RocksDB.open(options, dir.toString());
        WriteOptions writeOptions = new WriteOptions()) {
      LocalStore.WriteLog log =
          entry -> {
            try (WriteBatch writes = new WriteBatch(entry)) {
              db.write(writeOptions, writes);
            } catch (org.rocksdb.RocksDBException e) {
              throw new IllegalStateException(e);
            }
          };
      GroupCommit commit = new GroupCommit(log, batch("w0-0000").length);
      List<String> missing = new CopyOnWriteArrayList<>();
      List<CompletableFuture<Void>> writers = new ArrayList<>();
      for (int w = 0; w < 8; w++) {
        int writer = w;
        writers.add(
            CompletableFuture.runAsync(
                () -> {
                  for (int i = 0; i < 300; i++) {
                    String key = String.format("w%d-%04d", writer, i);
                    commit.append(batchUnchecked(key));
                    try {
                      if (db.get(bytes(key)) == null) {
                        missing.add(key);
                      }
                    } catch (org.rocksdb.RocksDBException e) {
                      throw new IllegalStateException(e);
                    }
                  }
                },
                command -> new Thread(command).start()));
      }
      CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
      assertThat(missing).as("acknowledged before their entry was in the log").isEmpty();
    }
  }

  @Test
  void aWriteWhoseCallerHasGone_isLeftOut_andAnsweredCancelled() {
    HeldLog log = new HeldLog();
    log.release.countDown();
    GroupCommit commit = new GroupCommit(log, 1 << 20);
    Context.CancellableContext gone = Context.current().withCancellation();
    gone.cancel(null);
    assertThatThrownBy(() -> gone.run(() -> commit.append(batchUnchecked("late"))))
        .isInstanceOfSatisfying(
            ShardClusterException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CANCELLED));
    assertThat(log.entries).isEmpty();
  }

  private static byte[] batchUnchecked(String key) {
    try {
      return batch(key);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
