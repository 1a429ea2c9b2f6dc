package io.shardcluster.coordinator;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.DirectoryChangeResponse;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.rpc.RoutingTables;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Directory changes as migrations: moving an entry's or a group's keys, placing or removing an
 * entry of a hash keyspace, and trying again a change that a failure rolled back. It plans; the
 * {@link Rebalancer} records the migrations and runs them.
 */
final class DirectoryChanges {
  private static final Logger logger = Logger.getLogger(DirectoryChanges.class.getName());

  private final Cluster cluster;
  private final Liveness liveness;
  private final Clock clock;

  DirectoryChanges(Cluster cluster, Liveness liveness, Clock clock) {
    this.cluster = cluster;
    this.liveness = liveness;
    this.clock = clock;
  }

  /**
   * The migration that moves the keys a directory entry (or, in a directory keyspace, a group)
   * places to another node; the entry switches to that node at the migration's commit. Refused for
   * an unknown entry or node, a node not UP or holding it already, and while migrations run.
   */
  Migration planMove(
      String keyspaceName, ByteString key, boolean prefix, String target, int attempt) {
    ClusterState state = cluster.state();
    Keyspace keyspace = state.routing().keyspace(keyspaceName);
    if (keyspace.isDirectory()) {
      return planGroupMove(state, keyspaceName, key, target, attempt);
    }
    String what = (prefix ? "prefix '" : "key '") + key.toStringUtf8() + "'";
    DirectoryEntry entry = keyspace.directory().existing(key, prefix);
    requireUpTarget(state, what, target);
    if (entry.owner().equals(target)) {
      throw ShardClusterException.failedPrecondition(what + " is already on " + target);
    }
    Cluster.requireNoMigrations(state);
    Migration migration =
        state
            .newMigration(
                0,
                entry.owner(),
                target,
                new MovingSet(keyspaceName, List.of(), List.of(entry)),
                "directory move")
            .toBuilder()
            .setAttempt(attempt)
            .build();
    logger.info("moving " + what + " from " + entry.owner() + " to " + target);
    return migration;
  }

  /**
   * The directory change a failure rolled back (see {@link RollbackRetries}), planned again once
   * its delay is over and its nodes answer, unless a later change of the same entry or group came
   * first; one in effect already is marked superseded instead. Holds back other plans while one
   * waits for its delay.
   */
  Plan retry(ClusterState state) {
    boolean waiting = false;
    for (RollbackRetries.Round round : RollbackRetries.latestDirectoryChanges(state)) {
      if (!round.retries()) {
        continue;
      }
      if (clock.millis() < round.retryAtMs()) {
        waiting = true;
        continue;
      }
      if (round.migrations().stream()
          .anyMatch(
              m -> isSilentMember(state, m.getSource()) || isSilentMember(state, m.getTarget()))) {
        // Tried once its nodes answer. A node removed since is left out of the change's new plan
        // (or, as the node to place keys on, ends it).
        continue;
      }
      Migration failed = round.migrations().get(0);
      try {
        List<Migration> again = redo(state, failed, round.attempt() + 1);
        if (!again.isEmpty()) {
          logger.info(
              String.format(
                  "%s of %s: trying it again after a failure rolled it back (attempt %d of %d)",
                  failed.getReason(),
                  RoutingTables.fromProto(failed.getMoving()),
                  round.attempt() + 1,
                  RollbackRetries.MAX_ATTEMPTS));
          return Plan.of(again);
        }
        // Nothing left to change (a drain placed the entry where it was going, or the entry is
        // gone): it is not looked at again, and health stops showing it as to be tried again.
        cluster.update(s -> RollbackRetries.supersede(s, round.migrations()));
      } catch (ShardClusterException e) {
        // A node it would move keys from or to is DOWN, or gone; or the entry, group or keyspace
        // is gone, leaving nothing to change.
      }
    }
    return waiting ? Plan.WAITING : Plan.NOTHING;
  }

  /** Whether the node is a member, not REMOVED, that does not answer. */
  private boolean isSilentMember(ClusterState state, String node) {
    return state.member(node).filter(m -> m.getState() != NodeStateProto.REMOVED).isPresent()
        && !liveness.isUp(node);
  }

  /**
   * The directory change of a rolled back migration planned again, at this attempt; none when there
   * is nothing left to do (the change is in effect, or was made at once now).
   */
  private List<Migration> redo(ClusterState state, Migration failed, int attempt) {
    MovingSet moving = RoutingTables.fromProto(failed.getMoving());
    Keyspace keyspace = state.routing().keyspace(moving.keyspace());
    switch (failed.getReason()) {
      case "directory set" -> {
        DirectoryEntry entry = moving.entries().get(0);
        return plan(
                keyspace.name(),
                () -> cluster.directory().setDirectoryEntry(keyspace.name(), entry),
                failed.getReason(),
                false,
                attempt)
            .migrations();
      }
      case "directory remove" -> {
        DirectoryEntry entry = RoutingTables.fromProto(failed.getRemoves(0));
        if (keyspace.directory().get(entry.key(), entry.prefix()).isEmpty()) {
          return List.of();
        }
        return plan(
                keyspace.name(),
                () ->
                    cluster
                        .directory()
                        .removeDirectoryEntry(keyspace.name(), entry.key(), entry.prefix()),
                failed.getReason(),
                true,
                attempt)
            .migrations();
      }
      case "directory move" -> {
        String target = failed.getTarget();
        boolean group = !moving.groups().isEmpty();
        ByteString key = group ? moving.groups().get(0) : moving.entries().get(0).key();
        boolean prefix = !group && moving.entries().get(0).prefix();
        String owner =
            group
                ? cluster.groups().owner(keyspace.name(), key)
                : keyspace.directory().get(key, prefix).map(DirectoryEntry::owner).orElse(null);
        if (owner == null || owner.equals(target)) {
          return List.of();
        }
        return List.of(planMove(keyspace.name(), key, prefix, target, attempt));
      }
      default -> {
        return List.of();
      }
    }
  }

