package io.shardcluster.node;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.proto.v1.TransactionsGrpc;
import io.shardcluster.proto.v1.TxnCheckRequest;
import io.shardcluster.proto.v1.TxnKey;
import io.shardcluster.proto.v1.TxnMeta;
import io.shardcluster.proto.v1.TxnResolveRequest;
import io.shardcluster.proto.v1.TxnStateProto;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.StatusErrors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Reaches the other nodes for transactions: the owner of a primary key for a record's state, the
 * owners of a committed transaction's keys to resolve them. Routes with this node's table and
 * follows it when a node answers wrong shard; calls to this node itself stay in the process.
 */
final class TxnPeers implements Transactions.Peers {
  private static final long CALL_MILLIS = 5_000;
  private static final int ATTEMPTS = 5;

  private final String nodeId;
  private final Supplier<RoutingTable> routing;
  private final LongFunction<RoutingTable> tableAtLeast;
  private final Ownership ownership;
  private final NodeChannels channels;
  private @Nullable Transactions local;

  TxnPeers(
      String nodeId,
      Supplier<RoutingTable> routing,
      LongFunction<RoutingTable> tableAtLeast,
      Ownership ownership,
      NodeChannels channels) {
    this.nodeId = nodeId;
    this.routing = routing;
    this.tableAtLeast = tableAtLeast;
    this.ownership = ownership;
    this.channels = channels;
  }

  /** This node's transactions, which calls to itself go to. */
  void local(Transactions transactions) {
    this.local = transactions;
  }

  @Override
  public TxnStateProto check(TxnMeta txn, boolean abort) {
    TxnKey primary = txn.getPrimary();
    ShardClusterException last = null;
    RoutingTable table = routing.get();
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      Keyspace keyspace = table.keyspaces().get(primary.getKeyspace());
      if (keyspace == null) {
        // The keyspace was dropped, and the transaction's keys with it.
        return TxnStateProto.TXN_STATE_ABORTED;
      }
      String owner = ownership.ownerOf(keyspace, primary.getKey().toByteArray());
      try {
        if (nodeId.equals(owner)) {
          return requireLocal().check(txn.getId(), primary, abort);
        }
        return TransactionsGrpc.newBlockingStub(channels.channel(address(table, owner)))
            .withDeadlineAfter(CALL_MILLIS, TimeUnit.MILLISECONDS)
            .txnCheck(
                TxnCheckRequest.newBuilder()
                    .setId(txn.getId())
                    .setPrimary(primary)
                    .setAbort(abort)
                    .build())
            .getState();
      } catch (RuntimeException e) {
        last = StatusErrors.fromStatus(e);
        if (!(last instanceof WrongShardException wrong)) {
          throw last;
        }
        table = tableAtLeast.apply(Math.max(wrong.epoch(), table.epoch() + 1));
      }
    }
    throw last;
  }

  @Override
  public void resolve(ByteString txn, boolean committed, List<TxnKey> keys) {
    List<TxnKey> left = keys;
    RoutingTable table = routing.get();
    for (int attempt = 0; !left.isEmpty(); attempt++) {
      Map<String, List<TxnKey>> byOwner = new LinkedHashMap<>();
      for (TxnKey key : left) {
        Keyspace keyspace = table.keyspaces().get(key.getKeyspace());
        if (keyspace == null) {
          continue;
        }
        String owner = ownership.ownerOf(keyspace, key.getKey().toByteArray());
        byOwner.computeIfAbsent(owner == null ? "" : owner, o -> new ArrayList<>()).add(key);
      }
      List<TxnKey> failed = new ArrayList<>();
      ShardClusterException last = null;
      for (Map.Entry<String, List<TxnKey>> entry : byOwner.entrySet()) {
        try {
          if (nodeId.equals(entry.getKey())) {
            requireLocal().resolve(txn, committed);
          } else {
            var unused =
                TransactionsGrpc.newBlockingStub(channels.channel(address(table, entry.getKey())))
                    .withDeadlineAfter(CALL_MILLIS, TimeUnit.MILLISECONDS)
                    .txnResolve(
                        TxnResolveRequest.newBuilder()
                            .setId(txn)
                            .setCommitted(committed)
                            .addAllKeys(entry.getValue())
                            .build());
          }
        } catch (RuntimeException e) {
          last = StatusErrors.fromStatus(e);
          failed.addAll(entry.getValue());
        }
      }
      if (failed.isEmpty()) {
        return;
      }
      if (attempt + 1 >= ATTEMPTS || !(last instanceof WrongShardException)) {
        throw last;
      }
      left = failed;
      table = tableAtLeast.apply(table.epoch() + 1);
    }
  }

  private Transactions requireLocal() {
    Transactions transactions = local;
    if (transactions == null) {
      throw ShardClusterException.unavailable("node " + nodeId + " is starting");
    }
    return transactions;
  }

  private static String address(RoutingTable table, @Nullable String owner) {
    if (owner == null || owner.isEmpty()) {
      throw ShardClusterException.unavailable("no node owns the key in epoch " + table.epoch());
    }
    return table
        .address(owner)
        .orElseThrow(
            () ->
                ShardClusterException.unavailable(
                    "node " + owner + " has no address in epoch " + table.epoch()));
  }
}
