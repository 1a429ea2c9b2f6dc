package io.shardcluster.coordinator;

import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.NodeStateProto;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a planner decided: migrations to start and the member states that go with them (a drained
 * node becomes DRAINING with its moves), recorded together in one update by the {@link Rebalancer}.
 * A plan that {@code holds} keeps the other planners from planning this turn: it started something,
 * or waits for its turn (a retry's delay).
 *
 * @param migrations new PLANNED migrations, numbered by {@link ClusterState#newMigration}
 * @param memberStates members whose state changes with the plan
 * @param holds whether nothing else may be planned this turn
 */
record Plan(List<Migration> migrations, Map<String, NodeStateProto> memberStates, boolean holds) {
  /** Nothing to do: the next planner may plan. */
  static final Plan NOTHING = new Plan(List.of(), Map.of(), false);

  /** Nothing to start yet, but nothing else may be planned meanwhile. */
  static final Plan WAITING = new Plan(List.of(), Map.of(), true);

  Plan {
    migrations = List.copyOf(migrations);
    memberStates = Map.copyOf(memberStates);
  }

  /** Starts the migrations, holding back the other planners. */
  static Plan of(List<Migration> migrations) {
    return new Plan(migrations, Map.of(), true);
  }

  /** This plan, and the member's state changing with it. */
  Plan withMemberState(String node, NodeStateProto state) {
    Map<String, NodeStateProto> states = new LinkedHashMap<>(memberStates);
    states.put(node, state);
    return new Plan(migrations, states, holds);
  }

  /** The state with the plan's member states and migrations, created at {@code nowMs}. */
  ClusterState applyTo(ClusterState state, long nowMs) {
    ClusterState next = state;
    for (var change : memberStates.entrySet()) {
      ClusterState current = next;
      next =
          current
              .member(change.getKey())
              .filter(m -> m.getState() != change.getValue())
              .map(m -> current.withMember(m.toBuilder().setState(change.getValue()).build()))
              .orElse(current);
    }
    for (Migration migration : migrations) {
      next = next.withMigration(migration.toBuilder().setCreatedMs(nowMs).build());
    }
    return next;
  }
}
