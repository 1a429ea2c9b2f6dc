package io.shardcluster.coordinator;

import static io.shardcluster.client.ShardClusterException.requireArgument;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.ByteString;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.ShardClusterException;
import io.shardcluster.proto.v1.NodeStats;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.wire.HostPort;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.rocksdb.RocksDBException;

/**
 * The coordinator's view of the cluster: membership, routing and the epoch. Every change is
 * persisted (fsynced) before it is answered or published, and bumps the epoch by one.
 */
final class Cluster {
  private static final Logger logger = Logger.getLogger(Cluster.class.getName());
  private static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

  private final MetadataStore store;
  private final Liveness liveness;
  private final DataProbe probe;
  private final int vnodes;
  private final List<Consumer<RoutingTable>> listeners = new CopyOnWriteArrayList<>();

  @GuardedBy("this")
  private ClusterState state;

  /** A member as operators see it. */
  record Member(
      String id,
      String address,
      NodeState state,
      double share,
      int intervals,
      Optional<Liveness.Heartbeat> lastHeartbeat) {}

  private Cluster(
      MetadataStore store, Liveness liveness, DataProbe probe, int vnodes, ClusterState state) {
    this.store = store;
    this.liveness = liveness;
    this.probe = probe;
    this.vnodes = vnodes;
    this.state = state;
  }

  /** The cluster as saved in the store, or a new one (saved at once). */
  static Cluster open(MetadataStore store, Liveness liveness, DataProbe probe, int vnodes) {
    requireArgument(vnodes >= 1, "vnodes must be at least 1, got " + vnodes);
    try {
      Optional<ClusterState> saved = store.load();
      ClusterState state = saved.orElseGet(ClusterState::initial);
      if (saved.isEmpty()) {
        store.save(state);
      }
      return new Cluster(store, liveness, probe, vnodes, state);
    } catch (RocksDBException e) {
      throw storeFailed(e);
    }
  }

  synchronized RoutingTable routing() {
    return state.routing();
  }

  /** Calls the listener with every new routing table, after it is persisted. */
  void addListener(Consumer<RoutingTable> listener) {
    listeners.add(listener);
  }

  /**
   * Admits a node: a new id joins and takes its share of the ring; a known id with the same
   * instance is a restart (its address may have changed). Returns the routing table to use.
   */
  RoutingTable register(String node, String address, String instance) {
    checkNodeId(node);
    HostPort.parse(address);
    requireArgument(instance != null && !instance.isBlank(), "instance id must not be empty");
    // Probing other nodes happens outside the lock; if the routing moved meanwhile, probe again.
    for (int attempt = 0; ; attempt++) {
      RoutingTable before = routing();
      boolean joining = !before.nodeAddresses().containsKey(node);
      if (joining) {
        requireEmpty(
            before,
            Keyspace.DEFAULT,
            ByteString.EMPTY,
            ByteString.EMPTY,
            "cannot add " + node + ": the cluster already stores keys");
      }
      RoutingTable after;
      synchronized (this) {
        if (joining && state.epoch() != before.epoch()) {
          if (attempt < 10) {
            continue;
          }
          throw ShardClusterException.unavailable(
              "routing kept changing while admitting " + node + "; retry");
        }
        after = admit(node, address, instance);
        if (after == null) {
          return state.routing();
        }
      }
      publish(after);
      return after;
    }
  }

  /** Applies a registration; returns the new table, or null if nothing changed. */
  @GuardedBy("this")
  private RoutingTable admit(String node, String address, String instance) {
    if (state.isMember(node)) {
      String known = state.instances().get(node);
      if (!known.equals(instance)) {
        String current = state.routing().address(node).orElse("?");
        if (liveness.state(node) == NodeState.UP) {
          throw ShardClusterException.alreadyExists(
              "node id " + node + " is already in use by a live node at " + current);
        }
        throw ShardClusterException.failedPrecondition(
            "node id "
                + node
                + " belongs to another data directory (instance "
                + known
                + "); start "
                + node
                + " on its own data directory");
      }
      liveness.heartbeat(node, NodeStats.getDefaultInstance());
      if (state.routing().address(node).orElse("").equals(address)) {
        return null;
      }
      commit(state.withMember(node, address, instance));
      logger.info(node + " re-registered at " + address + " (epoch " + state.epoch() + ")");
      return state.routing();
    }
    ClusterState joined = state.withMember(node, address, instance);
    Keyspace keyspace = joined.routing().keyspace(Keyspace.DEFAULT);
    HashRing ring = TokenAllocator.join(keyspace.ring(), node, vnodes);
    commit(
        new ClusterState(
            joined.routing().with(joined.epoch(), keyspace.withRing(ring)), joined.instances()));
    liveness.heartbeat(node, NodeStats.getDefaultInstance());
    logger.info(
        node
            + " joined at "
            + address
            + " with "
            + ring.intervalsOf(node).size()
            + " intervals (epoch "
            + state.epoch()
            + ")");
    return state.routing();
  }

  /**
   * Records a heartbeat and returns the current epoch. NOT_FOUND if the node is not a member under
   * this instance id (it should register).
   */
  long heartbeat(String node, String instance, NodeStats stats) {
    synchronized (this) {
      if (!state.isMember(node) || !state.instances().get(node).equals(instance)) {
        throw ShardClusterException.notFound("node " + node + " is not a member; register first");
      }
      liveness.heartbeat(node, stats);
      return state.epoch();
    }
  }

