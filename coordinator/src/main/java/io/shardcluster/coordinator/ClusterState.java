package io.shardcluster.coordinator;

import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.RoutingTables;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Everything the coordinator persists: the routing table (which carries the epoch), the members
 * with their state and instance id, and the migrations. Immutable; every change makes a new one.
 *
 * @param routing the current routing table
 * @param members node id to member record, REMOVED ones included
 * @param migrations migration id to its record, in creation order
 */
record ClusterState(
    RoutingTable routing, Map<String, MemberRecord> members, Map<String, Migration> migrations) {
  /** Ended migrations kept for `shardctl migrations --all`. */
  static final int FINISHED_KEPT = 200;

  ClusterState {
    members = Collections.unmodifiableMap(new TreeMap<>(members));
    migrations = Collections.unmodifiableMap(new LinkedHashMap<>(migrations));
  }

  /** A new cluster: epoch 1, the default keyspace with an empty ring, no members. */
  static ClusterState initial() {
    return new ClusterState(
        new RoutingTable(1, Map.of(), Map.of(Keyspace.DEFAULT, Keyspace.hash(Keyspace.DEFAULT))),
        Map.of(),
        Map.of());
  }

  long epoch() {
    return routing.epoch();
  }

  Optional<MemberRecord> member(String node) {
    return Optional.ofNullable(members.get(node));
  }

  /**
   * A copy with the member added or changed. Members that are not REMOVED are in the routing table
   * with their address. (Epochs are assigned by {@link Cluster#update}.)
   */
  ClusterState withMember(MemberRecord member) {
    Map<String, MemberRecord> next = new LinkedHashMap<>(members);
    next.put(member.getId(), member);
    Map<String, String> addresses = new LinkedHashMap<>();
    Set<String> replicated = new HashSet<>();
    next.values().stream()
        .filter(m -> m.getState() != NodeStateProto.REMOVED)
        .forEach(
            m -> {
              addresses.put(m.getId(), m.getAddress());
              if (m.getReplicated()) {
                replicated.add(m.getId());
              }
            });
    return new ClusterState(
        new RoutingTable(
            routing.epoch(),
            addresses,
            routing.keyspaces(),
            routing.droppedKeyspaces(),
            replicated),
        next,
        migrations);
  }

  /** A copy with a keyspace's routing replaced. */
  ClusterState withKeyspace(Keyspace keyspace) {
    return new ClusterState(routing.with(epoch(), keyspace), members, migrations);
  }

  /** A copy without the keyspace; its name is never used again. */
  ClusterState withoutKeyspace(String name) {
    return new ClusterState(routing.without(epoch(), name), members, migrations);
  }

  /** A copy whose routing table carries the epoch. */
  ClusterState withEpoch(long epoch) {
    return new ClusterState(routing.withEpoch(epoch), members, migrations);
  }

  /** A copy with the migration added or updated; old ended migrations are dropped. */
  ClusterState withMigration(Migration migration) {
    Map<String, Migration> next = new LinkedHashMap<>(migrations);
    next.put(migration.getId(), migration);
    List<String> finished =
        next.values().stream().filter(ClusterState::isFinished).map(Migration::getId).toList();
    for (int i = 0; i < finished.size() - FINISHED_KEPT; i++) {
      next.remove(finished.get(i));
    }
    return new ClusterState(routing, members, next);
  }

  /** Migrations that have not ended. */
  /**
   * A new PLANNED migration, numbered after those in this state plus {@code offset} (for the second
   * and later migrations of one plan); not recorded until a {@link Plan} is applied.
   */
  Migration newMigration(
      int offset, String source, String target, MovingSet moving, String reason) {
    long next =
        migrations.keySet().stream()
                .mapToLong(id -> Long.parseLong(id.substring(1)))
                .max()
                .orElse(0)
            + 1
            + offset;
    return Migration.newBuilder()
        .setId(String.format(Locale.ROOT, "m%06d", next))
        .setSource(source)
        .setTarget(target)
        .setMoving(RoutingTables.toProto(moving))
        .setPhase(MigrationPhase.PLANNED)
        .setReason(reason)
        .setAttempt(1)
        .setShare(moving.share())
        .setEtaSeconds(-1)
        .build();
  }

  List<Migration> activeMigrations() {
    return migrations.values().stream().filter(m -> !isFinished(m)).toList();
  }

  static boolean isFinished(Migration migration) {
    return migration.getPhase() == MigrationPhase.DONE
        || migration.getPhase() == MigrationPhase.CANCELLED;
  }
}
