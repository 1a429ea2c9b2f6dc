package io.shardcluster.node;

import io.shardcluster.proto.v1.MigrationSpec;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * Rolls back local migration state the coordinator no longer knows: a migration it cancelled while
 * it could not reach this node. A migration must be missing from several heartbeat answers in a
 * row, and be known locally for a while, before it is rolled back, so that one that has only just
 * begun is not mistaken for a forgotten one.
 */
final class MigrationReconciler {
  private static final Logger logger = Logger.getLogger(MigrationReconciler.class.getName());
  private static final int MISSES = 3;
  private static final long MIN_AGE_MS = 5_000;

  private final OutgoingMigrations outgoing;
  private final IncomingMigrations incoming;
  private final LongSupplier clockMillis;
  private final Map<String, Long> firstSeen = new HashMap<>();
  private final Map<String, Integer> misses = new HashMap<>();

  MigrationReconciler(
      OutgoingMigrations outgoing, IncomingMigrations incoming, LongSupplier clockMillis) {
    this.outgoing = outgoing;
    this.incoming = incoming;
    this.clockMillis = clockMillis;
  }

  /** Called with the coordinator's list of this node's migrations that have not ended. */
  synchronized void reconcile(Set<String> active) {
    long now = clockMillis.getAsLong();
    Map<String, MigrationSpec> local = new HashMap<>();
    outgoing.ids().forEach(id -> local.put(id, null));
    incoming.specs().forEach(spec -> local.put(spec.getId(), spec));
    firstSeen.keySet().retainAll(local.keySet());
    misses.keySet().retainAll(local.keySet());
    for (var entry : local.entrySet()) {
      String id = entry.getKey();
      firstSeen.putIfAbsent(id, now);
      if (active.contains(id)) {
        misses.remove(id);
        continue;
      }
      int missed = misses.merge(id, 1, Integer::sum);
      if (missed >= MISSES && now - firstSeen.get(id) >= MIN_AGE_MS) {
        logger.warning(
            "migration " + id + " has ended at the coordinator; rolling back what is left here");
        if (entry.getValue() == null) {
          outgoing.abort(id);
        } else {
          incoming.abort(entry.getValue());
        }
        misses.remove(id);
      }
    }
  }
}
