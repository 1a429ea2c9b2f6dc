package io.shardcluster.client.internal;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.grpc.Deadline;
import io.shardcluster.client.TransactionOutcomeUnknownException;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.proto.v1.GetResponse;
import io.shardcluster.proto.v1.KeyValueProto;
import io.shardcluster.proto.v1.MultiGetResponse;
import io.shardcluster.proto.v1.TransactionsGrpc;
import io.shardcluster.proto.v1.TxnCommitRequest;
import io.shardcluster.proto.v1.TxnCommitResponse;
import io.shardcluster.proto.v1.TxnEndRequest;
import io.shardcluster.proto.v1.TxnEndResponse;
import io.shardcluster.proto.v1.TxnKey;
import io.shardcluster.proto.v1.TxnMeta;
import io.shardcluster.proto.v1.TxnPrepareRequest;
import io.shardcluster.proto.v1.TxnPrepareResponse;
import io.shardcluster.proto.v1.TxnRange;
import io.shardcluster.proto.v1.TxnReadRequest;
import io.shardcluster.proto.v1.TxnScanRequest;
import io.shardcluster.proto.v1.TxnScanResponse;
import io.shardcluster.proto.v1.TxnWrite;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingCache;
import io.shardcluster.rpc.UnaryFuture;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The client's side of a transaction's commit protocol, over the {@link Dispatcher}: reads under
 * shared locks; then, for a transaction that writes, the prepare of the primary key (which writes
 * the pending record), the prepares of every other key, and the commit of the record at the
 * primary's node, the commit point; a transaction whose keys all live on one node commits in one
 * call instead, and a read-only one only checks that its locks held. Blocking calls.
 */
public final class TxnProtocol {
  private final Dispatcher dispatcher;
  private final RoutingCache routing;
  private final NodeChannels channels;

  public TxnProtocol(Dispatcher dispatcher, RoutingCache routing, NodeChannels channels) {
    this.dispatcher = dispatcher;
    this.routing = routing;
    this.channels = channels;
  }

  /**
   * A key a transaction read or wrote ({@code write} with a null value is a delete), or a range it
   * scanned: from {@code key} to {@code rangeEnd} (empty: the last key), locked on its node.
   */
  public record Item(
      String keyspace,
      byte[] key,
      boolean write,
      byte @Nullable [] value,
      byte @Nullable [] rangeEnd) {
    /** A key read or written. */
    public Item(String keyspace, byte[] key, boolean write, byte @Nullable [] value) {
      this(keyspace, key, write, value, null);
    }

    boolean isRange() {
      return rangeEnd != null;
    }

    TxnRange toRange() {
      return TxnRange.newBuilder()
          .setKeyspace(keyspace)
          .setStart(ByteString.copyFrom(key))
          .setEnd(ByteString.copyFrom(requireNonNull(rangeEnd)))
          .build();
    }

    TxnKey toKey() {
      return TxnKey.newBuilder().setKeyspace(keyspace).setKey(ByteString.copyFrom(key)).build();
    }

    TxnWrite toWrite() {
      TxnWrite.Builder write =
          TxnWrite.newBuilder().setKeyspace(keyspace).setKey(ByteString.copyFrom(key));
      if (value == null) {
        write.setDelete(true);
      } else {
        write.setValue(ByteString.copyFrom(value));
      }
      return write.build();
    }
  }

