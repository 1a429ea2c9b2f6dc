package io.shardcluster.coordinator;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.shardcluster.proto.v1.GetRoutingTableRequest;
import io.shardcluster.proto.v1.LookupGroupsRequest;
import io.shardcluster.proto.v1.LookupGroupsResponse;
import io.shardcluster.proto.v1.RoutingGrpc;
import io.shardcluster.proto.v1.RoutingTableProto;
import io.shardcluster.proto.v1.WatchRoutingTableRequest;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.server.ServerResponses;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Serves routing tables: on request, and as a watch stream that sends each subscriber the newest
 * table whenever the epoch moves. A slow subscriber skips intermediate tables rather than buffering
 * them.
 */
final class RoutingService extends RoutingGrpc.RoutingImplBase {
  private final Cluster cluster;
  private final Set<Watcher> watchers = ConcurrentHashMap.newKeySet();

  RoutingService(Cluster cluster) {
    this.cluster = cluster;
    cluster.addListener(table -> watchers.forEach(watcher -> watcher.offer(table)));
  }

  @Override
  public void getRoutingTable(
      GetRoutingTableRequest request, StreamObserver<RoutingTableProto> observer) {
    ServerResponses.unary(observer, () -> RoutingTables.toProto(cluster.routing()));
  }

  @Override
  public void lookupGroups(
      LookupGroupsRequest request, StreamObserver<LookupGroupsResponse> observer) {
    ServerResponses.unary(
        observer,
        () ->
            cluster
                .directory()
                .lookupGroups(
                    request.getKeyspace().isEmpty() ? Keyspace.DEFAULT : request.getKeyspace(),
                    request.getGroupsList(),
                    request.getPlace()));
  }

  @Override
  public void watchRoutingTable(
      WatchRoutingTableRequest request, StreamObserver<RoutingTableProto> observer) {
    var call = (ServerCallStreamObserver<RoutingTableProto>) observer;
    Watcher watcher = new Watcher(call, request.getKnownEpoch());
    call.setOnCancelHandler(() -> watchers.remove(watcher));
    call.setOnReadyHandler(watcher::drain);
    watchers.add(watcher);
    watcher.offer(cluster.routing());
  }

  /** One watch stream: the newest table it has not been sent yet. */
  private static final class Watcher {
    private final ServerCallStreamObserver<RoutingTableProto> call;

    @GuardedBy("this")
    private long sentEpoch;

    @GuardedBy("this")
    private @Nullable RoutingTable pending;

    Watcher(ServerCallStreamObserver<RoutingTableProto> call, long knownEpoch) {
      this.call = call;
      this.sentEpoch = knownEpoch;
    }

    synchronized void offer(RoutingTable table) {
      if (table.epoch() > sentEpoch && (pending == null || table.epoch() > pending.epoch())) {
        pending = table;
      }
      drain();
    }

    synchronized void drain() {
      if (pending != null && !call.isCancelled() && call.isReady()) {
        // Clear first: onNext may call back into drain (on-ready) on this thread.
        RoutingTable next = pending;
        pending = null;
        sentEpoch = next.epoch();
        call.onNext(RoutingTables.toProto(next));
      }
    }
  }
}
