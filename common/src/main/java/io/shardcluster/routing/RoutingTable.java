package io.shardcluster.routing;

import io.shardcluster.errors.ShardClusterException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * An immutable snapshot of the cluster's routing: the nodes and their addresses, and every
 * keyspace's ring and directory, versioned by one cluster-wide epoch that every change bumps.
 */
public final class RoutingTable {
  private static final RoutingTable EMPTY = new RoutingTable(0, Map.of(), Map.of());

  private final long epoch;
  private final Map<String, String> nodeAddresses;
  private final Map<String, Keyspace> keyspaces;
  private final Set<String> droppedKeyspaces;
  private final Set<String> replicated;

  /**
   * Creates a table.
   *
   * @param epoch the epoch this table is version of
   * @param nodeAddresses node id to host:port
   * @param keyspaces keyspace name to its routing
   */
  public RoutingTable(
      long epoch, Map<String, String> nodeAddresses, Map<String, Keyspace> keyspaces) {
    this(epoch, nodeAddresses, keyspaces, Set.of());
  }

  /**
   * Creates a table that also names dropped keyspaces.
   *
   * @param droppedKeyspaces names of dropped keyspaces: never reused, and nodes delete their data
   */
  public RoutingTable(
      long epoch,
      Map<String, String> nodeAddresses,
      Map<String, Keyspace> keyspaces,
      Set<String> droppedKeyspaces) {
    this(epoch, nodeAddresses, keyspaces, droppedKeyspaces, Set.of());
  }

  /**
   * Creates a table that also names the nodes that are replica groups.
   *
   * @param replicated nodes that are replica groups: while one elects a new leader, requests to it
   *     are retried until their deadline rather than reported unavailable
   */
  public RoutingTable(
      long epoch,
      Map<String, String> nodeAddresses,
      Map<String, Keyspace> keyspaces,
      Set<String> droppedKeyspaces,
      Set<String> replicated) {
    this.epoch = epoch;
    this.nodeAddresses = Collections.unmodifiableMap(new TreeMap<>(nodeAddresses));
    this.keyspaces = Collections.unmodifiableMap(new TreeMap<>(keyspaces));
    this.droppedKeyspaces = Collections.unmodifiableSet(new TreeSet<>(droppedKeyspaces));
    this.replicated = Collections.unmodifiableSet(new TreeSet<>(replicated));
  }

  /** The table before anything is known: epoch 0, no nodes, no keyspaces. */
  public static RoutingTable empty() {
    return EMPTY;
  }

  /** The table's epoch. */
  public long epoch() {
    return epoch;
  }

  /** Node id to host:port, sorted by id. */
  public Map<String, String> nodeAddresses() {
    return nodeAddresses;
  }

  /** The address of a node, if it is in the table. */
  public Optional<String> address(String node) {
    return Optional.ofNullable(nodeAddresses.get(node));
  }

  /** Whether the node is a replica group (see {@code docs/replication.md}). */
  public boolean replicated(String node) {
    return replicated.contains(node);
  }

  /** Keyspaces by name, sorted. */
  public Map<String, Keyspace> keyspaces() {
    return keyspaces;
  }

  /** Names of dropped keyspaces, sorted: never reused; nodes delete their data. */
  public Set<String> droppedKeyspaces() {
    return droppedKeyspaces;
  }

  /** The named keyspace; NOT_FOUND if there is none. */
  public Keyspace keyspace(String name) {
    Keyspace keyspace = keyspaces.get(name);
    if (keyspace == null) {
      throw ShardClusterException.notFound("no keyspace named '" + name + "'");
    }
    return keyspace;
  }

  /** The owner of a key, or null if nobody owns it (no node has joined). */
  public @Nullable String ownerOf(String keyspace, byte[] key) {
    return keyspace(keyspace).ownerOf(key);
  }

  /** Where a key lives; UNAVAILABLE if no node owns it yet. */
  public Route route(String keyspaceName, byte[] key) {
    Keyspace keyspace = keyspace(keyspaceName);
    long position = KeyHash.position(key);
    Optional<DirectoryEntry> entry =
        keyspace.isRange() ? Optional.empty() : keyspace.directory().entryFor(key);
    String owner = keyspace.ownerOf(key);
    if (owner == null) {
      throw ShardClusterException.unavailable(
          "no shard node has joined the cluster yet (epoch " + epoch + ")");
    }
    return new Route(
        keyspaceName,
        owner,
        nodeAddresses.getOrDefault(owner, ""),
        position,
        keyspace.isRange() ? null : keyspace.ring().intervalOf(position),
        entry,
        epoch,
        keyspace.isRange() ? keyspace.ranges().range(keyspace.ranges().indexOf(key)) : null,
        null);
  }

  /** A copy at another epoch. */
  public RoutingTable withEpoch(long newEpoch) {
    return new RoutingTable(newEpoch, nodeAddresses, keyspaces, droppedKeyspaces, replicated);
  }

  /** Whether the two tables route alike: same nodes and addresses, same keyspaces. */
  public boolean sameRouting(RoutingTable other) {
    return nodeAddresses.equals(other.nodeAddresses)
        && keyspaces.equals(other.keyspaces)
        && droppedKeyspaces.equals(other.droppedKeyspaces)
        && replicated.equals(other.replicated);
  }

  /** A copy at another epoch with one keyspace replaced or added. */
  public RoutingTable with(long newEpoch, Keyspace keyspace) {
    Map<String, Keyspace> next = new LinkedHashMap<>(keyspaces);
    next.put(keyspace.name(), keyspace);
    return new RoutingTable(newEpoch, nodeAddresses, next, droppedKeyspaces, replicated);
  }

  /** A copy at another epoch without the named keyspace, which is then a dropped one. */
  public RoutingTable without(long newEpoch, String keyspace) {
    Map<String, Keyspace> next = new LinkedHashMap<>(keyspaces);
    next.remove(keyspace);
    Set<String> dropped = new TreeSet<>(droppedKeyspaces);
    dropped.add(keyspace);
    return new RoutingTable(newEpoch, nodeAddresses, next, dropped, replicated);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RoutingTable other
        && epoch == other.epoch
        && nodeAddresses.equals(other.nodeAddresses)
        && keyspaces.equals(other.keyspaces)
        && droppedKeyspaces.equals(other.droppedKeyspaces)
        && replicated.equals(other.replicated);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(epoch) * 31 + keyspaces.hashCode();
  }

  @Override
  public String toString() {
    return "RoutingTable{epoch="
        + epoch
        + ", nodes="
        + nodeAddresses
        + ", keyspaces="
        + keyspaces.keySet()
        + "}";
  }
}
