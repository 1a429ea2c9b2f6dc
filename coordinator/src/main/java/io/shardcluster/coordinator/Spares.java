package io.shardcluster.coordinator;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.shardcluster.proto.v1.OfferSpareRequest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The spare processes on offer (shard-node --spare), as they last offered themselves (in memory:
 * they offer every heartbeat). A spare taken for a repair is not offered again, even by an offer
 * that was on its way.
 */
final class Spares {
  /** A spare as it offered itself. */
  record Spare(String address, int raftPort, String zone, Instant heard) {}

  private final Clock clock;
  private final Duration heardWithin;

  @GuardedBy("this")
  private final Map<String, Spare> offered = new LinkedHashMap<>();

  @GuardedBy("this")
  private final Set<String> taken = new HashSet<>();

  /**
   * @param heardWithin a spare silent longer than this is not taken (nor listed)
   */
  Spares(Clock clock, Duration heardWithin) {
    this.clock = clock;
    this.heardWithin = heardWithin;
  }

  synchronized void offer(OfferSpareRequest request) {
    if (taken.contains(request.getAddress())) {
      return;
    }
    offered.put(
        request.getAddress(),
        new Spare(request.getAddress(), request.getRaftPort(), request.getZone(), clock.instant()));
  }

  /** The spares heard from lately, in the order they first offered themselves. */
  synchronized List<Spare> available() {
    Instant since = clock.instant().minus(heardWithin);
    return offered.values().stream().filter(s -> s.heard().isAfter(since)).toList();
  }

  /** Takes the spare for a repair; false if it is no longer on offer. */
  synchronized boolean take(String address) {
    if (offered.remove(address) == null) {
      return false;
    }
    taken.add(address);
    return true;
  }

  /** A spare that could not be adopted after all: it may offer itself again. */
  synchronized void giveBack(String address) {
    taken.remove(address);
  }
}
