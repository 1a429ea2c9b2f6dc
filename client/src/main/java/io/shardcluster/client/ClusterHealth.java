package io.shardcluster.client;

import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * What {@link ClusterAdmin#health()} found: one check per concern, each OK, WARN (needs an
 * operator's eye, nothing is unavailable) or FAIL (some keys cannot be read or written, or this
 * client cannot reach a node). The cluster is healthy when no check failed.
 *
 * @param epoch the routing epoch the checks were made at (0 if the coordinator did not answer)
 */
public record ClusterHealth(long epoch, List<Check> checks) {
  /** How a check came out. */
  public enum Status {
    OK,
    WARN,
    FAIL
  }

  /**
   * One check: {@code coordinator}, {@code nodes}, {@code reachable}, {@code replicas}, {@code
   * repairs}, {@code zones}, {@code storage}, {@code data}, {@code migrations}, {@code balance}.
   */
  public record Check(String name, Status status, String detail) {}

  public ClusterHealth {
    checks = List.copyOf(checks);
  }

  /** Whether no check failed. */
  public boolean healthy() {
    return checks.stream().noneMatch(c -> c.status() == Status.FAIL);
  }

  /** The checks that failed. */
  public List<Check> failed() {
    return checks.stream().filter(c -> c.status() == Status.FAIL).toList();
  }

  /** A coordinator that did not answer: nothing else can be checked. */
  static ClusterHealth coordinatorUnreachable(@Nullable String error) {
    return new ClusterHealth(
        0, List.of(new Check("coordinator", Status.FAIL, error != null ? error : "unreachable")));
  }

  /**
   * Judges what the coordinator and the nodes said.
   *
   * @param coordinator the coordinator's address
   * @param refusedRegistrations registrations the coordinator refused lately because the node
   *     belongs to another cluster
   * @param recent the migrations running and those that ended lately
   * @param balance the plan a rebalance would carry out now (a dry run)
   * @param repairs the coordinator's replacements of replicas that stayed down, and its spares
   * @param unanswered the nodes this client tried and that did not answer, with what went wrong
   *     ({@code at ADDRESS is unreachable: ...})
   * @param answerMillis how long the slowest node that answered took
   */
  static ClusterHealth judge(
      String coordinator,
      RoutingTable table,
      List<NodeInfo> nodes,
      List<String> refusedRegistrations,
      List<ClusterAdmin.KeyspaceInfo> keyspaces,
      List<MigrationInfo> recent,
      RebalancePlan balance,
      ClusterAdmin.Repairs repairs,
      Map<String, String> unanswered,
      double answerMillis) {
    List<Check> checks = new ArrayList<>();
    checks.add(
        new Check("coordinator", Status.OK, coordinator + " answers, epoch " + table.epoch()));
    checks.add(nodesCheck(nodes, refusedRegistrations));
    checks.add(reachableCheck(nodes, unanswered, answerMillis));
    checks.add(replicasCheck(nodes));
    checks.add(repairsCheck(nodes, repairs));
    checks.add(zonesCheck(nodes));
    checks.add(storageCheck(nodes));
    checks.add(dataCheck(table, nodes, keyspaces));
    checks.add(migrationsCheck(nodes, recent));
    checks.add(balanceCheck(balance));
    return new ClusterHealth(table.epoch(), checks);
  }

