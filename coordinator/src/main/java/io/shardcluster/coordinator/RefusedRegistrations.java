package io.shardcluster.coordinator;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * Registrations refused lately because the node belongs to another cluster: shown by health, so
 * that a coordinator started on lost or foreign metadata says why its nodes stay away. Not
 * persisted.
 */
final class RefusedRegistrations {
  static final Duration KEPT_FOR = Duration.ofMinutes(10);
  static final int KEPT = 10;

  private record Refusal(Instant at, String message) {}

  @GuardedBy("this")
  private final Deque<Refusal> refusals = new ArrayDeque<>();

  synchronized void add(Instant at, String message) {
    refusals.removeIf(r -> r.message().equals(message));
    refusals.addLast(new Refusal(at, message));
    while (refusals.size() > KEPT) {
      refusals.removeFirst();
    }
  }

  /** The refusals of the last {@link #KEPT_FOR}, oldest first. */
  synchronized List<String> recent(Instant now) {
    Instant since = now.minus(KEPT_FOR);
    return refusals.stream().filter(r -> r.at().isAfter(since)).map(Refusal::message).toList();
  }
}