  /** Reads the keys under shared locks; their values in the keys' order. */
  public List<Optional<byte[]>> read(
      TxnMeta meta, String keyspace, List<byte[]> keys, Deadline deadline) {
    List<Integer> indexes = new ArrayList<>(keys.size());
    for (int i = 0; i < keys.size(); i++) {
      indexes.add(i);
    }
    @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type cannot be made
    Optional<byte[]>[] results = new Optional[keys.size()];
    Arrays.fill(results, Optional.empty());
    Futures.await(
        dispatcher.dispatch(
            keyspace,
            false,
            indexes,
            keys::get,
            new Dispatcher.Batching<>(Integer.MAX_VALUE, Long.MAX_VALUE, i -> 0),
            (node, batch, epoch) -> {
              TxnReadRequest.Builder request =
                  TxnReadRequest.newBuilder().setTxn(meta).setKeyspace(keyspace).setEpoch(epoch);
              batch.forEach(i -> request.addKeys(ByteString.copyFrom(keys.get(i))));
              UnaryFuture<MultiGetResponse> call = new UnaryFuture<>();
              txn(node).txnRead(request.build(), call);
              return call.thenAccept(
                  response -> {
                    for (int j = 0; j < batch.size(); j++) {
                      GetResponse one = response.getResults(j);
                      if (one.getFound()) {
                        results[batch.get(j)] = Optional.of(one.getValue().toByteArray());
                      }
                    }
                  });
            },
            deadline));
    return List.of(results);
  }

  /** What a transactional scan returned, and the ranges it locked (one per node asked). */
  public record ScanPart(List<KeyValueProto> entries, List<Item> locked) {}

  /**
   * The keys of a range keyspace in [start, end) (empty end: to the last key), at most {@code
   * limit} (0: all), in key order, each node's share read under a lock of the range it covered.
   */
  public ScanPart scan(
      TxnMeta meta, String keyspace, byte[] start, byte[] end, long limit, Deadline deadline) {
    List<KeyValueProto> entries = new ArrayList<>();
    List<Item> locked = new ArrayList<>();
    byte[] from = start;
    while (limit == 0 || entries.size() < limit) {
      byte[] pieceStart = from;
      long left = limit == 0 ? 0 : limit - entries.size();
      TxnScanResponse[] answer = new TxnScanResponse[1];
      Futures.await(
          dispatcher.dispatch(
              keyspace,
              false,
              List.of(pieceStart),
              key -> key,
              Dispatcher.Batching.single(),
              (node, batch, epoch) -> {
                // The piece ends where the owner's range does, by the table this attempt routed
                // with (a retry after a move routes again).
                byte[] pieceEnd = pieceEnd(keyspace, pieceStart, end);
                UnaryFuture<TxnScanResponse> call = new UnaryFuture<>();
                txn(node)
                    .txnScan(
                        TxnScanRequest.newBuilder()
                            .setTxn(meta)
                            .setKeyspace(keyspace)
                            .setStart(ByteString.copyFrom(pieceStart))
                            .setEnd(ByteString.copyFrom(pieceEnd))
                            .setLimit(left)
                            .setEpoch(epoch)
                            .build(),
                        call);
                return call.thenAccept(response -> answer[0] = response);
              },
              deadline));
      TxnScanResponse response = requireNonNull(answer[0]);
      entries.addAll(response.getEntriesList());
      TxnRange range = response.getLocked();
      locked.add(
          new Item(
              keyspace, range.getStart().toByteArray(), false, null, range.getEnd().toByteArray()));
      byte[] reached = range.getEnd().toByteArray();
      if (reached.length == 0 || (end.length > 0 && Arrays.compareUnsigned(reached, end) >= 0)) {
        break;
      }
      from = reached;
    }
    return new ScanPart(entries, locked);
  }

  /** Where the range holding {@code start} ends, or {@code end} if that comes first. */
  private byte[] pieceEnd(String keyspace, byte[] start, byte[] end) {
    Keyspace routed = routing.cached().keyspace(keyspace);
    if (!routed.isRange()) {
      throw ShardClusterException.invalidArgument(
          "a transaction scans only range keyspaces ("
              + keyspace
              + " is not one): use get for single keys");
    }
    byte[] rangeEnd = routed.ranges().range(routed.ranges().indexOf(start)).end().toByteArray();
    if (rangeEnd.length == 0) {
      return end;
    }
    return end.length > 0 && Arrays.compareUnsigned(end, rangeEnd) < 0 ? end : rangeEnd;
  }

