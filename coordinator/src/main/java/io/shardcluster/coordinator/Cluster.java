package io.shardcluster.coordinator;

// Over 500 lines: beside the persisted state it still holds membership, the keyspace catalog and
// directory placement; splitting those out is still to do.

import static io.shardcluster.errors.ShardClusterException.requireArgument;
import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.GroupEntry;
import io.shardcluster.proto.v1.LookupGroupsResponse;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.proto.v1.StrategyProto;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Grouping;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RangeAllocator;
import io.shardcluster.routing.RangeMap;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.routing.TokenAllocator;
import io.shardcluster.rpc.HostPort;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.rocksdb.RocksDBException;

/**
 * The coordinator's view of the cluster: members, routing, migrations and the epoch. Every change
 * goes through {@link #update}, which persists it (fsynced) before it is answered or published, and
 * gives it the next epoch if it changed the routing.
 */
final class Cluster {
  private static final Logger logger = Logger.getLogger(Cluster.class.getName());
  private static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

  private final MetadataStore store;
  private final Liveness liveness;
  private final DataProbe probe;
  private final GroupDirectory groups;
  private final List<Consumer<RoutingTable>> listeners = new CopyOnWriteArrayList<>();
  private final List<Runnable> membershipListeners = new CopyOnWriteArrayList<>();

  // Written only under the lock, after the new state is saved; read without it, so that readers
  // (routing fetches, heartbeats, status) never wait for an fsync in progress.
  private volatile ClusterState state;

  /**
   * A member as operators see it: its recorded state ({@code recorded}: JOINING, UP, DRAINING or
   * REMOVED), overlaid with liveness ({@code state}: DOWN while it is silent).
   */
  record Member(
      String id,
      String address,
      NodeStateProto state,
      NodeStateProto recorded,
      double share,
      int intervals,
      Optional<Liveness.Heartbeat> lastHeartbeat) {}

  private Cluster(
      MetadataStore store,
      Liveness liveness,
      DataProbe probe,
      GroupDirectory groups,
      ClusterState state) {
    this.store = store;
    this.liveness = liveness;
    this.probe = probe;
    this.groups = groups;
    this.state = state;
  }

  /** The cluster as saved in the store, or a new one (saved at once). */
  static Cluster open(MetadataStore store, Liveness liveness, DataProbe probe) {
    try {
      Optional<ClusterState> saved = store.load();
      ClusterState state = saved.orElseGet(ClusterState::initial);
      if (saved.isEmpty()) {
        store.save(state);
      }
      GroupDirectory groups = new GroupDirectory();
      long start = System.nanoTime();
      store.loadGroups(groups);
      long loaded =
          state.routing().keyspaces().values().stream()
              .filter(Keyspace::isDirectory)
              .mapToLong(k -> groups.size(k.name()))
              .sum();
      if (loaded > 0) {
        logger.info(
            "loaded "
                + loaded
                + " directory entries in "
                + (System.nanoTime() - start) / 1_000_000
                + " ms");
      }
      return new Cluster(store, liveness, probe, groups, state);
    } catch (RocksDBException e) {
      throw storeFailed(e);
    }
  }

  /** The last saved state. */
  ClusterState state() {
    return state;
  }

  RoutingTable routing() {
    return state().routing();
  }

  /** Calls the listener with every new routing table, after it is persisted. */
  void addListener(Consumer<RoutingTable> listener) {
    listeners.add(listener);
  }

  /** Calls the listener after a node registers or changes state. */
  void addMembershipListener(Runnable listener) {
    membershipListeners.add(listener);
  }

  /** The entries of the directory keyspaces. */
  GroupDirectory groups() {
    return groups;
  }