  private static Check nodesCheck(List<NodeInfo> nodes, List<String> refusedRegistrations) {
    if (!refusedRegistrations.isEmpty()) {
      return new Check(
          "nodes",
          Status.FAIL,
          "refused nodes of another cluster: " + String.join("; ", refusedRegistrations));
    }
    List<String> down = new ArrayList<>();
    List<String> changing = new ArrayList<>();
    int up = 0;
    for (NodeInfo node : nodes) {
      switch (node.state()) {
        case DOWN ->
            down.add(
                String.format(
                    Locale.ROOT,
                    "%s is DOWN%s (last heartbeat %.1f s ago)",
                    node.id(),
                    node.memberState() == NodeState.UP ? "" : " while " + node.memberState(),
                    node.millisSinceHeartbeat() / 1000.0));
        case JOINING, DRAINING -> changing.add(node.id() + " is " + node.state());
        case UP -> up++;
        case REMOVED -> {}
      }
    }
    String counts = up + " UP";
    if (!down.isEmpty()) {
      return new Check("nodes", Status.FAIL, String.join("; ", down) + "; " + counts);
    }
    if (nodes.stream().noneMatch(n -> n.state() != NodeState.REMOVED)) {
      return new Check("nodes", Status.FAIL, "no node has registered");
    }
    if (!changing.isEmpty()) {
      return new Check("nodes", Status.OK, counts + "; " + String.join("; ", changing));
    }
    return new Check("nodes", Status.OK, counts);
  }

  private static Check reachableCheck(
      List<NodeInfo> nodes, Map<String, String> unanswered, double answerMillis) {
    if (!unanswered.isEmpty()) {
      List<String> errors = new ArrayList<>();
      unanswered.forEach((node, error) -> errors.add(node + " " + error));
      return new Check("reachable", Status.FAIL, String.join("; ", errors));
    }
    long tried = nodes.stream().filter(ClusterHealth::answers).count();
    return new Check(
        "reachable",
        Status.OK,
        tried == 0
            ? "no node to try"
            : String.format(
                Locale.ROOT,
                "%d node(s) answer from here, all within %.1f ms",
                tried,
                answerMillis));
  }

  /**
   * Fails while a node has found its stored data damaged since it started (reads of the damaged
   * keys fail with DATA_LOSS until the node's data is restored), or while its storage refuses
   * writes (docs/operations.md).
   */
  // A replica silent this long (six heartbeats) counts as down.
  private static final long REPLICA_SILENT_MILLIS = 3_000;

  /**
   * WARN for any replica group with a majority of its replicas in one zone: losing that zone stops
   * the group (with three replicas, it takes three zones to survive the loss of one).
   */
  private static Check zonesCheck(List<NodeInfo> nodes) {
    Set<String> zones = new TreeSet<>();
    for (NodeInfo node : nodes) {
      for (ReplicaInfo replica : node.replicas()) {
        if (!replica.zone().isEmpty()) {
          zones.add(replica.zone());
        }
      }
    }
    if (zones.isEmpty()) {
      return new Check("zones", Status.OK, "no zones given (shard-node --zone)");
    }
    List<String> crowded = new ArrayList<>();
    for (NodeInfo node : nodes) {
      if (node.memberState() == NodeState.REMOVED) {
        continue;
      }
      int members = node.replicas().size();
      Map<String, List<String>> byZone = new TreeMap<>();
      for (ReplicaInfo replica : node.replicas()) {
        if (!replica.zone().isEmpty()) {
          byZone.computeIfAbsent(replica.zone(), z -> new ArrayList<>()).add(replica.replicaId());
        }
      }
      byZone.forEach(
          (zone, replicas) -> {
            if (replicas.size() > members / 2) {
              crowded.add(
                  node.id()
                      + "'s replicas "
                      + String.join(" and ", replicas)
                      + " share "
                      + zone
                      + ": losing "
                      + zone
                      + " stops "
                      + node.id());
            }
          });
      Optional<ReplicaInfo> leader =
          node.replicas().stream().filter(ReplicaInfo::leader).findFirst();
      if (!node.leaderZone().isEmpty()
          && leader.isPresent()
          && !leader.get().zone().equals(node.leaderZone())) {
        crowded.add(
            node.id()
                + "'s leader is pinned to "
                + node.leaderZone()
                + " but runs in "
                + (leader.get().zone().isEmpty() ? "no zone" : leader.get().zone())
                + " (no live, caught-up replica in "
                + node.leaderZone()
                + " yet)");
      }
    }
    if (!crowded.isEmpty()) {
      return new Check(
          "zones", Status.WARN, String.join("; ", crowded) + " (zones: " + zones + ")");
    }
    return new Check(
        "zones",
        Status.OK,
        "no zone holds a majority of a group's replicas (zones: " + zones + ")");
  }