  /**
   * Commits. Throws ABORTED (and rolls back) if the transaction lost a conflict or expired, and
   * {@link TransactionOutcomeUnknownException} if the commit's answer was lost.
   */
  public void commit(TxnMeta meta, List<Item> items, Deadline deadline) {
    List<Item> writes = items.stream().filter(Item::write).toList();
    if (writes.isEmpty()) {
      forEachNode(items, deadline, (node, batch) -> end(node, meta, batch, true));
      return;
    }
    String single = singleOwner(items);
    if (single != null && commitOnePhase(meta, single, items, deadline)) {
      return;
    }
    Item primary = writes.get(0);
    List<Item> others = new ArrayList<>(items);
    others.remove(primary);
    try {
      prepare(meta, List.of(primary), true, others, deadline);
      prepare(meta, others, false, List.of(), deadline);
    } catch (RuntimeException e) {
      rollback(meta, items, deadline);
      throw e;
    }
    try {
      Futures.await(
          dispatcher.dispatch(
              primary.keyspace(),
              false,
              List.of(primary),
              Item::key,
              Dispatcher.Batching.single(),
              (node, batch, epoch) -> {
                UnaryFuture<TxnCommitResponse> call = new UnaryFuture<>();
                txn(node)
                    .txnCommit(
                        TxnCommitRequest.newBuilder().setTxn(meta).setEpoch(epoch).build(), call);
                return call.thenAccept(response -> {});
              },
              deadline));
    } catch (ShardClusterException e) {
      if (e.code() == ErrorCode.ABORTED) {
        rollback(meta, items, deadline);
        throw e;
      }
      throw new TransactionOutcomeUnknownException(e);
    }
  }

  /** Drops what the transaction holds on every node it touched; best effort. */
  public void rollback(TxnMeta meta, List<Item> items, Deadline deadline) {
    try {
      forEachNode(items, deadline, (node, batch) -> end(node, meta, batch, false));
    } catch (RuntimeException e) {
      // The nodes abort what is left once the transaction expires.
    }
  }

  private void prepare(
      TxnMeta meta, List<Item> items, boolean primary, List<Item> participants, Deadline deadline) {
    if (items.isEmpty()) {
      return;
    }
    forEachNode(
        items,
        deadline,
        (node, batch) -> {
          TxnPrepareRequest.Builder request =
              TxnPrepareRequest.newBuilder().setTxn(meta).setPrimary(primary);
          sort(batch, request::addWrites, request::addReads, request::addRanges);
          participants.forEach(item -> request.addParticipants(item.toKey()));
          return (epoch) -> {
            UnaryFuture<TxnPrepareResponse> call = new UnaryFuture<>();
            txn(node).txnPrepare(request.setEpoch(epoch).build(), call);
            return call.thenAccept(response -> {});
          };
        });
  }

  private EpochCall end(
      io.shardcluster.proto.v1.ShardNodeGrpc.ShardNodeStub node,
      TxnMeta meta,
      List<Item> batch,
      boolean validate) {
    TxnEndRequest.Builder request = TxnEndRequest.newBuilder().setTxn(meta).setValidate(validate);
    for (Item item : batch) {
      if (item.isRange()) {
        request.addRanges(item.toRange());
      } else if (!item.write()) {
        request.addReads(item.toKey());
      }
    }
    return epoch -> {
      UnaryFuture<TxnEndResponse> call = new UnaryFuture<>();
      txn(node).txnEnd(request.build(), call);
      return call.thenAccept(response -> {});
    };
  }