  /**
   * Waits until the state passes the test, at most {@code timeoutMs}; returns the state then (which
   * may not pass it, after the timeout).
   */
  synchronized ClusterState awaitState(Predicate<ClusterState> test, long timeoutMs)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (!test.test(state)) {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (left <= 0) {
        break;
      }
      wait(left);
    }
    return state;
  }

  /**
   * Applies a change: persists the new state, then publishes its routing if that changed. Returns
   * the new state. The change runs under the cluster's lock: keep it quick, no I/O.
   */
  ClusterState update(UnaryOperator<ClusterState> change) {
    return update(change, List.of());
  }

  /**
   * Applies a change as {@link #update(UnaryOperator)} does; if it changed anything, the moves'
   * directory-keyspace groups change owner with it, in the same atomic write.
   */
  // A change that returns the very state it was given changed nothing.
  @SuppressWarnings("ReferenceEquality")
  ClusterState update(UnaryOperator<ClusterState> change, List<GroupDirectory.Move> moves) {
    ClusterState before;
    ClusterState after;
    synchronized (this) {
      before = state;
      after = change.apply(before);
      if (after == before) {
        return after;
      }
      // One change, one epoch: however many parts of the routing it touched.
      after =
          after.routing().sameRouting(before.routing())
              ? after.withEpoch(before.epoch())
              : after.withEpoch(before.epoch() + 1);
      GroupDirectory.Changes changes = groupChanges(before, after, moves);
      try {
        store.save(after, changes);
      } catch (RocksDBException e) {
        throw storeFailed(e);
      }
      // Entries first: a lookup reads the epoch, then the entry, so it never pairs an old owner
      // with the new epoch.
      groups.apply(changes);
      state = after;
      notifyAll();
    }
    if (after.epoch() != before.epoch()) {
      for (Consumer<RoutingTable> listener : listeners) {
        listener.accept(after.routing());
      }
    }
    return after;
  }

  /**
   * Admits a node. A new id joins: the first node takes the whole ring at once, later ones are
   * JOINING until migrations hand them their share. A known id with the same instance is a restart
   * (its address may have changed). Returns the routing table to use.
   */
  RoutingTable register(String node, String address, String instance) {
    checkNodeId(node);
    HostPort.parse(address);
    requireArgument(instance != null && !instance.isBlank(), "instance id must not be empty");
    ClusterState after =
        update(
            current -> {
              Optional<MemberRecord> known = current.member(node);
              if (known.isPresent()
                  && known.get().getState() == NodeStateProto.REMOVED
                  && known.get().getInstanceId().equals(instance)) {
                throw ShardClusterException.failedPrecondition(
                    "node "
                        + node
                        + " was removed from the cluster; to add it again, start it"
                        + " on a new data directory");
              }
              if (known.isPresent() && known.get().getState() != NodeStateProto.REMOVED) {
                MemberRecord member = known.get();
                if (!member.getInstanceId().equals(instance)) {
                  if (liveness.isUp(node)) {
                    throw ShardClusterException.alreadyExists(
                        "node id "
                            + node
                            + " is already in use by a live node at "
                            + member.getAddress());
                  }
                  throw ShardClusterException.failedPrecondition(
                      "node id "
                          + node
                          + " belongs to another data directory (instance "
                          + member.getInstanceId()
                          + "); start "
                          + node
                          + " on its own data directory, or remove it first");
                }
                if (member.getAddress().equals(address)) {
                  return current;
                }
                logger.info(node + " re-registered at " + address);
                return current.withMember(member.toBuilder().setAddress(address).build());
              }
              MemberRecord joining =
                  MemberRecord.newBuilder()
                      .setId(node)
                      .setAddress(address)
                      .setInstanceId(instance)
                      .setState(NodeStateProto.JOINING)
                      .build();
              if (current.routing().keyspace(Keyspace.DEFAULT).ring().isEmpty()) {
                logger.info(node + " joined at " + address + " as the first node");
                ClusterState first =
                    current.withMember(joining.toBuilder().setState(NodeStateProto.UP).build());
                for (Keyspace keyspace : current.routing().keyspaces().values()) {
                  if (!keyspace.isRange() && !keyspace.isDirectory()) {
                    first =
                        first.withKeyspace(
                            keyspace.withRing(HashRing.of(List.of(0L), List.of(node))));
                  }
                }
                return first;
              }
              logger.info(node + " is joining at " + address);
              return current.withMember(joining);
            });
    liveness.heartbeat(node, NodeStats.getDefaultInstance());
    membershipListeners.forEach(Runnable::run);
    return after.routing();
  }

  /**
   * Records a heartbeat and returns the current state. NOT_FOUND if the node is not a member under
   * this instance id (it should register).
   */
  ClusterState heartbeat(String node, String instance, NodeStats stats) {
    ClusterState current = state();
    Optional<MemberRecord> member = current.member(node);
    if (member.isPresent()
        && member.get().getState() == NodeStateProto.REMOVED
        && member.get().getInstanceId().equals(instance)) {
      throw ShardClusterException.failedPrecondition(
          "node " + node + " has been removed from the cluster");
    }
    if (member.isEmpty()
        || member.get().getState() == NodeStateProto.REMOVED
        || !member.get().getInstanceId().equals(instance)) {
      throw ShardClusterException.notFound("node " + node + " is not a member; register first");
    }
    liveness.heartbeat(node, stats);
    return current;
  }

  private GroupDirectory.Changes groupChanges(
      ClusterState before, ClusterState after, List<GroupDirectory.Move> moves) {
    GroupDirectory.Changes moved =
        moves.isEmpty() ? GroupDirectory.Changes.NONE : groups.changesFor(moves);
    Set<String> dropped = new TreeSet<>();
    before
        .routing()
        .keyspaces()
        .forEach(
            (name, keyspace) -> {
              if (keyspace.isDirectory() && !after.routing().keyspaces().containsKey(name)) {
                dropped.add(name);
              }
            });
    return dropped.isEmpty() ? moved : new GroupDirectory.Changes(moved.owners(), dropped);
  }

  /**
   * The owners of groups of a directory keyspace; with {@code place}, groups without an entry are
   * first placed, each on the UP node with the fewest groups of the keyspace (ties: fewest keys of
   * it, then id), durably. Placement holds the cluster's lock, so concurrent placements of a group
   * agree.
   */
  // The same state object means no change was published while the owners were read.
  @SuppressWarnings("ReferenceEquality")
  LookupGroupsResponse lookupGroups(String keyspaceName, List<ByteString> asked, boolean place) {
    ClusterState current = state();
    Keyspace keyspace = current.routing().keyspace(keyspaceName);
    if (!keyspace.isDirectory()) {
      throw ShardClusterException.failedPrecondition(
          "keyspace " + keyspaceName + " is not a directory keyspace; it has no groups");
    }
    for (ByteString group : asked) {
      io.shardcluster.rpc.Limits.checkKey(group.size());
    }
    if (place && asked.stream().anyMatch(g -> groups.owner(keyspaceName, g) == null)) {
      placeGroups(keyspaceName, asked);
    }
    while (true) {
      current = state();
      LookupGroupsResponse.Builder response =
          LookupGroupsResponse.newBuilder()
              .setEpoch(current.epoch())
              .setDirectoryVersion(current.routing().keyspace(keyspaceName).grouping().version());
      for (ByteString group : asked) {
        String owner = groups.owner(keyspaceName, group);
        response.addEntries(
            GroupEntry.newBuilder().setGroup(group).setOwner(owner == null ? "" : owner));
      }
      // An owner read after a newer epoch was published may be newer than the epoch reported;
      // read again so that the answer holds at the epoch it names.
      if (state() == current) {
        return response.build();
      }
    }
  }

  private synchronized void placeGroups(String keyspaceName, List<ByteString> asked) {
    ClusterState current = state;
    current.routing().keyspace(keyspaceName);
    List<String> up =
        current.members().values().stream()
            .filter(m -> m.getState() == NodeStateProto.UP)
            .map(MemberRecord::getId)
            .toList();
    Map<String, Long> placed = new HashMap<>(groups.groupsPerOwner(keyspaceName));
    Map<ByteString, String> owners = new LinkedHashMap<>();
    for (ByteString group : asked) {
      if (groups.owner(keyspaceName, group) != null || owners.containsKey(group)) {
        continue;
      }
      if (up.isEmpty()) {
        throw ShardClusterException.unavailable(
            "no shard node is UP to place group '" + group.toStringUtf8() + "' on");
      }
      String node =
          Collections.min(
              up,
              Comparator.<String>comparingLong(n -> placed.getOrDefault(n, 0L))
                  .thenComparingLong(n -> keyspaceKeys(n, keyspaceName))
                  .thenComparing(n -> n));
      owners.put(group, node);
      placed.merge(node, 1L, Long::sum);
    }
    if (owners.isEmpty()) {
      return;
    }
    GroupDirectory.Changes changes =
        new GroupDirectory.Changes(Map.of(keyspaceName, owners), Set.of());
    try {
      store.saveGroups(changes);
    } catch (RocksDBException e) {
      throw storeFailed(e);
    }
    groups.apply(changes);
  }

  private long keyspaceKeys(String node, String keyspace) {
    return liveness
        .lastHeartbeat(node)
        .map(h -> h.stats().getKeyspaceKeysOrDefault(keyspace, 0))
        .orElse(0L);
  }

  /**
   * A directory change of an entry: made at {@code epoch}, or, when {@code moves} is not empty,
   * left for the commit of migrations that move the keys whose owner it changes; {@code keysStored}
   * whether any key it moves was stored (on a node it moves keys from).
   */
  record Placement(long epoch, DirectoryEntry entry, List<Move> moves, boolean keysStored) {}

  /** Keys of a directory change moving from one node to another. */
  record Move(String source, String target, MovingSet moving) {}

  /**
   * Places a key or prefix on a node. Sets it at once when that changes no key's owner (every key
   * it covers belongs to that node already); otherwise sets nothing and returns the moves of its
   * keys to that node (see {@link Rebalancer#setDirectoryEntry}): from the one node that owns all
   * of them (an exact key, a prefix inside another prefix entry, an entry that exists), or from
   * every other node of the ring for a prefix the ring spreads. Even when no key is stored, writes
   * may arrive while the entry is placed: only a migration's fence keeps them from landing on the
   * old owner. FAILED_PRECONDITION if a node keys would move from is DOWN.
   */
  Placement setDirectoryEntry(String keyspaceName, DirectoryEntry entry) {
    RoutingTable before = routing();
    Keyspace keyspace = before.keyspace(keyspaceName);
    requireHashKeyspace(keyspace);
    if (!before.nodeAddresses().containsKey(entry.owner())) {
      throw ShardClusterException.notFound("no node named " + entry.owner());
    }
    if (keyspace.directory().get(entry.key(), entry.prefix()).equals(Optional.of(entry))) {
      return new Placement(before.epoch(), entry, List.of(), false);
    }
    MovingSet moving = new MovingSet(keyspaceName, List.of(), List.of(entry));
    List<Move> moves =
        otherOwners(keyspace.soleOwnerOf(entry), keyspace, entry.owner())
            .map(node -> new Move(node, entry.owner(), moving))
            .toList();
    return placement(
        before,
        keyspaceName,
        entry,
        "place",
        moves,
        ks -> ks.withDirectory(ks.directory().with(entry)));
  }

  /**
   * Removes a directory entry. Removes it at once when that changes no key's owner (without it the
   * ring, or a shorter prefix entry, puts its keys on the same node); otherwise removes nothing and
   * returns the moves of its keys from its node: to the one node that owns them all without it (a
   * key's ring owner, the node of a shorter prefix entry), or to every other node of the ring for a
   * prefix the ring would spread, each taking the keys that would be its own. NOT_FOUND if there is
   * no such entry; FAILED_PRECONDITION if its node is DOWN.
   */
  Placement removeDirectoryEntry(String keyspaceName, ByteString key, boolean prefix) {
    RoutingTable before = routing();
    Keyspace keyspace = before.keyspace(keyspaceName);
    requireHashKeyspace(keyspace);
    DirectoryEntry entry = keyspace.directory().existing(key, prefix);
    Keyspace without = keyspace.withDirectory(keyspace.directory().without(key, prefix));
    Optional<String> owner = without.soleOwnerOf(entry);
    // To the one node that owns them all without it, or to each other node of the ring: the keys
    // that would be its own without the entry, judged by the directory without it.
    List<Move> moves =
        otherOwners(owner, without, entry.owner())
            .map(
                node ->
                    new Move(
                        entry.owner(),
                        node,
                        owner.isPresent()
                            ? new MovingSet(keyspaceName, List.of(), List.of(entry))
                            : new MovingSet(keyspaceName, without.shareOf(node).ranges(), List.of())
                                .judgedBy(without.directory())))
            .toList();
    return placement(
        before,
        keyspaceName,
        entry,
        "remove",
        moves,
        ks -> ks.withDirectory(ks.directory().without(key, prefix)));
  }

  /**
   * The nodes besides {@code node} that an entry's keys move from or to: the one node that owns
   * them all, if there is one, else every node of the keyspace's ring.
   */
  private static Stream<String> otherOwners(
      Optional<String> soleOwner, Keyspace keyspace, String node) {
    return (soleOwner.isPresent()
            ? soleOwner.stream()
            : keyspace.ring().shares().keySet().stream().sorted())
        .filter(other -> !other.equals(node));
  }

  /**
   * A directory change: made at once ({@code atOnce}) when no key changes owner, else left to
   * migrations of the moves, whose source nodes must be up to move keys.
   */
  private Placement placement(
      RoutingTable before,
      String keyspaceName,
      DirectoryEntry entry,
      String change,
      List<Move> moves,
      UnaryOperator<Keyspace> atOnce) {
    if (moves.isEmpty()) {
      return new Placement(changeDirectory(before, keyspaceName, atOnce), entry, List.of(), false);
    }
    for (Move move : moves) {
      if (!liveness.isUp(move.source())) {
        throw ShardClusterException.failedPrecondition(
            "cannot "
                + change
                + " "
                + describe(entry)
                + ": its keys would move from "
                + move.source()
                + ", which is DOWN; start it again first");
      }
    }
    // Only the nodes the keys move from: a node that is DOWN elsewhere in the cluster does not
    // stop a change that does not concern it.
    boolean stored =
        moves.stream()
            .map(Move::source)
            .distinct()
            .anyMatch(
                node ->
                    probe.countKeys(
                            node,
                            requireNonNull(before.nodeAddresses().get(node)),
                            keyspaceName,
                            entry.key(),
                            entry.keyEnd())
                        > 0);
    return new Placement(before.epoch(), entry, moves, stored);
  }

  private static void requireHashKeyspace(Keyspace keyspace) {
    if (keyspace.isDirectory()) {
      throw ShardClusterException.failedPrecondition(
          "keyspace "
              + keyspace.name()
              + " is a directory keyspace: a group is placed by its first write, and moved with"
              + " `directory move`");
    }
    if (keyspace.isRange()) {
      throw ShardClusterException.failedPrecondition(
          "keyspace " + keyspace.name() + " is a range keyspace; it has no directory entries");
    }
  }

  private long changeDirectory(
      RoutingTable before, String keyspaceName, UnaryOperator<Keyspace> change) {
    return update(
            current -> {
              if (current.epoch() != before.epoch()) {
                throw ShardClusterException.unavailable(
                    "routing changed during the request; retry");
              }
              requireNoMigrations(current);
              return current.withKeyspace(change.apply(current.routing().keyspace(keyspaceName)));
            })
        .epoch();
  }

  /**
   * Creates a keyspace spread over the UP nodes: a hash keyspace as the default one is (the same
   * allocator), a range keyspace with ranges starting at the empty key and at each split key, dealt
   * out in turn, or a directory keyspace whose groups are placed as they are first written. Returns
   * the new epoch.
   *
   * @param separator what ends a group in a directory keyspace; null for the default
   */
  long createKeyspace(
      String name,
      StrategyProto strategy,
      List<byte[]> splitAt,
      @Nullable ByteString separator,
      int vnodes) {
    Keyspace.checkName(name);
    if (strategy == StrategyProto.STRATEGY_UNSPECIFIED || strategy == StrategyProto.UNRECOGNIZED) {
      throw ShardClusterException.invalidArgument(
          "a keyspace needs a strategy: hash, range or directory");
    }
    boolean range = strategy == StrategyProto.RANGE;
    if (!range && !splitAt.isEmpty()) {
      throw ShardClusterException.invalidArgument("split keys are for range keyspaces only");
    }
    if (strategy != StrategyProto.DIRECTORY && separator != null) {
      throw ShardClusterException.invalidArgument(
          "a group separator is for directory keyspaces only");
    }
    Grouping grouping =
        strategy == StrategyProto.DIRECTORY
            ? new Grouping(separator == null ? Grouping.DEFAULT_SEPARATOR : separator, 0)
            : null;
    TreeSet<byte[]> splits = new TreeSet<>(Arrays::compareUnsigned);
    for (byte[] key : splitAt) {
      io.shardcluster.rpc.Limits.checkKey(key.length);
      if (!splits.add(key)) {
        throw ShardClusterException.invalidArgument(
            "split key '" + new String(key, StandardCharsets.UTF_8) + "' is given twice");
      }
    }
    return update(
            current -> {
              if (current.routing().keyspaces().containsKey(name)) {
                throw ShardClusterException.alreadyExists("keyspace '" + name + "' already exists");
              }
              if (current.routing().droppedKeyspaces().contains(name)) {
                throw ShardClusterException.failedPrecondition(
                    "keyspace name '"
                        + name
                        + "' belonged to a dropped keyspace; names are not reused, choose another");
              }
              requireNoMigrations(current);
              if (grouping != null) {
                logger.info("directory keyspace " + name + " created");
                return current.withKeyspace(Keyspace.directory(name, grouping));
              }
              List<String> up =
                  current.members().values().stream()
                      .filter(m -> m.getState() == NodeStateProto.UP)
                      .map(MemberRecord::getId)
                      .toList();
              if (range) {
                if (up.isEmpty()) {
                  throw ShardClusterException.failedPrecondition(
                      "no node is UP to hold the ranges of " + name);
                }
                List<byte[]> starts = new ArrayList<>();
                starts.add(new byte[0]);
                starts.addAll(splits);
                logger.info("range keyspace " + name + " created: " + starts.size() + " range(s)");
                return current.withKeyspace(
                    Keyspace.range(name, RangeAllocator.spread(starts, up)));
              }
              HashRing ring = HashRing.empty();
              for (String node : up) {
                ring = TokenAllocator.join(ring, node, vnodes);
              }
              logger.info(
                  "keyspace " + name + " created over " + ring.shares().size() + " node(s)");
              return current.withKeyspace(Keyspace.hash(name).withRing(ring));
            })
        .epoch();
  }

  /** Splits the range holding {@code at} of a range keyspace there. Returns the new epoch. */
  long splitRange(String name, byte[] at) {
    io.shardcluster.rpc.Limits.checkKey(at.length);
    return update(
            current -> {
              Keyspace keyspace = current.routing().keyspace(name);
              if (!keyspace.isRange()) {
                throw ShardClusterException.failedPrecondition(
                    "keyspace "
                        + name
                        + " is a hash keyspace; only range keyspaces have ranges to split");
              }
              requireNoMigrations(current);
              RangeMap split = keyspace.ranges().split(at);
              logger.info(
                  "keyspace " + name + ": split at " + new String(at, StandardCharsets.UTF_8));
              return current.withKeyspace(keyspace.withRanges(split));
            })
        .epoch();
  }

  /** Drops a keyspace: it leaves routing and its nodes delete its keys. Returns the new epoch. */
  long dropKeyspace(String name) {
    return update(
            current -> {
              current.routing().keyspace(name);
              if (name.equals(Keyspace.DEFAULT)) {
                throw ShardClusterException.failedPrecondition(
                    "the default keyspace cannot be dropped");
              }
              requireNoMigrations(current);
              logger.info("keyspace " + name + " dropped");
              // Its directory changes that failures rolled back have nothing left to change.
              return RollbackRetries.supersede(
                  current.withoutKeyspace(name), RollbackRetries.unanswered(current, name));
            })
        .epoch();
  }

  /** FAILED_PRECONDITION while migrations run: their key sets depend on the directory. */
  static void requireNoMigrations(ClusterState state) {
    List<Migration> active = state.activeMigrations();
    if (!active.isEmpty()) {
      throw new MigrationsInProgress(active.size());
    }
  }

  /** A change refused because migrations are in progress. */
  static final class MigrationsInProgress extends ShardClusterException {
    private static final long serialVersionUID = 1L;

    MigrationsInProgress(int count) {
      super(
          ErrorCode.FAILED_PRECONDITION,
          count
              + " migration(s) in progress; retry when `shardctl migrations` lists none"
              + " (`shardctl wait --migrations-done` waits for that)");
    }
  }

  /**
   * Makes a change that is refused while migrations are in progress (see {@link
   * #requireNoMigrations}). While it is, waits for them to end, for at most {@code waitMs} in all,
   * and tries again; then it is refused as before. A joining node counts as a migration in progress
   * until it is UP, so that a change made after a join may name the new node.
   */
  <T> T afterMigrations(String what, long waitMs, Supplier<T> change) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
    while (true) {
      try {
        return change.get();
      } catch (MigrationsInProgress e) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          throw e;
        }
        logger.info(what + ": waiting for the migrations in progress to end");
        try {
          awaitState(
              s ->
                  s.activeMigrations().isEmpty()
                      && s.members().values().stream()
                          .noneMatch(m -> m.getState() == NodeStateProto.JOINING),
              left);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  /** Every member that has not been removed, with its liveness and ring share. */
  List<Member> members() {
    ClusterState current = state();
    HashRing ring = current.routing().keyspace(Keyspace.DEFAULT).ring();
    Map<String, Double> shares = ring.shares();
    List<Member> members = new ArrayList<>();
    for (MemberRecord record : current.members().values()) {
      NodeStateProto shown = record.getState();
      if (shown != NodeStateProto.REMOVED && !liveness.isUp(record.getId())) {
        shown = NodeStateProto.DOWN;
      }
      members.add(
          new Member(
              record.getId(),
              record.getAddress(),
              shown,
              record.getState(),
              shares.getOrDefault(record.getId(), 0.0),
              ring.intervalsOf(record.getId()).size(),
              liveness.lastHeartbeat(record.getId())));
    }
    return members;
  }

  static String describe(DirectoryEntry entry) {
    return (entry.prefix() ? "prefix '" : "key '") + entry.key().toStringUtf8() + "'";
  }

  private static void checkNodeId(String node) {
    requireArgument(
        node != null && NODE_ID.matcher(node).matches(),
        "node id '%s' must be 1-64 characters of letters, digits, '.', '_' and '-'",
        node);
  }

  private static ShardClusterException storeFailed(RocksDBException e) {
    return ShardClusterException.unavailable(
        "coordinator metadata store failed: " + e.getMessage());
  }
}