  /**
   * WARN for any replica group with fewer live replicas than its configuration has; FAIL for one
   * with no live majority (it serves nothing until a majority runs again).
   */
  private static Check replicasCheck(List<NodeInfo> nodes) {
    List<String> under = new ArrayList<>();
    boolean noMajority = false;
    int groups = 0;
    for (NodeInfo node : nodes) {
      if (node.replicas().isEmpty() || node.memberState() == NodeState.REMOVED) {
        continue;
      }
      groups++;
      List<String> silent = new ArrayList<>();
      for (ReplicaInfo replica : node.replicas()) {
        if (!replica.heard()) {
          silent.add(replica.replicaId() + " never heard from");
        } else if (replica.millisSinceHeartbeat() > REPLICA_SILENT_MILLIS) {
          silent.add(
              String.format(
                  Locale.ROOT,
                  "%s silent for %.1f s",
                  replica.replicaId(),
                  replica.millisSinceHeartbeat() / 1000.0));
        }
      }
      if (!silent.isEmpty()) {
        int members = node.replicas().size();
        int live = members - silent.size();
        boolean majority = live > members / 2;
        noMajority |= !majority;
        under.add(
            node.id()
                + " has "
                + live
                + " of "
                + members
                + " replicas live ("
                + String.join(", ", silent)
                + ")"
                + (majority ? "" : ": no majority, it serves nothing"));
      }
    }
    if (!under.isEmpty()) {
      return new Check(
          "replicas", noMajority ? Status.FAIL : Status.WARN, String.join("; ", under));
    }
    return new Check(
        "replicas",
        Status.OK,
        groups == 0
            ? "no replica groups (each node is one process)"
            : "every replica of " + groups + " group(s) is live");
  }

  /**
   * WARN when a group's last repair failed, or when a group has a silent member and no spare can
   * replace it; OK with the repairs running and the spares on offer otherwise.
   */
  private static Check repairsCheck(List<NodeInfo> nodes, ClusterAdmin.Repairs repairs) {
    if (nodes.stream().allMatch(node -> node.replicas().isEmpty())) {
      return new Check("repairs", Status.OK, "no replica groups");
    }
    List<String> problems = new ArrayList<>();
    Set<String> seen = new java.util.HashSet<>();
    int running = 0;
    for (ClusterAdmin.RepairInfo repair : repairs.repairs()) {
      if (!seen.add(repair.node())) {
        continue; // an older repair of the same group
      }
      if (repair.phase().equals("FAILED")) {
        problems.add(
            repair.node()
                + ": replacing replica "
                + repair.deadReplica()
                + " failed ("
                + repair.error()
                + "); it is tried again");
      } else if (repair.ended().isEmpty()) {
        running++;
      }
    }
    boolean silentMember =
        nodes.stream()
            .flatMap(node -> node.replicas().stream())
            .anyMatch(r -> !r.heard() || r.millisSinceHeartbeat() > REPLICA_SILENT_MILLIS);
    String spares = repairs.spares().size() + " spare(s) on offer";
    if (repairs.replaceAfter().isZero()) {
      return new Check(
          "repairs", Status.OK, "replicas that stay down are not replaced (--replace-after 0)");
    }
    if (silentMember && repairs.spares().isEmpty() && running == 0) {
      problems.add(
          "a replica is down and no spare is on offer to replace it (start shard-node --spare)");
    }
    String summary =
        spares
            + ", replicas down over "
            + repairs.replaceAfter().toSeconds()
            + " s are replaced"
            + (running > 0 ? "; " + running + " repair(s) running (shardctl repairs)" : "");
    if (!problems.isEmpty()) {
      return new Check("repairs", Status.WARN, String.join("; ", problems) + " (" + summary + ")");
    }
    return new Check("repairs", Status.OK, summary);
  }

