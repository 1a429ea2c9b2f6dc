package io.shardcluster.coordinator;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.shardcluster.proto.v1.AdoptRequest;
import io.shardcluster.proto.v1.ListRepairsResponse;
import io.shardcluster.proto.v1.RepairProto;
import io.shardcluster.proto.v1.ReplaceReplicaRequest;
import io.shardcluster.proto.v1.ReplicaStatus;
import io.shardcluster.proto.v1.ReplicasGrpc;
import io.shardcluster.proto.v1.SpareGrpc;
import io.shardcluster.proto.v1.SpareProto;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.StatusErrors;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Replaces replicas that stay down: every second, each replica group with a serving leader and a
 * member silent longer than {@code replaceAfter} gets a new member (see {@link RepairPlanner}): a
 * spare is adopted into the group in its place, then the leader changes the group's configuration,
 * which returns once the newcomer has installed the leader's store and caught up. One repair per
 * group at a time; a failed one is tried again after a pause (with the adopted process, if it got
 * that far). The record of repairs is kept in memory, the latest {@value #KEPT}.
 */
final class Repairs implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(Repairs.class.getName());
  private static final int KEPT = 100;
  private static final Duration ADOPT_TIMEOUT = Duration.ofSeconds(10);
  // Installing the leader's store and catching up: generous, for large stores.
  private static final Duration CATCH_UP_TIMEOUT = Duration.ofMinutes(60);
  private static final Duration RETRY_PAUSE = Duration.ofSeconds(5);

  private final Membership membership;
  private final Spares spares;
  private final NodeChannels channels;
  private final Clock clock;
  private final Duration replaceAfter;
  private final Duration heardWithin;
  private final Instant started;
  private final ScheduledExecutorService ticker =
      Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("repairs"));
  private final ExecutorService running =
      Executors.newCachedThreadPool(DaemonThreads.numbered("repair-"));

  @GuardedBy("this")
  private final Deque<Repair> repairs = new ArrayDeque<>();

  @GuardedBy("this")
  private final Map<String, Instant> pausedUntil = new HashMap<>();

  /** Where a repair is (RepairProto.phase). */
  private enum Phase {
    ADOPTING,
    CATCHING_UP,
    DONE,
    FAILED
  }

  /** One repair, as it goes. */
  private static final class Repair {
    final RepairPlanner.Plan plan;
    final Instant startedAt;
    volatile Phase phase = Phase.ADOPTING;
    volatile String error = "";
    volatile Instant endedAt = Instant.EPOCH;

    Repair(RepairPlanner.Plan plan, Instant startedAt) {
      this.plan = plan;
      this.startedAt = startedAt;
    }

    boolean ended() {
      return phase == Phase.DONE || phase == Phase.FAILED;
    }
  }

  /**
   * @param replaceAfter how long a replica may stay down before it is replaced; zero: never
   * @param heardWithin a process silent longer than this is not taken for a repair
   */
  Repairs(
      Membership membership,
      Spares spares,
      NodeChannels channels,
      Clock clock,
      Duration replaceAfter,
      Duration heardWithin) {
    this.membership = membership;
    this.spares = spares;
    this.channels = channels;
    this.clock = clock;
    this.replaceAfter = replaceAfter;
    this.heardWithin = heardWithin;
    this.started = clock.instant();
  }

  void start() {
    if (replaceAfter.isZero()) {
      return;
    }
    var unused = ticker.scheduleWithFixedDelay(this::tick, 1, 1, TimeUnit.SECONDS);
  }

  private void tick() {
    try {
      Replicas reports = membership.replicaReports();
      Duration uptime = Duration.between(started, clock.instant());
      for (Membership.Member member : membership.members()) {
        String node = member.id();
        if (busy(node)) {
          continue;
        }
        RepairPlanner.Group group =
            new RepairPlanner.Group(
                node,
                membership.replicas(node),
                reports.leader(node),
                reports.outsiders(node, heardWithin),
                reports.idsHeard(node));
        Optional<RepairPlanner.Plan> plan =
            RepairPlanner.plan(group, spares.available(), replaceAfter, uptime);
        if (plan.isEmpty()) {
          continue;
        }
        if (plan.get().adoptsSpare() && !spares.take(plan.get().spareAddress())) {
          continue;
        }
        Repair repair = new Repair(plan.get(), clock.instant());
        if (!plan.get().adoptsSpare()) {
          repair.phase = Phase.CATCHING_UP;
        }
        String leaderAddress = group.leader().map(ReplicaStatus::getAddress).orElse("");
        synchronized (this) {
          repairs.addFirst(repair);
          while (repairs.size() > KEPT) {
            repairs.removeLast();
          }
        }
        running.execute(() -> run(repair, leaderAddress));
      }
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "repair tick failed", e);
    }
  }

  /** Whether a repair of the node runs, or failed a moment ago. */
  private synchronized boolean busy(String node) {
    Instant until = pausedUntil.get(node);
    if (until != null && clock.instant().isBefore(until)) {
      return true;
    }
    return repairs.stream().anyMatch(r -> r.plan.node().equals(node) && !r.ended());
  }

  private void run(Repair repair, String leaderAddress) {
    RepairPlanner.Plan plan = repair.plan;
    logger.info(
        plan.node()
            + ": replica "
            + plan.deadReplica()
            + " down for over "
            + replaceAfter.toSeconds()
            + " s; replacing it by "
            + plan.newPeer());
    try {
      if (plan.adoptsSpare()) {
        try {
          var unused =
              SpareGrpc.newBlockingStub(channels.channel(plan.spareAddress()))
                  .withDeadlineAfter(ADOPT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                  .adopt(
                      AdoptRequest.newBuilder()
                          .setNodeId(plan.node())
                          .setReplicaId(plan.newReplica())
                          .addAllPeers(plan.peers())
                          .build());
        } catch (RuntimeException e) {
          spares.giveBack(plan.spareAddress());
          throw e;
        }
        repair.phase = Phase.CATCHING_UP;
      }
      var unused =
          ReplicasGrpc.newBlockingStub(channels.channel(leaderAddress))
              .withDeadlineAfter(CATCH_UP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
              .replaceReplica(
                  ReplaceReplicaRequest.newBuilder()
                      .setOldReplica(plan.deadReplica())
                      .setNewPeer(plan.newPeer())
                      .build());
      repair.phase = Phase.DONE;
      logger.info(
          plan.node() + ": replica " + plan.deadReplica() + " replaced by " + plan.newPeer());
    } catch (RuntimeException e) {
      repair.error = StatusErrors.fromStatus(e).getMessage();
      repair.phase = Phase.FAILED;
      logger.warning(
          plan.node() + ": replacing replica " + plan.deadReplica() + " failed: " + repair.error);
      synchronized (this) {
        pausedUntil.put(plan.node(), clock.instant().plus(RETRY_PAUSE));
      }
    } finally {
      repair.endedAt = clock.instant();
    }
  }

  /** The repairs, latest first, and the spares on offer (Admin.ListRepairs). */
  ListRepairsResponse view() {
    ListRepairsResponse.Builder response =
        ListRepairsResponse.newBuilder()
            .addAllRepairs(list())
            .setReplaceAfterMillis(replaceAfter.toMillis());
    for (Spares.Spare spare : spares.available()) {
      response.addSpares(
          SpareProto.newBuilder()
              .setAddress(spare.address())
              .setZone(spare.zone())
              .setMillisSinceHeard(
                  Math.max(0, Duration.between(spare.heard(), clock.instant()).toMillis())));
    }
    return response.build();
  }

  /** The repairs, latest first, with the new replica's lag while it catches up. */
  private List<RepairProto> list() {
    List<Repair> all;
    synchronized (this) {
      all = new ArrayList<>(repairs);
    }
    Replicas reports = membership.replicaReports();
    List<RepairProto> result = new ArrayList<>();
    for (Repair repair : all) {
      RepairPlanner.Plan plan = repair.plan;
      RepairProto.Builder proto =
          RepairProto.newBuilder()
              .setNodeId(plan.node())
              .setDeadReplica(plan.deadReplica())
              .setNewReplica(plan.newReplica())
              .setSpareAddress(plan.newPeer().substring(plan.newPeer().indexOf('@') + 1))
              .setPhase(repair.phase.name())
              .setError(repair.error)
              .setStartedAtMillis(repair.startedAt.toEpochMilli())
              .setEndedAtMillis(repair.ended() ? repair.endedAt.toEpochMilli() : 0);
      if (repair.phase == Phase.CATCHING_UP) {
        lag(reports, plan).ifPresent(proto::setLag);
      }
      result.add(proto.build());
    }
    return result;
  }

  private Optional<Long> lag(Replicas reports, RepairPlanner.Plan plan) {
    Optional<ReplicaStatus> leader = reports.leader(plan.node());
    if (leader.isEmpty()) {
      return Optional.empty();
    }
    long leading = leader.get().getAppliedIndex();
    return reports.outsiders(plan.node(), heardWithin).stream()
        .filter(status -> status.getReplicaId().equals(plan.newReplica()))
        .findFirst()
        .map(status -> Math.max(0, leading - status.getAppliedIndex()));
  }

  @Override
  public void close() {
    ticker.shutdownNow();
    running.shutdownNow();
  }
}
