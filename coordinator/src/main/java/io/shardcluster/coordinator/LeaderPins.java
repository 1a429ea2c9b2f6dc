package io.shardcluster.coordinator;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.shardcluster.proto.v1.ReplicaInfo;
import io.shardcluster.proto.v1.ReplicaStatus;
import io.shardcluster.proto.v1.ReplicasGrpc;
import io.shardcluster.proto.v1.TransferLeaderRequest;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.StatusErrors;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps each pinned replica group's leader in its zone (Admin.PinLeader): every second, a group
 * whose leader runs outside the pinned zone, with a member in the zone that is live and caught up,
 * is told to hand the leadership to that member (the one least behind). A group with no such member
 * keeps its leader where it is until one is back. After each attempt a group is left alone for a
 * while, so that a transfer that fails (or a zone whose replica keeps losing elections) does not
 * make the leadership flap.
 */
final class LeaderPins implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(LeaderPins.class.getName());
  // A member behind the leader by more entries than this catches up before it is given the lead.
  static final long MAX_LAG = 1_000;
  static final long MAX_SILENT_MILLIS = 1_500;
  private static final Duration TRANSFER_TIMEOUT = Duration.ofSeconds(15);
  private static final Duration PAUSE = Duration.ofSeconds(10);

  private final Membership membership;
  private final NodeChannels channels;
  private final Clock clock;
  private final ScheduledExecutorService ticker =
      Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("leader-pins"));

  @GuardedBy("this")
  private final Map<String, Instant> pausedUntil = new HashMap<>();

  LeaderPins(Membership membership, NodeChannels channels, Clock clock) {
    this.membership = membership;
    this.channels = channels;
    this.clock = clock;
  }

  void start() {
    var unused = ticker.scheduleWithFixedDelay(this::tick, 1, 1, TimeUnit.SECONDS);
  }

  /**
   * The member the leadership should go to, if the group's leader is outside the pinned zone and a
   * member inside it is live and caught up.
   */
  static Optional<String> target(String zone, List<ReplicaInfo> replicas) {
    if (zone.isEmpty()) {
      return Optional.empty();
    }
    Optional<ReplicaInfo> leader = replicas.stream().filter(ReplicaInfo::getLeader).findFirst();
    if (leader.isEmpty() || leader.get().getZone().equals(zone)) {
      return Optional.empty();
    }
    return replicas.stream()
        .filter(replica -> !replica.getLeader() && replica.getHeard())
        .filter(replica -> replica.getZone().equals(zone))
        .filter(replica -> replica.getMillisSinceHeartbeat() <= MAX_SILENT_MILLIS)
        .filter(replica -> replica.getLag() <= MAX_LAG)
        .min(Comparator.comparingLong(ReplicaInfo::getLag))
        .map(ReplicaInfo::getReplicaId);
  }

  private void tick() {
    try {
      for (Membership.Member member : membership.members()) {
        String node = member.id();
        String zone = membership.leaderZone(node);
        Optional<String> target = target(zone, membership.replicas(node));
        Optional<ReplicaStatus> leader = membership.replicaReports().leader(node);
        if (target.isEmpty() || leader.isEmpty() || paused(node)) {
          continue;
        }
        synchronized (this) {
          pausedUntil.put(node, clock.instant().plus(PAUSE));
        }
        transfer(node, zone, leader.get(), target.get());
      }
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "leader pin tick failed", e);
    }
  }

  private synchronized boolean paused(String node) {
    Instant until = pausedUntil.get(node);
    return until != null && clock.instant().isBefore(until);
  }

  private void transfer(String node, String zone, ReplicaStatus leader, String target) {
    logger.info(
        node
            + "'s leader "
            + leader.getReplicaId()
            + " runs outside zone "
            + zone
            + ": handing the leadership to replica "
            + target);
    try {
      var unused =
          ReplicasGrpc.newBlockingStub(channels.channel(leader.getAddress()))
              .withDeadlineAfter(TRANSFER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
              .transferLeader(TransferLeaderRequest.newBuilder().setReplicaId(target).build());
    } catch (RuntimeException e) {
      logger.warning(
          node
              + ": handing the leadership to replica "
              + target
              + " failed: "
              + StatusErrors.fromStatus(e).getMessage());
    }
  }

  @Override
  public void close() {
    ticker.shutdownNow();
  }
}