  private static Check storageCheck(List<NodeInfo> nodes) {
    List<String> damaged = new ArrayList<>();
    for (NodeInfo node : nodes) {
      if (!node.writeFault().isEmpty() && node.state() != NodeState.REMOVED) {
        damaged.add(node.id() + ": " + node.writeFault() + " (restart it once the cause is fixed)");
      }
      if (node.storageFaults() > 0 && node.state() != NodeState.REMOVED) {
        damaged.add(
            node.id()
                + ": "
                + node.storageFaults()
                + " read(s) found damaged data, the latest: "
                + node.storageFault());
      }
    }
    if (!damaged.isEmpty()) {
      return new Check("storage", Status.FAIL, String.join("; ", damaged));
    }
    return new Check("storage", Status.OK, "no node has found damaged data");
  }

  /** Whether the coordinator hears from the node: it is worth trying directly. */
  static boolean answers(NodeInfo node) {
    return node.state() != NodeState.DOWN && node.state() != NodeState.REMOVED;
  }

  private static Check dataCheck(
      RoutingTable table, List<NodeInfo> nodes, List<ClusterAdmin.KeyspaceInfo> keyspaces) {
    Set<String> down = new TreeSet<>();
    nodes.stream().filter(n -> n.state() == NodeState.DOWN).forEach(n -> down.add(n.id()));
    List<String> lost = new ArrayList<>();
    for (Keyspace keyspace : table.keyspaces().values()) {
      unavailable(keyspace, down, keyspaces)
          .ifPresent(what -> lost.add(keyspace.name() + ": " + what));
    }
    if (!lost.isEmpty()) {
      return new Check(
          "data",
          Status.FAIL,
          String.join("; ", lost) + " (on DOWN " + String.join(", ", down) + ")");
    }
    return new Check(
        "data",
        Status.OK,
        "every key's owner is up (" + table.keyspaces().size() + " keyspace(s))");
  }

  /** What of the keyspace is owned by DOWN nodes, if anything. */
  private static Optional<String> unavailable(
      Keyspace keyspace, Set<String> down, List<ClusterAdmin.KeyspaceInfo> keyspaces) {
    List<String> parts = new ArrayList<>();
    if (keyspace.isDirectory()) {
      Map<String, Long> perNode =
          keyspaces.stream()
              .filter(k -> k.name().equals(keyspace.name()))
              .findFirst()
              .map(ClusterAdmin.KeyspaceInfo::groupsPerNode)
              .orElse(Map.of());
      long groups =
          perNode.entrySet().stream()
              .filter(e -> down.contains(e.getKey()))
              .mapToLong(Map.Entry::getValue)
              .sum();
      if (groups > 0) {
        parts.add(String.format(Locale.ROOT, "%,d group(s)", groups));
      }
    } else if (keyspace.isRange()) {
      int ranges = 0;
      for (int i = 0; i < keyspace.ranges().size(); i++) {
        if (down.contains(keyspace.ranges().owner(i))) {
          ranges++;
        }
      }
      if (ranges > 0) {
        parts.add(ranges + " of " + keyspace.ranges().size() + " key range(s)");
      }
    } else {
      double share =
          keyspace.ring().shares().entrySet().stream()
              .filter(e -> down.contains(e.getKey()))
              .mapToDouble(Map.Entry::getValue)
              .sum();
      if (share > 0) {
        parts.add(String.format(Locale.ROOT, "%.1f%% of the ring", share * 100));
      }
    }
    if (!keyspace.isDirectory()) {
      long entries =
          keyspace.directory().entries().stream()
              .map(DirectoryEntry::owner)
              .filter(down::contains)
              .count();
      if (entries > 0) {
        parts.add(entries + " directory entr" + (entries == 1 ? "y" : "ies"));
      }
    }
    return parts.isEmpty() ? Optional.empty() : Optional.of(String.join(" and ", parts));
  }

