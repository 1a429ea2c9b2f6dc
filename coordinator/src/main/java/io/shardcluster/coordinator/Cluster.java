package io.shardcluster.coordinator;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.Migration;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;
import org.rocksdb.RocksDBException;

/**
 * The coordinator's persisted state: members, routing, migrations and the epoch. Every change goes
 * through {@link #update}, which persists it (fsynced) before it is answered or published, and
 * gives it the next epoch if it changed the routing. What changes it is in its parts: {@link
 * Membership}, the {@link KeyspaceCatalog} and {@link DirectoryPlacement}.
 */
final class Cluster {
  private static final Logger logger = Logger.getLogger(Cluster.class.getName());

  private final MetadataStore store;
  private final GroupDirectory groups;
  private final List<Consumer<RoutingTable>> listeners = new CopyOnWriteArrayList<>();
  private final List<Runnable> membershipListeners = new CopyOnWriteArrayList<>();
  private final Membership membership;
  private final KeyspaceCatalog catalog;
  private final DirectoryPlacement directory;
  // Empty, and recovery set, while a coordinator started with --recover-from-nodes waits for its
  // nodes; both fixed once it has recovered.
  private volatile String clusterId;
  private volatile @Nullable MetadataRecovery recovery;

  // Written only under the lock, after the new state is saved; read without it, so that readers
  // (routing fetches, heartbeats, status) never wait for an fsync in progress.
  private volatile ClusterState state;

  private Cluster(
      MetadataStore store,
      Liveness liveness,
      DataProbe probe,
      GroupDirectory groups,
      ClusterState state,
      String clusterId,
      @Nullable MetadataRecovery recovery) {
    this.store = store;
    this.clusterId = clusterId;
    this.recovery = recovery;
    this.groups = groups;
    this.state = state;
    this.membership = new Membership(this, liveness, probe);
    this.catalog = new KeyspaceCatalog(this);
    this.directory = new DirectoryPlacement(this, liveness, probe);
  }

  /** The cluster as saved in the store, or a new one (saved at once). */
  static Cluster open(MetadataStore store, Liveness liveness, DataProbe probe) {
    return open(store, liveness, probe, false);
  }

  /**
   * As above; with {@code recover}, a store without metadata is not given a new cluster but waits
   * for the nodes to offer theirs (see {@link MetadataRecovery}). INVALID_ARGUMENT if the store
   * holds metadata: recovery is only for a coordinator that lost it.
   */
  static Cluster open(MetadataStore store, Liveness liveness, DataProbe probe, boolean recover) {
    try {
      Optional<ClusterState> saved = store.load();
      if (recover && saved.isPresent()) {
        throw ShardClusterException.invalidArgument(
            "--recover-from-nodes rebuilds lost metadata, but this data dir holds the metadata of"
                + " cluster "
                + store.clusterId().orElse("(without an id)")
                + " at epoch "
                + saved.get().epoch()
                + "; start the coordinator without it");
      }
      if (recover) {
        logger.warning(
            "recovering the cluster's metadata from its nodes: waiting for every node of the"
                + " newest routing table they hold to register");
        return new Cluster(
            store,
            liveness,
            probe,
            new GroupDirectory(),
            ClusterState.initial(),
            "",
            new MetadataRecovery());
      }
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
      // Made with the cluster's first state (or the first start of a version with ids); nodes
      // save it when they register and refuse a coordinator of another cluster.
      Optional<String> savedId = store.clusterId();
      String clusterId = savedId.orElseGet(() -> UUID.randomUUID().toString());
      if (savedId.isEmpty()) {
        store.saveClusterId(clusterId);
        logger.info("cluster id " + clusterId);
      }
      return new Cluster(store, liveness, probe, groups, state, clusterId, null);
    } catch (RocksDBException e) {
      throw storeFailed(e);
    }
  }

  /** The id of this cluster, the same on the coordinator and every node; empty while recovering. */
  String clusterId() {
    return clusterId;
  }

  /** Whether metadata is being recovered from the nodes: registrations go to {@link #recover}. */
  boolean recovering() {
    return recovery != null;
  }

  /**
   * Offers a registering node's metadata to the recovery; once it is complete, saves the recovered
   * cluster (id and state, at the epoch after the newest the nodes held) and serves it. UNAVAILABLE
   * while nodes are awaited (see {@link MetadataRecovery#offer}).
   */
  void recover(MetadataRecovery.Offer offer) {
    MetadataRecovery pending = recovery;
    if (pending == null) {
      return;
    }
    MetadataRecovery.Recovered recovered = pending.offer(offer);
    synchronized (this) {
      if (recovery == null) {
        return;
      }
      try {
        store.save(recovered.state());
        store.saveClusterId(recovered.clusterId());
      } catch (RocksDBException e) {
        throw storeFailed(e);
      }
      clusterId = recovered.clusterId();
      state = recovered.state();
      recovery = null;
      notifyAll();
    }
    logger.warning(
        "recovered cluster "
            + recovered.clusterId()
            + " from its nodes: "
            + recovered.state().members().keySet()
            + " at epoch "
            + recovered.state().epoch()
            + "; migrations that were in flight are rolled back by their nodes");
    publish(recovered.state().routing());
    membershipChanged();
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
      publish(after.routing());
    }
    return after;
  }

  /** Hands a new routing table, already persisted, to the listeners. */
  private void publish(RoutingTable table) {
    for (Consumer<RoutingTable> listener : listeners) {
      listener.accept(table);
    }
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
   * Places groups of a directory keyspace that have no entry yet, durably: {@code decide} picks
   * their owners from the state, under the cluster's lock, so concurrent placements of one group
   * agree.
   */
  synchronized void placeGroups(
      String keyspaceName, Function<ClusterState, Map<ByteString, String>> decide) {
    Map<ByteString, String> owners = decide.apply(state);
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

  /** Runs the membership listeners: a node registered or changed state. */
  void membershipChanged() {
    membershipListeners.forEach(Runnable::run);
  }

  /** Admits nodes, takes their heartbeats, and shows the members. */
  Membership membership() {
    return membership;
  }

  /** Creates, splits and drops keyspaces. */
  KeyspaceCatalog catalog() {
    return catalog;
  }

  /** Places directory entries and the groups of directory keyspaces. */
  DirectoryPlacement directory() {
    return directory;
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

  private static ShardClusterException storeFailed(RocksDBException e) {
    return ShardClusterException.unavailable(
        "coordinator metadata store failed: " + e.getMessage());
  }
}
