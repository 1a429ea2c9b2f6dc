package io.shardcluster.client;

// Over 500 lines: the public operator API, a documented method per command; the work is on the
// coordinator.

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.NotLeaderException;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.AdminGrpc;
import io.shardcluster.proto.v1.CreateKeyspaceRequest;
import io.shardcluster.proto.v1.DirectoryChangeResponse;
import io.shardcluster.proto.v1.DrainNodeRequest;
import io.shardcluster.proto.v1.DropKeyspaceRequest;
import io.shardcluster.proto.v1.GetRoutingTableRequest;
import io.shardcluster.proto.v1.GetStatsRequest;
import io.shardcluster.proto.v1.GroupEntry;
import io.shardcluster.proto.v1.ListGroupsRequest;
import io.shardcluster.proto.v1.ListGroupsResponse;
import io.shardcluster.proto.v1.ListKeyspacesRequest;
import io.shardcluster.proto.v1.ListMigrationsRequest;
import io.shardcluster.proto.v1.ListNodesRequest;
import io.shardcluster.proto.v1.ListNodesResponse;
import io.shardcluster.proto.v1.ListRepairsRequest;
import io.shardcluster.proto.v1.ListRepairsResponse;
import io.shardcluster.proto.v1.LookupGroupsRequest;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.MigrationIdRequest;
import io.shardcluster.proto.v1.MigrationPhase;
import io.shardcluster.proto.v1.MoveDirectoryEntryRequest;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.proto.v1.NodeStatus;
import io.shardcluster.proto.v1.PinLeaderRequest;
import io.shardcluster.proto.v1.RebalancePlanProto;
import io.shardcluster.proto.v1.RebalanceRequest;
import io.shardcluster.proto.v1.RemoveDirectoryEntryRequest;
import io.shardcluster.proto.v1.RemoveNodeRequest;
import io.shardcluster.proto.v1.RemoveNodeResponse;
import io.shardcluster.proto.v1.ReplaceReplicaRequest;
import io.shardcluster.proto.v1.ReplicasGrpc;
import io.shardcluster.proto.v1.RoutingGrpc;
import io.shardcluster.proto.v1.SetDirectoryEntryRequest;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.proto.v1.SplitRangeRequest;
import io.shardcluster.proto.v1.StrategyProto;
import io.shardcluster.proto.v1.TransactionsGrpc;
import io.shardcluster.proto.v1.TransferLeaderRequest;
import io.shardcluster.proto.v1.TxnInfoProto;
import io.shardcluster.proto.v1.TxnListRequest;
import io.shardcluster.proto.v1.TxnListResponse;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.rpc.Limits;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.rpc.StatusErrors;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Operator commands, sent to the coordinator. Obtain it from {@link ShardClient#admin()}. Each
 * method blocks for one call and fails with a {@link ShardClusterException} naming what was wrong;
 * UNAVAILABLE names the coordinator if it cannot be reached.
 */
public final class ClusterAdmin {
  // How long a call waits for the channel to a coordinator that failed before to reconnect.
  private static final long RECONNECT_WAIT_MILLIS = 500;

  private final NodeChannels channels;
  private final ManagedChannel coordinator;
  private final String coordinatorAddress;
  private final Duration timeout;

  ClusterAdmin(NodeChannels channels, String coordinatorAddress, Duration timeout) {
    this.channels = channels;
    this.coordinator = channels.channel(coordinatorAddress);
    this.coordinatorAddress = coordinatorAddress;
    this.timeout = timeout;
  }

  /** The cluster's epoch and every member node with its state and load. */
  public Nodes nodes() {
    ListNodesResponse response =
        call(() -> stub().listNodes(ListNodesRequest.getDefaultInstance()));
    return new Nodes(
        response.getEpoch(),
        response.getNodesList().stream().map(ClusterAdmin::toInfo).toList(),
        response.getClusterId(),
        List.copyOf(response.getRefusedRegistrationsList()));
  }

  /**
   * The member nodes and the epoch they were read at.
   *
   * @param epoch the routing epoch
   * @param nodes the members
   * @param clusterId the cluster's id, which every node saves when it first registers
   * @param refusedRegistrations registrations the coordinator refused lately because the node
   *     belongs to another cluster (a coordinator started on lost metadata), one line each
   */
  public record Nodes(
      long epoch, List<NodeInfo> nodes, String clusterId, List<String> refusedRegistrations) {}

  /**
   * Checks the cluster as an operator would before trusting it (see {@link ClusterHealth}): the
   * coordinator answers; no member is DOWN; every node the coordinator hears from answers this
   * client at its address; every key's owner is up; no migration waits for an operator; the load is
   * even, or the automatic balancer will even it out. An unreachable coordinator or node is a
   * failed check, not an exception.
   */
  public ClusterHealth health() {
    Nodes members;
    io.shardcluster.routing.RoutingTable table;
    List<KeyspaceInfo> spaces;
    List<MigrationInfo> recent;
    RebalancePlan balance;
    Repairs repairs;
    try {
      members = nodes();
      table =
          RoutingTables.fromProto(
              call(
                  () ->
                      RoutingGrpc.newBlockingStub(coordinator)
                          .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
                          .getRoutingTable(GetRoutingTableRequest.getDefaultInstance())));
      spaces = keyspaces();
      recent = migrations(true);
      balance = rebalance(true);
      repairs = repairs();
    } catch (ShardClusterException e) {
      if (e.code() == ErrorCode.UNAVAILABLE || e.code() == ErrorCode.DEADLINE_EXCEEDED) {
        return ClusterHealth.coordinatorUnreachable(e.getMessage());
      }
      throw e;
    }
    long start = System.nanoTime();
    Map<NodeInfo, ListenableFuture<NodeStats>> asked = new LinkedHashMap<>();
    for (NodeInfo node : members.nodes()) {
      if (ClusterHealth.answers(node)) {
        asked.put(
            node,
            ShardNodeGrpc.newFutureStub(channels.channel(node.address()))
                .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
                .getStats(GetStatsRequest.getDefaultInstance()));
      }
    }
    Map<String, String> unanswered = new TreeMap<>();
    for (var ask : asked.entrySet()) {
      try {
        ask.getValue().get();
      } catch (ExecutionException e) {
        unanswered.put(
            ask.getKey().id(),
            "at "
                + ask.getKey().address()
                + " is unreachable: "
                + StatusErrors.fromStatus(e.getCause() != null ? e.getCause() : e).getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ShardClusterException.unavailable("interrupted while checking the nodes");
      }
    }
    double slowestMillis = (System.nanoTime() - start) / 1e6;
    return ClusterHealth.judge(
        coordinatorAddress,
        table,
        members.nodes(),
        members.refusedRegistrations(),
        spaces,
        recent,
        balance,
        repairs,
        unanswered,
        slowestMillis);
  }

  /**
   * A transaction as one node sees it: {@code active} (read locks only), {@code prepared} (intents
   * written, waiting for the commit), or {@code committed} (its record, on this node, still has
   * participants to resolve).
   *
   * @param id the first 8 bytes of its id in hex, as {@link Transaction#id()} gives it
   * @param primary whether this node holds its record
   * @param participants for a record: the keys elsewhere still to resolve, as keyspace/key
   */
  public record TransactionInfo(
      String id,
      String node,
      String state,
      Duration age,
      int locks,
      boolean primary,
      List<String> participants) {}

  // A configuration change waits for the new configuration to commit through the log.
  private static final Duration REPLACE_TIMEOUT = Duration.ofSeconds(30);

  /**
   * Replaces a member of a node's replica group by a new process, through the group's leader (a
   * Raft configuration change). Start the new process first, with the group's new peer list (the
   * old member left out, the new one in): once the change commits it installs the leader's store
   * and catches up. Returns the group's members then, as {@code ID@HOST:PORT/RAFTPORT}.
   *
   * @param newPeer the new process, {@code ID@HOST:PORT/RAFTPORT}
   */
  public List<String> replaceReplica(String node, String oldReplica, String newPeer) {
    return atLeader(
        node,
        REPLACE_TIMEOUT,
        leader ->
            leader
                .replaceReplica(
                    ReplaceReplicaRequest.newBuilder()
                        .setOldReplica(oldReplica)
                        .setNewPeer(newPeer)
                        .build())
                .getMembersList());
  }

  /**
   * Hands the leadership of a node's replica group to its member {@code replica} (a Raft leadership
   * transfer: the leader brings it up to date, then it starts an election at once); returns once it
   * leads. A pinned leader ({@link #pinLeader}) is moved back into its zone.
   */
  public void transferLeader(String node, String replica) {
    var unused =
        atLeader(
            node,
            REPLACE_TIMEOUT,
            leader ->
                leader.transferLeader(
                    TransferLeaderRequest.newBuilder().setReplicaId(replica).build()));
  }

  /**
   * Pins a node's replica group's leader to a zone: while a member there is live and caught up, the
   * coordinator hands it the leadership (within seconds, and again after a failover moved it away).
   * An empty zone unpins it. Kept by the coordinator across restarts; shown by {@link #nodes()} as
   * {@link NodeInfo#leaderZone()}.
   */
  public void pinLeader(String node, String zone) {
    var unused =
        call(
            () ->
                stub()
                    .pinLeader(
                        PinLeaderRequest.newBuilder().setNodeId(node).setZone(zone).build()));
  }

  /** Calls the leader of the node's replica group, following a not-leader answer's hint. */
  private <T> T atLeader(
      String node,
      Duration timeout,
      java.util.function.Function<ReplicasGrpc.ReplicasBlockingStub, T> call) {
    NodeInfo info =
        nodes().nodes().stream()
            .filter(candidate -> candidate.id().equals(node))
            .findFirst()
            .orElseThrow(() -> new ShardClusterException(ErrorCode.NOT_FOUND, "no node " + node));
    if (info.replicas().isEmpty()) {
      throw new ShardClusterException(
          ErrorCode.FAILED_PRECONDITION,
          node + " is one process, not a replica group: it has no replicas");
    }
    String address = info.address();
    for (int attempt = 0; ; attempt++) {
      try {
        return call.apply(
            ReplicasGrpc.newBlockingStub(channels.channel(address))
                .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS));
      } catch (RuntimeException e) {
        ShardClusterException error = StatusErrors.fromStatus(e);
        if (error instanceof NotLeaderException notLeader
            && notLeader.leaderAddress().isPresent()
            && attempt < 3) {
          address = notLeader.leaderAddress().get();
          continue;
        }
        throw error;
      }
    }
  }

  /**
   * A replica of a group replaced by a spare after it stayed down past the coordinator's {@code
   * --replace-after}.
   *
   * @param phase ADOPTING (the spare takes its place), CATCHING_UP (it installs the leader's store
   *     and catches up; the group's configuration changes once it has), DONE or FAILED
   * @param error why it failed; empty otherwise
   * @param ended when it ended; empty while it runs
   * @param lag while catching up: log entries the new replica is behind the leader
   */
  public record RepairInfo(
      String node,
      String deadReplica,
      String newReplica,
      String spareAddress,
      String phase,
      String error,
      java.time.Instant started,
      Optional<java.time.Instant> ended,
      long lag) {}

  /** A spare process on offer (shard-node --spare), and how long ago it offered itself. */
  public record SpareInfo(String address, String zone, Duration sinceHeard) {}

  /**
   * The repairs since the coordinator started, latest first, the spares on offer, and how long a
   * replica may stay down before it is replaced (zero: never).
   */
  public record Repairs(List<RepairInfo> repairs, List<SpareInfo> spares, Duration replaceAfter) {}

  /** The coordinator's repairs of replica groups, and the spares it can take for them. */
  public Repairs repairs() {
    ListRepairsResponse response =
        call(() -> stub().listRepairs(ListRepairsRequest.getDefaultInstance()));
    return new Repairs(
        response.getRepairsList().stream()
            .map(
                r ->
                    new RepairInfo(
                        r.getNodeId(),
                        r.getDeadReplica(),
                        r.getNewReplica(),
                        r.getSpareAddress(),
                        r.getPhase(),
                        r.getError(),
                        java.time.Instant.ofEpochMilli(r.getStartedAtMillis()),
                        r.getEndedAtMillis() == 0
                            ? Optional.empty()
                            : Optional.of(java.time.Instant.ofEpochMilli(r.getEndedAtMillis())),
                        r.getLag()))
            .toList(),
        response.getSparesList().stream()
            .map(
                s ->
                    new SpareInfo(
                        s.getAddress(), s.getZone(), Duration.ofMillis(s.getMillisSinceHeard())))
            .toList(),
        Duration.ofMillis(response.getReplaceAfterMillis()));
  }

  /**
   * The transactions holding locks or records on the nodes, oldest first: in flight, or left by a
   * client that died (the nodes resolve those once they expire). Nodes that do not answer are
   * skipped.
   */
  public List<TransactionInfo> transactions() {
    List<TransactionInfo> all = new ArrayList<>();
    for (NodeInfo node : nodes().nodes()) {
      if (!ClusterHealth.answers(node)) {
        continue;
      }
      TxnListResponse response;
      try {
        response =
            TransactionsGrpc.newBlockingStub(channels.channel(node.address()))
                .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
                .txnList(TxnListRequest.getDefaultInstance());
      } catch (RuntimeException e) {
        continue;
      }
      for (TxnInfoProto info : response.getTransactionsList()) {
        List<String> participants = new ArrayList<>();
        info.getParticipantsList()
            .forEach(
                key -> participants.add(key.getKeyspace() + "/" + key.getKey().toStringUtf8()));
        StringBuilder id = new StringBuilder();
        for (int i = 0; i < Math.min(8, info.getId().size()); i++) {
          id.append(String.format("%02x", info.getId().byteAt(i)));
        }
        all.add(
            new TransactionInfo(
                id.toString(),
                info.getNode(),
                info.getState(),
                Duration.ofMillis(info.getAgeMillis()),
                info.getLocks(),
                info.getPrimary(),
                List.copyOf(participants)));
      }
    }
    all.sort(Comparator.comparing(TransactionInfo::age).reversed());
    return all;
  }

  /**
   * Places a key ({@code prefix == false}) or every key with the prefix on a node, overriding the
   * ring. Keys it covers that other nodes own move to {@code node} online, with one migration from
   * each such node; they commit together, and their commit sets the entry, so a write racing with
   * the placement is never left behind on the old owner. When no key it covers is stored, this
   * returns once they have committed ({@link DirectoryChange#inEffect()}); otherwise at once, with
   * the migrations still running. FAILED_PRECONDITION while other migrations run or if a node keys
   * would move from is DOWN; NOT_FOUND for an unknown node.
   */
  public DirectoryChange setDirectoryEntry(byte[] key, boolean prefix, String node) {
    Limits.checkKey(key.length);
    DirectoryEntry entry = new DirectoryEntry(ByteString.copyFrom(key), prefix, node);
    DirectoryChangeResponse response =
        call(
            () ->
                stub()
                    .setDirectoryEntry(
                        SetDirectoryEntryRequest.newBuilder()
                            .setKeyspace(Keyspace.DEFAULT)
                            .setEntry(RoutingTables.toProto(entry))
                            .build()));
    return new DirectoryChange(
        response.getEpoch(),
        response.getMigrationsList().stream().map(ClusterAdmin::toInfo).toList());
  }

  /**
   * Removes a directory entry. Keys it places that belong to other nodes without it move there
   * online, with one migration to each such node (the node of a shorter prefix entry or an exact
   * key's ring owner; every other node for a prefix the ring would spread); they commit together,
   * and their commit removes the entry. Returns as {@link #setDirectoryEntry} does. NOT_FOUND if
   * there is no such entry; FAILED_PRECONDITION while other migrations run or if the entry's node
   * is DOWN.
   */
  public DirectoryChange removeDirectoryEntry(byte[] key, boolean prefix) {
    Limits.checkKey(key.length);
    DirectoryChangeResponse response =
        call(
            () ->
                stub()
                    .removeDirectoryEntry(
                        RemoveDirectoryEntryRequest.newBuilder()
                            .setKeyspace(Keyspace.DEFAULT)
                            .setKey(ByteString.copyFrom(key))
                            .setPrefix(prefix)
                            .build()));
    return new DirectoryChange(
        response.getEpoch(),
        response.getMigrationsList().stream().map(ClusterAdmin::toInfo).toList());
  }

  /**
   * Moves the keys a directory entry of the keyspace places (in a directory keyspace: the keys of
   * the group {@code key}) to {@code target}, online, with one migration; the entry switches to the
   * target at the migration's commit. NOT_FOUND for an unknown keyspace, entry or node;
   * FAILED_PRECONDITION if the node is not UP or already holds the entry, or while other migrations
   * run. Returns the migration.
   */
  public MigrationInfo moveDirectoryEntry(
      String keyspace, byte[] key, boolean prefix, String target) {
    Limits.checkKey(key.length);
    return toInfo(
        call(
            () ->
                stub()
                    .moveDirectoryEntry(
                        MoveDirectoryEntryRequest.newBuilder()
                            .setKeyspace(keyspace)
                            .setKey(ByteString.copyFrom(key))
                            .setPrefix(prefix)
                            .setTarget(target)
                            .build())));
  }

  /**
   * A keyspace as the coordinator lists it.
   *
   * @param separator what ends a group, in a directory keyspace (else empty)
   * @param groups group entries, in a directory keyspace
   * @param groupsPerNode how many of those groups each node holds
   */
  public record KeyspaceInfo(
      String name,
      String strategy,
      int intervals,
      int directoryEntries,
      String separator,
      long groups,
      Map<String, Long> groupsPerNode) {}

  /**
   * Creates a keyspace. {@code strategy} is {@code hash} (spread over the UP nodes by key hash),
   * {@code range} (one range) or {@code directory} (groups end at ':' and are placed as they are
   * first written). ALREADY_EXISTS if the name is taken; FAILED_PRECONDITION if a dropped keyspace
   * had the name (names are never reused) or while migrations run. Returns the new epoch.
   */
  public long createKeyspace(String name, String strategy) {
    return createKeyspace(name, strategy, List.of());
  }

  /**
   * Creates a keyspace; a range keyspace's ranges start at the empty key and at each of {@code
   * splitAt}, dealt out to the UP nodes in turn.
   */
  public long createKeyspace(String name, String strategy, List<byte[]> splitAt) {
    return createKeyspace(name, strategy, splitAt, null);
  }

  /**
   * Creates a keyspace; in a directory keyspace a key's group ends at {@code separator} (null: ':';
   * empty: each key is its own group).
   */
  public long createKeyspace(
      String name, String strategy, List<byte[]> splitAt, byte @Nullable [] separator) {
    Keyspace.checkName(name);
    StrategyProto wire =
        switch (strategy) {
          case "hash" -> StrategyProto.HASH;
          case "range" -> StrategyProto.RANGE;
          case "directory" -> StrategyProto.DIRECTORY;
          default ->
              throw ShardClusterException.invalidArgument(
                  "unknown strategy '" + strategy + "'; choose hash, range or directory");
        };
    return call(() ->
            stub()
                .createKeyspace(
                    CreateKeyspaceRequest.newBuilder()
                        .setName(name)
                        .setStrategy(wire)
                        .addAllSplitAt(splitAt.stream().map(ByteString::copyFrom).toList())
                        .mergeFrom(
                            separator == null
                                ? CreateKeyspaceRequest.getDefaultInstance()
                                : CreateKeyspaceRequest.newBuilder()
                                    .setSeparator(ByteString.copyFrom(separator))
                                    .build())
                        .build()))
        .getEpoch();
  }

  /** One page of a directory keyspace's group entries, in group order. */
  public record GroupPage(long epoch, long total, List<GroupInfo> groups) {}

  /** A group of a directory keyspace and the node it is placed on. */
  public record GroupInfo(byte[] group, String owner) {}

  /**
   * Group entries of a directory keyspace after {@code startAfter} (empty: from the first), at most
   * {@code limit}. FAILED_PRECONDITION for a keyspace that is not a directory keyspace.
   */
  public GroupPage groups(String keyspace, byte[] startAfter, int limit) {
    ShardClusterException.requireArgument(limit >= 1, "limit must be at least 1");
    ListGroupsResponse response =
        call(
            () ->
                stub()
                    .listGroups(
                        ListGroupsRequest.newBuilder()
                            .setKeyspace(keyspace)
                            .setStartAfter(ByteString.copyFrom(startAfter))
                            .setLimit(limit)
                            .build()));
    return new GroupPage(
        response.getEpoch(),
        response.getTotal(),
        response.getEntriesList().stream()
            .map(e -> new GroupInfo(e.getGroup().toByteArray(), e.getOwner()))
            .toList());
  }

  /**
   * The node a group of a directory keyspace is placed on; empty if the group has no entry (it has
   * never been written).
   */
  public Optional<String> groupOwner(String keyspace, byte[] group) {
    String owner = lookupGroups(keyspace, List.of(group), false).get(0);
    return owner.isEmpty() ? Optional.empty() : Optional.of(owner);
  }

  /**
   * The owners of groups of a directory keyspace, in the order asked ("" for a group without an
   * entry), straight from the coordinator; with {@code place}, groups without an entry are placed
   * first, each on the UP node with the fewest groups.
   */
  public List<String> lookupGroups(String keyspace, List<byte[]> groups, boolean place) {
    LookupGroupsRequest.Builder request =
        LookupGroupsRequest.newBuilder().setKeyspace(keyspace).setPlace(place);
    for (byte[] group : groups) {
      Limits.checkKey(group.length);
      request.addGroups(ByteString.copyFrom(group));
    }
    return call(
            () ->
                RoutingGrpc.newBlockingStub(coordinator)
                    .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
                    .lookupGroups(request.build()))
        .getEntriesList()
        .stream()
        .map(GroupEntry::getOwner)
        .toList();
  }

  /**
   * Splits the range of a range keyspace that holds {@code at} there; both halves stay on its node.
   * INVALID_ARGUMENT if a range starts there already; FAILED_PRECONDITION for a hash keyspace or
   * while migrations run. Returns the new epoch.
   */
  public long splitRange(String keyspace, byte[] at) {
    Limits.checkKey(at.length);
    return call(() ->
            stub()
                .splitRange(
                    SplitRangeRequest.newBuilder()
                        .setKeyspace(keyspace)
                        .setAt(ByteString.copyFrom(at))
                        .build()))
        .getEpoch();
  }

  /**
   * Drops a keyspace: it leaves routing at once and the nodes delete its keys. NOT_FOUND for an
   * unknown keyspace; FAILED_PRECONDITION for the default keyspace or while migrations run. Returns
   * the new epoch.
   */
  public long dropKeyspace(String name) {
    return call(() -> stub().dropKeyspace(DropKeyspaceRequest.newBuilder().setName(name).build()))
        .getEpoch();
  }

  /** Every keyspace, sorted by name. */
  public List<KeyspaceInfo> keyspaces() {
    return call(() -> stub().listKeyspaces(ListKeyspacesRequest.getDefaultInstance()))
        .getKeyspacesList()
        .stream()
        .map(
            k ->
                new KeyspaceInfo(
                    k.getName(),
                    k.getStrategy().name().toLowerCase(Locale.ROOT),
                    k.getIntervals(),
                    k.getDirectoryEntries(),
                    k.getSeparator().toStringUtf8(),
                    k.getGroups(),
                    new TreeMap<>(k.getGroupsPerNodeMap())))
        .toList();
  }

  /**
   * Starts moving all of the node's keys to the other nodes; when that is done the node is REMOVED
   * and its process may be stopped. Returns the migrations started. NOT_FOUND for an unknown node;
   * FAILED_PRECONDITION for the last node, or while other migrations run.
   */
  public List<MigrationInfo> drain(String node) {
    return call(() -> stub().drainNode(DrainNodeRequest.newBuilder().setNodeId(node).build()))
        .getMigrationsList()
        .stream()
        .map(ClusterAdmin::toInfo)
        .toList();
  }

  /** The outcome of a forced removal: what the removed node owned is now lost. */
  public record RemovedNode(long epoch, double shareLost, int directoryEntriesReassigned) {}

  /**
   * Gives a node that is gone for good its ring intervals and directory entries to the others,
   * without moving data: the keys it held are lost. Requires {@code force}.
   */
  public RemovedNode removeNode(String node, boolean force) {
    RemoveNodeResponse response =
        call(
            () ->
                stub()
                    .removeNode(
                        RemoveNodeRequest.newBuilder().setNodeId(node).setForce(force).build()));
    return new RemovedNode(
        response.getEpoch(), response.getShareLost(), response.getDirectoryEntriesReassigned());
  }

  /** Plans moves that even out the load; unless {@code dryRun}, starts them. */
  public RebalancePlan rebalance(boolean dryRun) {
    RebalancePlanProto plan =
        call(() -> stub().rebalance(RebalanceRequest.newBuilder().setDryRun(dryRun).build()));
    return new RebalancePlan(
        plan.getMetric(),
        plan.getMaxOverMeanBefore(),
        plan.getMaxOverMeanAfter(),
        plan.getMovesList().stream()
            .map(
                m ->
                    new RebalancePlan.Move(
                        m.getSource(), m.getTarget(), m.getDescription(), m.getLoad()))
            .toList(),
        new TreeMap<>(plan.getLoadBeforeMap()),
        new TreeMap<>(plan.getLoadAfterMap()),
        plan.getStartedList(),
        new RebalancePlan.Balancer(
            plan.getBalancer().getEnabled(),
            plan.getBalancer().getThreshold(),
            Duration.ofMillis(plan.getBalancer().getWindowMs()),
            plan.getBalancer().getOverThreshold(),
            plan.getBalancer().getLoadsCurrent()));
  }

  /** Migrations that have not ended, or all recent ones. */
  public List<MigrationInfo> migrations(boolean all) {
    return call(() -> stub().listMigrations(ListMigrationsRequest.newBuilder().setAll(all).build()))
        .getMigrationsList()
        .stream()
        .map(ClusterAdmin::toInfo)
        .toList();
  }

  /** Pauses a migration between steps; NOT_FOUND for an unknown one. */
  public MigrationInfo pauseMigration(String id) {
    return toInfo(call(() -> stub().pauseMigration(migration(id))));
  }

  /** Resumes a paused migration. */
  public MigrationInfo resumeMigration(String id) {
    return toInfo(call(() -> stub().resumeMigration(migration(id))));
  }

  /** Rolls a migration back (before its commit); the keys stay where they were. */
  public MigrationInfo cancelMigration(String id) {
    return toInfo(call(() -> stub().cancelMigration(migration(id))));
  }

  private static MigrationIdRequest migration(String id) {
    return MigrationIdRequest.newBuilder().setId(id).build();
  }

  private static MigrationInfo toInfo(Migration m) {
    String what = RoutingTables.fromProto(m.getMoving()).toString();
    if (m.getRemovesCount() > 0) {
      // A removal moves the entry's keys in the target's ranges, or all of them.
      String removed =
          String.join(
              ", ",
              m.getRemovesList().stream()
                  .map(e -> (e.getPrefix() ? "prefix " : "key ") + e.getKey().toStringUtf8())
                  .toList());
      what =
          removed
              + " (removed)"
              + (m.getMoving().getRangesCount() > 0 ? ", its keys in " + what : "");
    }
    return new MigrationInfo(
        m.getId(),
        m.getSource(),
        m.getTarget(),
        what,
        m.getShare(),
        m.getPhase().name(),
        m.getPaused(),
        m.getReason(),
        Math.max(1, m.getAttempt()),
        m.getKeysCopied(),
        m.getBytesCopied(),
        m.getChangesApplied(),
        m.getEstimatedKeys(),
        m.getKeysPerSec(),
        m.getBytesPerSec(),
        m.getEtaSeconds(),
        m.getLastError(),
        m.getCreatedMs(),
        m.getCommittedMs(),
        m.getFinishedMs(),
        m.getPhase() == MigrationPhase.CANCELLED && m.getRetryable(),
        m.getSuperseded(),
        m.getGroup(),
        m.getLatestOfEntry(),
        m.getCopyRateLimit(),
        m.getPace());
  }

  private AdminGrpc.AdminBlockingStub stub() {
    return AdminGrpc.newBlockingStub(coordinator)
        .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private <T> T call(Supplier<T> rpc) {
    // A channel that failed to connect fails every call with that old failure until gRPC's
    // reconnect backoff ends (seconds, growing while the coordinator was down): a coordinator that
    // has restarted since is reconnected to first (a bounded wait, skipped for one found dead
    // just now).
    if (coordinator.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
      channels.reconnect(coordinatorAddress, RECONNECT_WAIT_MILLIS).join();
    }
    try {
      return rpc.get();
    } catch (RuntimeException e) {
      ShardClusterException error = StatusErrors.fromStatus(e);
      if (error.code() == ErrorCode.UNAVAILABLE || error.code() == ErrorCode.DEADLINE_EXCEEDED) {
        throw new ShardClusterException(
            error.code(),
            "coordinator at " + coordinatorAddress + " is unreachable: " + error.getMessage(),
            e);
      }
      throw error;
    }
  }

  private static NodeInfo toInfo(NodeStatus status) {
    NodeStats stats = status.getStats();
    return new NodeInfo(
        status.getId(),
        status.getAddress(),
        NodeState.valueOf(status.getState().name()),
        // Unset by a coordinator older than the field: its state is all there is.
        NodeState.valueOf(
            (status.getMemberStateValue() == 0 ? status.getState() : status.getMemberState())
                .name()),
        status.getShare(),
        status.getIntervals(),
        stats.getKeys(),
        stats.getBytes(),
        stats.getKeysStale(),
        stats.getReadsPerSec(),
        stats.getWritesPerSec(),
        stats.getReadP99Ms(),
        stats.getWriteP99Ms(),
        status.getMillisSinceHeartbeat(),
        status.getNote(),
        status.getStopped(),
        stats.getStorageFaults(),
        stats.getStorageFault(),
        stats.getWriteFault(),
        status.getReplicasList().stream()
            .map(
                replica ->
                    new ReplicaInfo(
                        replica.getReplicaId(),
                        replica.getAddress(),
                        replica.getLeader(),
                        replica.getTerm(),
                        replica.getAppliedIndex(),
                        replica.getLag(),
                        replica.getMillisSinceHeartbeat(),
                        replica.getHeard(),
                        replica.getZone()))
            .toList(),
        status.getLeaderZone());
  }
}