  /**
   * WARN for what waits for an operator: a paused migration, a stopped drain, a directory change
   * failures rolled back as many times as the coordinator tries. A join, drain or directory change
   * waiting to try again is shown, but heals by itself.
   */
  private static Check migrationsCheck(List<NodeInfo> nodes, List<MigrationInfo> recent) {
    List<MigrationInfo> running = recent.stream().filter(m -> !m.ended()).toList();
    List<String> attention = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    for (RolledBackDirectoryChange change : RolledBackDirectoryChange.all(recent, nodes)) {
      (change.needsOperator() ? attention : notes).add(change.describe());
    }
    running.stream()
        .filter(MigrationInfo::paused)
        .forEach(m -> attention.add(m.id() + " is paused (" + m.reason() + ")"));
    for (NodeInfo node : nodes) {
      if (!node.note().isEmpty()) {
        (node.stopped() ? attention : notes).add(node.id() + ": " + node.note());
      }
    }
    String counts =
        running.isEmpty()
            ? "none running"
            : running.size()
                + " running ("
                + String.join(", ", running.stream().map(MigrationInfo::reason).distinct().toList())
                + ")";
    List<String> detail = new ArrayList<>(List.of(counts));
    detail.addAll(attention);
    detail.addAll(notes);
    return new Check(
        "migrations", attention.isEmpty() ? Status.OK : Status.WARN, String.join("; ", detail));
  }

  /**
   * How even the load is among UP nodes. WARN only for what waits for an operator: a load over the
   * balancer's threshold while the automatic balancer is off. With it on, the balancer evens the
   * load out by itself once the imbalance has lasted its window.
   */
  static Check balanceCheck(RebalancePlan plan) {
    RebalancePlan.Balancer balancer = plan.balancer();
    if (plan.loadBefore().size() < 2) {
      return new Check("balance", Status.OK, "fewer than 2 UP nodes: nothing to even out");
    }
    String most =
        Collections.max(plan.loadBefore().entrySet(), Map.Entry.comparingByValue()).getKey();
    String now =
        String.format(
            Locale.ROOT,
            "%s holds the most, %.2fx the mean by %s",
            most,
            plan.maxOverMeanBefore(),
            plan.metric());
    String limit = String.format(Locale.ROOT, "%.2fx", 1 + balancer.threshold());
    String auto = balancer.enabled() ? "" : " (the automatic balancer is off)";
    if (!balancer.loadsCurrent()) {
      return new Check(
          "balance",
          Status.OK,
          now + "; key counts predate the last move, and nodes count again within seconds");
    }
    if (plan.maxOverMeanBefore() <= 1 + balancer.threshold()) {
      return new Check("balance", Status.OK, now + ", within the balancer's " + limit + auto);
    }
    if (plan.moves().isEmpty()) {
      // What it holds moves only whole (one heavy directory entry, say) and would overload another.
      return new Check(
          "balance", Status.OK, now + ", over " + limit + ", but no move would narrow it" + auto);
    }
    if (!balancer.overThreshold()) {
      return new Check(
          "balance",
          Status.OK,
          now + ", over " + limit + ", but by too little to be worth a move" + auto);
    }
    if (balancer.enabled()) {
      return new Check(
          "balance",
          Status.OK,
          String.format(
              Locale.ROOT,
              "%s, over %s: once that lasts %d s, the automatic balancer makes it %.2fx with %d"
                  + " move(s)",
              now,
              limit,
              balancer.window().toSeconds(),
              plan.maxOverMeanAfter(),
              plan.moves().size()));
    }
    return new Check(
        "balance",
        Status.WARN,
        String.format(
            Locale.ROOT,
            "%s, over %s, and the automatic balancer is off: `shardctl rebalance` would make it"
                + " %.2fx with %d move(s)",
            now,
            limit,
            plan.maxOverMeanAfter(),
            plan.moves().size()));
  }
}
