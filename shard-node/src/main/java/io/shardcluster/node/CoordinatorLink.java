package io.shardcluster.node;

import io.grpc.ManagedChannel;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.AdminGrpc;
import io.shardcluster.proto.v1.HeartbeatRequest;
import io.shardcluster.proto.v1.HeartbeatResponse;
import io.shardcluster.proto.v1.ListNodesRequest;
import io.shardcluster.proto.v1.MembershipGrpc;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.proto.v1.RegisterRequest;
import io.shardcluster.proto.v1.RegisterResponse;
import io.shardcluster.proto.v1.ReplicaStatus;
import io.shardcluster.rpc.RoutingCache;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.rpc.StatusErrors;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * This node's membership: registers with the coordinator (retrying while it is unreachable), sends
 * heartbeats with stats, and keeps the routing cache current. A refusal to register (the id is
 * taken, or belongs to another data directory) is fatal and reported to {@code onFatal}.
 */
final class CoordinatorLink {
  private static final Logger logger = Logger.getLogger(CoordinatorLink.class.getName());

  private final Path dataDir;
  private final String session;
  private final String address;
  private final String coordinatorAddress;
  private final ManagedChannel coordinator;
  private final MembershipGrpc.MembershipBlockingStub membership;
  private final RoutingCache routing;
  private final Supplier<NodeStats> stats;
  private final Supplier<ReplicaStatus> replica;
  private final Duration interval;
  private final ScheduledExecutorService scheduler;
  private final Consumer<ShardClusterException> onFatal;
  private final Consumer<Set<String>> activeMigrations;
  private volatile boolean registered;
  private volatile boolean removed;
  private volatile boolean reportedUnreachable;
  private volatile NodeIdentity identity;
  private volatile boolean reportedForeign;

  CoordinatorLink(
      NodeIdentity identity,
      Path dataDir,
      String session,
      String address,
      String coordinatorAddress,
      ManagedChannel coordinator,
      RoutingCache routing,
      Supplier<NodeStats> stats,
      Supplier<ReplicaStatus> replica,
      Duration interval,
      ScheduledExecutorService scheduler,
      Consumer<ShardClusterException> onFatal,
      Consumer<Set<String>> activeMigrations) {
    this.identity = identity;
    this.dataDir = dataDir;
    this.session = session;
    this.address = address;
    this.coordinatorAddress = coordinatorAddress;
    this.coordinator = coordinator;
    this.membership = MembershipGrpc.newBlockingStub(coordinator);
    this.routing = routing;
    this.stats = stats;
    this.replica = replica;
    this.interval = interval;
    this.scheduler = scheduler;
    this.onFatal = onFatal;
    this.activeMigrations = activeMigrations;
  }