  /**
   * One call to the only node the keys live on: true if it committed; false if the keys turned out
   * to be elsewhere (nothing was applied; the caller goes the two-phase way).
   */
  private boolean commitOnePhase(TxnMeta meta, String owner, List<Item> items, Deadline deadline) {
    RoutingTable table = routing.cached();
    String address = table.address(owner).orElse("");
    if (address.isEmpty()) {
      return false;
    }
    TxnCommitRequest.Builder request =
        TxnCommitRequest.newBuilder().setTxn(meta).setOnePhase(true).setEpoch(table.epoch());
    sort(items, request::addWrites, request::addReads, request::addRanges);
    UnaryFuture<TxnCommitResponse> call = new UnaryFuture<>();
    TransactionsGrpc.newStub(channels.channel(address))
        .withDeadline(deadline)
        .txnCommit(request.build(), call);
    try {
      Futures.await(call);
      return true;
    } catch (WrongShardException e) {
      var unused = routing.refresh();
      return false;
    } catch (ShardClusterException e) {
      if (e.code() == ErrorCode.ABORTED || e.code() == ErrorCode.INVALID_ARGUMENT) {
        rollback(meta, items, deadline);
        throw e;
      }
      throw new TransactionOutcomeUnknownException(e);
    }
  }

  /** Hands each item to the request part it belongs in: a write, a key read, a range scanned. */
  private static void sort(
      List<Item> items,
      Consumer<TxnWrite> writes,
      Consumer<TxnKey> reads,
      Consumer<TxnRange> ranges) {
    for (Item item : items) {
      if (item.write()) {
        writes.accept(item.toWrite());
      } else if (item.isRange()) {
        ranges.accept(item.toRange());
      } else {
        reads.accept(item.toKey());
      }
    }
  }

  /** The node every key lives on by the cached table, or null (several, or a directory). */
  private @Nullable String singleOwner(List<Item> items) {
    RoutingTable table = routing.cached();
    String owner = null;
    for (Item item : items) {
      Keyspace keyspace = table.keyspaces().get(item.keyspace());
      if (keyspace == null || keyspace.isDirectory()) {
        return null;
      }
      String itemOwner = keyspace.ownerOf(item.key());
      if (itemOwner == null || (owner != null && !owner.equals(itemOwner))) {
        return null;
      }
      owner = itemOwner;
    }
    return owner;
  }

  /** A call at the epoch the dispatcher routed with. */
  @FunctionalInterface
  private interface EpochCall {
    CompletableFuture<Void> send(long epoch);
  }

  @FunctionalInterface
  private interface NodeCall {
    EpochCall prepare(io.shardcluster.proto.v1.ShardNodeGrpc.ShardNodeStub node, List<Item> batch);
  }

  /**
   * Sends each node one call with all its items (per keyspace), the nodes in parallel; retried like
   * any request.
   */
  private void forEachNode(List<Item> items, Deadline deadline, NodeCall call) {
    Map<String, List<Item>> byKeyspace = new LinkedHashMap<>();
    for (Item item : items) {
      byKeyspace.computeIfAbsent(item.keyspace(), k -> new ArrayList<>()).add(item);
    }
    List<CompletableFuture<Void>> sends = new ArrayList<>();
    byKeyspace.forEach(
        (keyspace, batch) ->
            sends.add(
                dispatcher.dispatch(
                    keyspace,
                    batch.stream().anyMatch(Item::write),
                    batch,
                    Item::key,
                    new Dispatcher.Batching<>(Integer.MAX_VALUE, Long.MAX_VALUE, item -> 0),
                    (node, nodeBatch, epoch) -> call.prepare(node, nodeBatch).send(epoch),
                    deadline)));
    Futures.await(CompletableFuture.allOf(sends.toArray(CompletableFuture[]::new)));
  }

  private static TransactionsGrpc.TransactionsStub txn(
      io.shardcluster.proto.v1.ShardNodeGrpc.ShardNodeStub node) {
    TransactionsGrpc.TransactionsStub stub = TransactionsGrpc.newStub(node.getChannel());
    Deadline deadline = node.getCallOptions().getDeadline();
    return deadline == null ? stub : stub.withDeadline(deadline);
  }
}