  /** A directory change started: its migrations (none if it was made at once). */
  record Placing(DirectoryPlacement.Placement placement, List<Migration> migrations) {
    /** The response, with the migrations as the state has them (and their commit's epoch). */
    DirectoryChangeResponse response(ClusterState state) {
      DirectoryChangeResponse.Builder response = DirectoryChangeResponse.newBuilder();
      long epoch = placement.epoch();
      for (Migration started : migrations) {
        Migration now = state.migrations().getOrDefault(started.getId(), started);
        response.addMigrations(now);
        epoch = Math.max(epoch, now.getCommittedEpoch());
      }
      return response.setEpoch(epoch).build();
    }
  }

  /**
   * A directory change planned: the migrations that move the keys it covers (one from each node
   * that holds some, committing together), or none if it was made at once. A change made at once
   * answers any rolled back change of the same entry (marked superseded).
   */
  Placing plan(
      String keyspaceName,
      Supplier<DirectoryPlacement.Placement> plan,
      String reason,
      boolean removal,
      int attempt) {
    Cluster.requireNoMigrations(cluster.state());
    DirectoryPlacement.Placement placement = plan.get();
    DirectoryEntry entry = placement.entry();
    if (placement.moves().isEmpty()) {
      supersedeRetries(keyspaceName, entry);
      return new Placing(placement, List.of());
    }
    ClusterState state = cluster.state();
    String what = DirectoryPlacement.describe(entry);
    for (DirectoryPlacement.Move move : placement.moves()) {
      requireUpTarget(state, what, move.target());
    }
    List<Migration> migrations = new ArrayList<>();
    for (DirectoryPlacement.Move move : placement.moves()) {
      migrations.add(
          state
              .newMigration(migrations.size(), move.source(), move.target(), move.moving(), reason)
              .toBuilder()
              .addAllRemoves(removal ? List.of(RoutingTables.toProto(entry)) : List.of())
              .setAttempt(attempt)
              .build());
    }
    if (migrations.size() > 1) {
      String group = migrations.get(0).getId();
      migrations.replaceAll(m -> m.toBuilder().setGroup(group).build());
    }
    logger.info(
        reason
            + " "
            + what
            + ": "
            + String.join(
                ", ",
                placement.moves().stream().map(m -> m.source() + " -> " + m.target()).toList())
            + (placement.keysStored() ? "" : " (no key stored yet)"));
    return new Placing(placement, migrations);
  }

  /**
   * A change of the entry made at once answers a change of it that a failure rolled back: that one
   * is not tried again (a change with migrations answers it by being the latest of the entry).
   */
  private void supersedeRetries(String keyspaceName, DirectoryEntry entry) {
    cluster.update(
        state ->
            RollbackRetries.supersede(
                state, RollbackRetries.unanswered(state, keyspaceName, entry)));
  }

  private Migration planGroupMove(
      ClusterState state, String keyspaceName, ByteString group, String target, int attempt) {
    String what = "group '" + group.toStringUtf8() + "' of " + keyspaceName;
    String owner = cluster.groups().owner(keyspaceName, group);
    if (owner == null) {
      throw ShardClusterException.notFound(
          what + " has no entry: it has never been written (its first write places it)");
    }
    requireUpTarget(state, what, target);
    if (owner.equals(target)) {
      throw ShardClusterException.failedPrecondition(what + " is already on " + target);
    }
    Cluster.requireNoMigrations(state);
    Migration migration =
        state
            .newMigration(
                0,
                owner,
                target,
                MovingSet.ofGroups(keyspaceName, List.of(group), List.of()),
                "directory move")
            .toBuilder()
            .setAttempt(attempt)
            .build();
    logger.info("moving " + what + " from " + owner + " to " + target);
    return migration;
  }

  private static void requireUpTarget(ClusterState state, String what, String target) {
    MemberRecord member =
        state
            .member(target)
            .filter(m -> m.getState() != NodeStateProto.REMOVED)
            .orElseThrow(() -> ShardClusterException.notFound("no node named " + target));
    if (member.getState() != NodeStateProto.UP) {
      throw ShardClusterException.failedPrecondition(
          "cannot move " + what + " to " + target + ": it is " + member.getState());
    }
  }
}