  /** Places a key or prefix on a node. Returns the new epoch. */
  long setDirectoryEntry(String keyspaceName, DirectoryEntry entry) {
    RoutingTable before = routing();
    Keyspace keyspace = before.keyspace(keyspaceName);
    if (!before.nodeAddresses().containsKey(entry.owner())) {
      throw ShardClusterException.notFound("no node named " + entry.owner());
    }
    if (keyspace.directory().get(entry.key(), entry.prefix()).equals(Optional.of(entry))) {
      return before.epoch();
    }
    requireEmpty(
        before,
        keyspaceName,
        entry.key(),
        rangeEnd(entry),
        "cannot change the placement of " + describe(entry) + ": keys it covers are stored");
    return changeDirectory(
        before, keyspaceName, ks -> ks.withDirectory(ks.directory().with(entry)));
  }

  /** Removes a directory entry. Returns the new epoch; NOT_FOUND if there is no such entry. */
  long removeDirectoryEntry(String keyspaceName, ByteString key, boolean prefix) {
    RoutingTable before = routing();
    Keyspace keyspace = before.keyspace(keyspaceName);
    DirectoryEntry entry =
        keyspace
            .directory()
            .get(key, prefix)
            .orElseThrow(
                () ->
                    ShardClusterException.notFound(
                        "no directory entry for "
                            + (prefix ? "prefix '" : "key '")
                            + key.toStringUtf8()
                            + "'"));
    requireEmpty(
        before,
        keyspaceName,
        entry.key(),
        rangeEnd(entry),
        "cannot change the placement of " + describe(entry) + ": keys it covers are stored");
    return changeDirectory(
        before, keyspaceName, ks -> ks.withDirectory(ks.directory().without(key, prefix)));
  }

  private long changeDirectory(
      RoutingTable before, String keyspaceName, java.util.function.UnaryOperator<Keyspace> change) {
    RoutingTable after;
    synchronized (this) {
      if (state.epoch() != before.epoch()) {
        throw ShardClusterException.unavailable("routing changed during the request; retry");
      }
      commit(state.withKeyspace(change.apply(state.routing().keyspace(keyspaceName))));
      after = state.routing();
    }
    publish(after);
    return after.epoch();
  }

  /** Every member with its liveness and ring share. */
  List<Member> members() {
    RoutingTable table = routing();
    HashRing ring = table.keyspace(Keyspace.DEFAULT).ring();
    Map<String, Double> shares = ring.shares();
    List<Member> members = new ArrayList<>();
    table
        .nodeAddresses()
        .forEach(
            (id, address) ->
                members.add(
                    new Member(
                        id,
                        address,
                        liveness.state(id),
                        shares.getOrDefault(id, 0.0),
                        ring.intervalsOf(id).size(),
                        liveness.lastHeartbeat(id))));
    return members;
  }

  /**
   * Until data can move between nodes, a routing change may only touch keys nobody stores:
   * FAILED_PRECONDITION naming where keys were found.
   */
  private void requireEmpty(
      RoutingTable table, String keyspace, ByteString start, ByteString end, String problem) {
    List<String> holders = new ArrayList<>();
    table
        .nodeAddresses()
        .forEach(
            (node, address) -> {
              long count = probe.countKeys(node, address, keyspace, start, end);
              if (count > 0) {
                holders.add(node + ": " + count);
              }
            });
    if (!holders.isEmpty()) {
      throw ShardClusterException.failedPrecondition(
          problem
              + " ("
              + String.join(", ", holders)
              + ") and moving stored data needs rebalancing, which this version does not do");
    }
  }

  private static String describe(DirectoryEntry entry) {
    return (entry.prefix() ? "prefix '" : "key '") + entry.key().toStringUtf8() + "'";
  }

  /** The exclusive end of the key range a directory entry covers; empty for no end. */
  static ByteString rangeEnd(DirectoryEntry entry) {
    byte[] key = entry.key().toByteArray();
    if (!entry.prefix()) {
      return entry.key().concat(ByteString.copyFrom(new byte[] {0}));
    }
    for (int i = key.length - 1; i >= 0; i--) {
      if (key[i] != (byte) 0xff) {
        key[i]++;
        return ByteString.copyFrom(key, 0, i + 1);
      }
    }
    return ByteString.EMPTY;
  }

  @GuardedBy("this")
  private void commit(ClusterState next) {
    try {
      store.save(next);
    } catch (RocksDBException e) {
      throw storeFailed(e);
    }
    state = next;
  }

  private void publish(RoutingTable table) {
    for (Consumer<RoutingTable> listener : listeners) {
      listener.accept(table);
    }
  }

  private static void checkNodeId(String node) {
    requireArgument(
        node != null && NODE_ID.matcher(node).matches(),
        "node id '" + node + "' must be 1-64 characters of letters, digits, '.', '_' and '-'");
  }

  private static ShardClusterException storeFailed(RocksDBException e) {
    return ShardClusterException.unavailable(
        "coordinator metadata store failed: " + e.getMessage());
  }
}
