package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.shardcluster.node.TxnLocks.Holder;
import io.shardcluster.node.TxnLocks.Lock;
import io.shardcluster.node.TxnLocks.LockKey;
import io.shardcluster.proto.v1.TxnKey;
import io.shardcluster.proto.v1.TxnMeta;
import io.shardcluster.proto.v1.TxnRecordState;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TxnLocksTest {
  @TempDir Path dir;

  private static TxnMeta meta(int id, long start) {
    byte[] bytes = new byte[16];
    bytes[0] = (byte) id;
    return TxnMeta.newBuilder()
        .setId(ByteString.copyFrom(bytes))
        .setStartMicros(start)
        .setRemainingMillis(1000)
        .setPrimary(TxnKey.newBuilder().setKeyspace("default").setKey(ByteString.copyFromUtf8("p")))
        .build();
  }

  private static LockKey key(String keyspace, byte... key) {
    return new LockKey(keyspace, ByteString.copyFrom(key));
  }

  @Test
  void load_ofPersistedLocksAndRecords_restoresThemPrepared() throws Exception {
    TxnLocks before = new TxnLocks();
    Holder holder = before.holderFor(meta(1, 10), 5_000);
    holder.prepared = true;
    // Keys with zero bytes, and keyspace names that are prefixes of each other.
    before.add(new Lock(holder, key("a", (byte) 0, (byte) 1), false, new byte[] {7}));
    before.add(new Lock(holder, key("ab", (byte) 0), false, null));
    before.add(new Lock(holder, key("a", (byte) 2), true, null));
    TxnRecordState record =
        TxnRecordState.newBuilder().setTxn(holder.meta).setDeadlineMillis(5_000).build();
    try (LocalStore store = LocalStore.open(dir.resolve("db"), false)) {
      LocalStore.Batch batch = store.batch();
      for (Lock lock : holder.locks.values()) {
        batch.putTxn(TxnLocks.lockKey(lock.key, holder.id), TxnLocks.lockState(lock));
      }
      batch.putTxn(TxnLocks.recordKey(holder.id), record.toByteArray());
      store.write(batch);
    }

    TxnLocks after = new TxnLocks();
    try (LocalStore store = LocalStore.open(dir.resolve("db"), false)) {
      after.load(store);
    }

    Holder loaded = after.holder(holder.id);
    assertThat(loaded).isNotNull();
    assertThat(loaded.prepared).isTrue();
    assertThat(loaded.deadlineMillis).isEqualTo(5_000);
    assertThat(loaded.locks.keySet())
        .containsExactlyInAnyOrder(
            key("a", (byte) 0, (byte) 1), key("ab", (byte) 0), key("a", (byte) 2));
    Lock intent = after.intent(key("a", (byte) 0, (byte) 1));
    assertThat(intent).isNotNull();
    assertThat(intent.value).containsExactly(7);
    Lock delete = after.intent(key("ab", (byte) 0));
    assertThat(delete).isNotNull();
    assertThat(delete.value).isNull();
    assertThat(after.intent(key("a", (byte) 2))).as("a read lock is no intent").isNull();
    assertThat(after.record(holder.id)).isEqualTo(record);
    assertThat(after.openRecords()).containsExactly(record);
  }

  @Test
  void add_readAfterIntentOfSameTransaction_keepsTheIntent() {
    TxnLocks locks = new TxnLocks();
    Holder holder = locks.holderFor(meta(1, 10), 5_000);
    locks.add(new Lock(holder, key("a", (byte) 1), false, new byte[] {1}));
    locks.add(new Lock(holder, key("a", (byte) 1), true, null));
    assertThat(locks.intent(key("a", (byte) 1))).isNotNull();
  }

  @Test
  void others_andRemove_seeOnlyOtherHoldersAndForgetEverything() {
    TxnLocks locks = new TxnLocks();
    Holder first = locks.holderFor(meta(1, 10), 5_000);
    Holder second = locks.holderFor(meta(2, 20), 5_000);
    locks.add(new Lock(first, key("a", (byte) 1), true, null));
    locks.add(new Lock(second, key("a", (byte) 1), true, null));

    assertThat(locks.others(key("a", (byte) 1), first.id))
        .extracting(l -> l.holder)
        .containsExactly(second);
    assertThat(first.olderThan(second)).isTrue();
    assertThat(second.olderThan(first)).isFalse();

    locks.remove(first);
    locks.remove(second);
    assertThat(locks.isEmpty()).isTrue();
    assertThat(locks.isLocked(key("a", (byte) 1))).isFalse();
  }

  @Test
  void retainedRecords_leaveTheOpenOnes_andGoOldestFirst() {
    TxnLocks locks = new TxnLocks();
    TxnRecordState pending = TxnRecordState.newBuilder().setTxn(meta(1, 1)).build();
    locks.putRecord(pending);
    TxnRecordState resolved = pending.toBuilder().setCommitted(true).setCommittedMillis(5).build();
    locks.putRecord(resolved);
    assertThat(locks.openRecords()).isEmpty();
    assertThat(locks.oldestRetained()).isEqualTo(resolved);
    locks.dropOldestRetained();
    assertThat(locks.record(pending.getTxn().getId())).isNull();
  }
}