  /**
   * Registers once now, then heartbeats on a schedule. Throws if the coordinator refuses this node;
   * if it cannot be reached, keeps trying in the background.
   */
  void start() {
    try {
      register();
    } catch (ShardClusterException e) {
      if (isRefusal(e) && !ofAnotherCluster(e)) {
        throw e;
      }
      unreachable(e);
    }
    routing.watch();
    var unused =
        scheduler.scheduleWithFixedDelay(
            this::tick, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Sends a heartbeat now rather than at the next tick: a replica that just became its group's
   * leader tells the coordinator at once, so that clients are routed to it within milliseconds.
   */
  void heartbeatNow() {
    var unused = scheduler.submit(this::tick);
  }

  boolean registered() {
    return registered;
  }

  private void register() {
    RegisterResponse response;
    try {
      response =
          membership
              .withDeadlineAfter(interval.toMillis() * 4 + 1_000, TimeUnit.MILLISECONDS)
              .register(
                  RegisterRequest.newBuilder()
                      .setNodeId(identity.nodeId())
                      .setAddress(address)
                      .setInstanceId(identity.instanceId())
                      .setSessionId(session)
                      .setClusterId(identity.clusterId())
                      .setRouting(RoutingTables.toProto(routing.cached()))
                      .setReplica(replica.get())
                      .build());
    } catch (RuntimeException e) {
      throw StatusErrors.fromStatus(e);
    }
    if (identity.clusterId().isEmpty() && !response.getClusterId().isEmpty()) {
      identity = identity.joined(dataDir, response.getClusterId());
      logger.info(identity.nodeId() + " joined cluster " + identity.clusterId());
    }
    reportedForeign = false;
    routing.offer(RoutingTables.fromProto(response.getRouting()));
    registered = true;
    reportedUnreachable = false;
    logger.info(
        identity.nodeId()
            + " registered with the coordinator at "
            + coordinatorAddress
            + " (epoch "
            + response.getRouting().getEpoch()
            + ")");
  }

  private void tick() {
    if (removed) {
      return;
    }
    try {
      if (!registered) {
        register();
        return;
      }
      HeartbeatResponse response =
          membership
              .withDeadlineAfter(interval.toMillis() * 4 + 1_000, TimeUnit.MILLISECONDS)
              .heartbeat(
                  HeartbeatRequest.newBuilder()
                      .setNodeId(identity.nodeId())
                      .setInstanceId(identity.instanceId())
                      .setSessionId(session)
                      .setStats(stats.get())
                      .setReplica(replica.get())
                      .build());
      long epoch = response.getEpoch();
      activeMigrations.accept(Set.copyOf(response.getActiveMigrationsList()));
      if (reportedUnreachable) {
        logger.info("coordinator at " + coordinatorAddress + " is reachable again");
        reportedUnreachable = false;
      }
      if (epoch > routing.cached().epoch()) {
        var unused = routing.refresh();
      }
    } catch (RuntimeException failure) {
      ShardClusterException e = StatusErrors.fromStatus(failure);
      if (e.code() == ErrorCode.NOT_FOUND) {
        registered = false;
      } else if (registered && e.code() == ErrorCode.FAILED_PRECONDITION) {
        // Drained or removed: this node owns nothing any more. It keeps answering (wrong shard)
        // until an operator stops it, and stops heartbeating.
        if (!removed) {
          removed = true;
          logger.warning(
              e.getMessage() + "; " + identity.nodeId() + " owns nothing now and may be stopped");
        }
      } else if (!registered && isRefusal(e) && !ofAnotherCluster(e)) {
        onFatal.accept(e);
      } else {
        unreachable(e);
      }
    }
  }

  /**
   * Whether a refusal came from a coordinator of another cluster (one started on lost or foreign
   * metadata), or may have: if the coordinator cannot be asked now, the node tries again later. Not
   * fatal: the node keeps serving with the table it has and keeps trying, so that a coordinator
   * recovered from the nodes (--recover-from-nodes) finds it; it says so loudly once.
   */
  private boolean ofAnotherCluster(ShardClusterException refusal) {
    if (refusal.code() != ErrorCode.FAILED_PRECONDITION || identity.clusterId().isEmpty()) {
      return false;
    }
    String theirs;
    try {
      theirs =
          AdminGrpc.newBlockingStub(coordinator)
              .withDeadlineAfter(interval.toMillis() * 4 + 1_000, TimeUnit.MILLISECONDS)
              .listNodes(ListNodesRequest.getDefaultInstance())
              .getClusterId();
    } catch (RuntimeException e) {
      // Cannot tell now (the coordinator went away meanwhile): try again rather than stop.
      return true;
    }
    if (theirs.isEmpty() || theirs.equals(identity.clusterId())) {
      return false;
    }
    if (!reportedForeign) {
      reportedForeign = true;
      reportedUnreachable = true;
      logger.severe(
          "the coordinator at "
              + coordinatorAddress
              + " runs cluster "
              + theirs
              + ", but "
              + identity.nodeId()
              + " belongs to cluster "
              + identity.clusterId()
              + "; not registering with it. Serving with routing epoch "
              + routing.cached().epoch()
              + " and trying again. If the coordinator lost its metadata, restart it with"
              + " --recover-from-nodes (docs/operations.md)");
    }
    return true;
  }

  private void unreachable(ShardClusterException e) {
    // Try to connect again at the next heartbeat rather than after gRPC's reconnect backoff,
    // which grows to minutes: a restarted coordinator must hear from its nodes within seconds.
    coordinator.resetConnectBackoff();
    if (!reportedUnreachable) {
      reportedUnreachable = true;
      logger.warning(
          "cannot reach or register with the coordinator at "
              + coordinatorAddress
              + " ("
              + e.getMessage()
              + "); serving with routing epoch "
              + routing.cached().epoch()
              + " and retrying");
    }
  }

  /**
   * Whether the coordinator refused this node for good (its id is taken, or belongs to another data
   * directory, or is malformed). Anything else (a coordinator that is down, restarting or
   * overloaded, a connection that broke) is worth retrying.
   */
  private static boolean isRefusal(ShardClusterException e) {
    return e.code() == ErrorCode.ALREADY_EXISTS
        || e.code() == ErrorCode.FAILED_PRECONDITION
        || e.code() == ErrorCode.INVALID_ARGUMENT;
  }
}
