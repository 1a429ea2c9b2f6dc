package io.shardcluster.node;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.stub.StreamObserver;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.AdoptRequest;
import io.shardcluster.proto.v1.AdoptResponse;
import io.shardcluster.proto.v1.MembershipGrpc;
import io.shardcluster.proto.v1.OfferSpareRequest;
import io.shardcluster.proto.v1.SpareGrpc;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.rpc.HostPort;
import io.shardcluster.server.ServerResponses;
import io.shardcluster.server.ServerStartup;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * A spare process (shard-node --spare) before the coordinator adopts it: it offers itself every
 * heartbeat and serves one call, {@code Spare.Adopt}, which makes it a replica of a shard's group
 * in place of one that stayed down. The adoption is saved in the data directory before it is
 * answered; the process then runs as that replica (and does so again after a restart).
 */
final class SpareNode {
  private static final Logger logger = Logger.getLogger(SpareNode.class.getName());

  private final HostPort address;
  private final int raftPort;
  private final String zone;
  private final Path dataDir;
  private final ManagedChannel coordinator;
  private final Duration interval;
  private final CompletableFuture<SpareAdoption> adopted = new CompletableFuture<>();
  private final ScheduledExecutorService offers =
      Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("spare-offers"));
  private volatile boolean reportedUnreachable;

  SpareNode(
      HostPort address,
      int raftPort,
      String zone,
      Path dataDir,
      ManagedChannel coordinator,
      Duration interval) {
    this.address = address;
    this.raftPort = raftPort;
    this.zone = zone;
    this.dataDir = dataDir;
    this.coordinator = coordinator;
    this.interval = interval;
  }

  /**
   * Serves on {@code builder} and offers itself until adopted; returns the adoption once it is
   * saved and answered, with the server stopped (the port free for the replica's own).
   */
  SpareAdoption awaitAdoption(ServerBuilder<?> builder) throws InterruptedException {
    Server server =
        ServerStartup.start(builder.addService(new Service()), address.host(), address.port());
    var unused =
        offers.scheduleWithFixedDelay(this::offer, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    try {
      return adopted.get();
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    } finally {
      offers.shutdownNow();
      server.shutdown();
      if (!server.awaitTermination(10, TimeUnit.SECONDS)) {
        server.shutdownNow().awaitTermination();
      }
    }
  }

  private void offer() {
    try {
      var unused =
          MembershipGrpc.newBlockingStub(coordinator)
              .withDeadlineAfter(interval.toMillis() * 4 + 1_000, TimeUnit.MILLISECONDS)
              .offerSpare(
                  OfferSpareRequest.newBuilder()
                      .setAddress(address.toString())
                      .setRaftPort(raftPort)
                      .setZone(zone)
                      .build());
      if (reportedUnreachable) {
        logger.info("spare " + address + " reaches the coordinator again");
        reportedUnreachable = false;
      }
    } catch (RuntimeException e) {
      if (!reportedUnreachable) {
        logger.warning("spare " + address + " cannot reach the coordinator: " + e.getMessage());
        reportedUnreachable = true;
      }
    }
  }

  /** Validates, saves and reports an adoption; the same adoption again is answered OK. */
  private synchronized void adopt(AdoptRequest request) {
    List<GroupPeer> peers = request.getPeersList().stream().map(GroupPeer::parse).toList();
    SpareAdoption adoption = new SpareAdoption(request.getNodeId(), request.getReplicaId(), peers);
    @Nullable GroupPeer self =
        peers.stream()
            .filter(peer -> peer.id().equals(request.getReplicaId()))
            .findFirst()
            .orElse(null);
    if (self == null || !self.address().equals(address) || self.raftPort() != raftPort) {
      throw ShardClusterException.invalidArgument(
          "the peers name replica "
              + request.getReplicaId()
              + " as "
              + self
              + ", not this spare ("
              + address
              + ", Raft port "
              + raftPort
              + ")");
    }
    if (adopted.isDone()) {
      if (adopted.join().equals(adoption)) {
        return;
      }
      throw new ShardClusterException(
          ErrorCode.FAILED_PRECONDITION,
          "this spare was adopted already, as "
              + adopted.join().nodeId()
              + " replica "
              + adopted.join().replicaId());
    }
    adoption.save(dataDir);
    logger.info(
        "spare "
            + address
            + " adopted as "
            + adoption.nodeId()
            + " replica "
            + adoption.replicaId()
            + " (group "
            + peers
            + ")");
    adopted.complete(adoption);
  }

  private final class Service extends SpareGrpc.SpareImplBase {
    @Override
    public void adopt(AdoptRequest request, StreamObserver<AdoptResponse> observer) {
      ServerResponses.unary(
          observer,
          () -> {
            SpareNode.this.adopt(request);
            return AdoptResponse.getDefaultInstance();
          });
    }
  }
}
