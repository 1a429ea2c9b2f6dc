package io.shardcluster.coordinator;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.proto.v1.NodeStats;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Failure detection from heartbeats: a node is UP while its last heartbeat is younger than the
 * timeout and DOWN after. A coordinator that has just started gives every member one timeout of
 * grace. Not persisted; time comes from the injected clock.
 */
final class Liveness {
  private final Clock clock;
  private final Duration timeout;
  private final Instant started;

  @GuardedBy("this")
  private final Map<String, Heartbeat> last = new HashMap<>();

  @GuardedBy("this")
  private final Map<String, String> sessions = new HashMap<>();

  /** The last heartbeat of a node and the stats it carried. */
  record Heartbeat(Instant at, NodeStats stats) {}

  Liveness(Clock clock, Duration timeout) {
    this.clock = clock;
    this.timeout = timeout;
    this.started = clock.instant();
  }

  synchronized void heartbeat(String node, NodeStats stats) {
    last.put(node, new Heartbeat(clock.instant(), stats));
  }

  /** Records the process (its session id) that registered last under the node's id. */
  synchronized void session(String node, String session) {
    sessions.put(node, session);
  }

  /** The session of the process registered last under the node's id, if one has told it. */
  synchronized Optional<String> session(String node) {
    return Optional.ofNullable(sessions.get(node));
  }

  synchronized NodeStateProto state(String node) {
    Heartbeat heartbeat = last.get(node);
    Instant seen = heartbeat == null ? started : heartbeat.at();
    return Duration.between(seen, clock.instant()).compareTo(timeout) < 0
        ? NodeStateProto.UP
        : NodeStateProto.DOWN;
  }

  /** Whether the node has heartbeated within the timeout. */
  boolean isUp(String node) {
    return state(node) == NodeStateProto.UP;
  }

  /** How long the node has not heartbeated (since this coordinator started, if it never has). */
  synchronized Duration silentFor(String node) {
    Heartbeat heartbeat = last.get(node);
    return Duration.between(heartbeat == null ? started : heartbeat.at(), clock.instant());
  }

  synchronized Optional<Heartbeat> lastHeartbeat(String node) {
    return Optional.ofNullable(last.get(node));
  }

  Instant now() {
    return clock.instant();
  }

  Duration since(Instant instant) {
    return Duration.between(instant, clock.instant());
  }

  Clock clock() {
    return clock;
  }

  Duration timeout() {
    return timeout;
  }
}
