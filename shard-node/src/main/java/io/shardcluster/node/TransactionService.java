package io.shardcluster.node;

import com.google.protobuf.UnsafeByteOperations;
import io.grpc.stub.StreamObserver;
import io.shardcluster.proto.v1.GetResponse;
import io.shardcluster.proto.v1.KeyValueProto;
import io.shardcluster.proto.v1.MultiGetResponse;
import io.shardcluster.proto.v1.TransactionsGrpc;
import io.shardcluster.proto.v1.TxnCheckRequest;
import io.shardcluster.proto.v1.TxnCheckResponse;
import io.shardcluster.proto.v1.TxnCommitRequest;
import io.shardcluster.proto.v1.TxnCommitResponse;
import io.shardcluster.proto.v1.TxnEndRequest;
import io.shardcluster.proto.v1.TxnEndResponse;
import io.shardcluster.proto.v1.TxnKey;
import io.shardcluster.proto.v1.TxnListRequest;
import io.shardcluster.proto.v1.TxnListResponse;
import io.shardcluster.proto.v1.TxnPrepareRequest;
import io.shardcluster.proto.v1.TxnPrepareResponse;
import io.shardcluster.proto.v1.TxnReadRequest;
import io.shardcluster.proto.v1.TxnResolveRequest;
import io.shardcluster.proto.v1.TxnResolveResponse;
import io.shardcluster.proto.v1.TxnScanRequest;
import io.shardcluster.proto.v1.TxnScanResponse;
import io.shardcluster.routing.Keyspace;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * The transaction RPCs of a node, converted to and from {@link Transactions}. A call that must
 * settle a conflict from another node's record runs again on the executor (see {@link
 * UnaryAnswers}).
 */
final class TransactionService extends TransactionsGrpc.TransactionsImplBase {
  private final Transactions transactions;
  private final Shard shard;
  private final Executor executor;
  private final UnaryAnswers answers;

  /**
   * @param executor runs the calls that must wait for another node, and resolutions
   */
  TransactionService(
      Transactions transactions, Shard shard, Ownership ownership, Executor executor) {
    this.transactions = transactions;
    this.shard = shard;
    this.executor = executor;
    this.answers = new UnaryAnswers(ownership, executor);
  }

  @Override
  public void txnRead(TxnReadRequest request, StreamObserver<MultiGetResponse> observer) {
    answers.answer(
        observer,
        () -> {
          List<byte[]> keys = new ArrayList<>(request.getKeysCount());
          request.getKeysList().forEach(key -> keys.add(key.toByteArray()));
          MultiGetResponse.Builder response = MultiGetResponse.newBuilder();
          for (byte[] value :
              transactions.read(
                  request.getTxn(), keyspace(request.getKeyspace()), keys, request.getEpoch())) {
            response.addResults(
                value == null
                    ? GetResponse.getDefaultInstance()
                    : GetResponse.newBuilder()
                        .setFound(true)
                        .setValue(UnsafeByteOperations.unsafeWrap(value))
                        .build());
          }
          return response.build();
        });
  }

  @Override
  public void txnScan(TxnScanRequest request, StreamObserver<TxnScanResponse> observer) {
    answers.answer(
        observer,
        () -> {
          Transactions.ScanResult result =
              transactions.scan(
                  request.getTxn(),
                  keyspace(request.getKeyspace()),
                  request.getStart().toByteArray(),
                  request.getEnd().toByteArray(),
                  request.getLimit(),
                  request.getEpoch());
          TxnScanResponse.Builder response =
              TxnScanResponse.newBuilder().setLocked(result.locked());
          for (int i = 0; i < result.keys().size(); i++) {
            response.addEntries(
                KeyValueProto.newBuilder()
                    .setKey(UnsafeByteOperations.unsafeWrap(result.keys().get(i)))
                    .setValue(UnsafeByteOperations.unsafeWrap(result.values().get(i))));
          }
          return response.build();
        });
  }

  @Override
  public void txnPrepare(TxnPrepareRequest request, StreamObserver<TxnPrepareResponse> observer) {
    answers.answer(
        observer,
        () -> {
          transactions.prepare(
              request.getTxn(),
              request.getWritesList(),
              request.getReadsList(),
              request.getRangesList(),
              request.getPrimary(),
              request.getParticipantsList(),
              request.getEpoch());
          return TxnPrepareResponse.getDefaultInstance();
        });
  }

  @Override
  public void txnCommit(TxnCommitRequest request, StreamObserver<TxnCommitResponse> observer) {
    answers.answer(
        observer,
        () -> {
          transactions.commit(
              request.getTxn(),
              request.getOnePhase(),
              request.getWritesList(),
              request.getReadsList(),
              request.getRangesList(),
              request.getEpoch());
          if (!request.getOnePhase()) {
            // The participants learn the outcome after the client does.
            executor.execute(() -> transactions.tellParticipants(request.getTxn().getId()));
          }
          return TxnCommitResponse.getDefaultInstance();
        });
  }

  @Override
  public void txnEnd(TxnEndRequest request, StreamObserver<TxnEndResponse> observer) {
    answers.answer(
        observer,
        () -> {
          transactions.end(
              request.getTxn(),
              request.getValidate(),
              request.getReadsList(),
              request.getRangesList());
          return TxnEndResponse.getDefaultInstance();
        });
  }

  @Override
  public void txnResolve(TxnResolveRequest request, StreamObserver<TxnResolveResponse> observer) {
    answers.answer(
        observer,
        () -> {
          // Only the owner of a key may say it holds no lock on it any more.
          var table = shard.table(0);
          for (TxnKey key : request.getKeysList()) {
            shard.checkOwned(table, key.getKeyspace(), key.getKey().toByteArray());
          }
          transactions.resolve(request.getId(), request.getCommitted());
          return TxnResolveResponse.getDefaultInstance();
        });
  }

  @Override
  public void txnCheck(TxnCheckRequest request, StreamObserver<TxnCheckResponse> observer) {
    answers.answer(
        observer,
        () ->
            TxnCheckResponse.newBuilder()
                .setState(
                    transactions.check(request.getId(), request.getPrimary(), request.getAbort()))
                .build());
  }

  @Override
  public void txnList(TxnListRequest request, StreamObserver<TxnListResponse> observer) {
    answers.answer(
        observer,
        () -> TxnListResponse.newBuilder().addAllTransactions(transactions.list()).build());
  }

  private static String keyspace(String name) {
    return name.isEmpty() ? Keyspace.DEFAULT : name;
  }
}
