package io.shardcluster.coordinator;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.GroupEntry;
import io.shardcluster.proto.v1.LookupGroupsResponse;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RoutingTable;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Directory placement: which node a directory entry of a hash keyspace, or a group of a directory
 * keyspace, puts its keys on. Entries are set or removed at once when no key changes owner, else
 * planned as moves for migrations to carry out; groups are placed by their first write.
 */
final class DirectoryPlacement {
  private final Cluster cluster;
  private final Liveness liveness;
  private final DataProbe probe;

  DirectoryPlacement(Cluster cluster, Liveness liveness, DataProbe probe) {
    this.cluster = cluster;
    this.liveness = liveness;
    this.probe = probe;
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
    ClusterState current = cluster.state();
    Keyspace keyspace = current.routing().keyspace(keyspaceName);
    if (!keyspace.isDirectory()) {
      throw ShardClusterException.failedPrecondition(
          "keyspace " + keyspaceName + " is not a directory keyspace; it has no groups");
    }
    for (ByteString group : asked) {
      io.shardcluster.rpc.Limits.checkKey(group.size());
    }
    if (place && asked.stream().anyMatch(g -> cluster.groups().owner(keyspaceName, g) == null)) {
      cluster.placeGroups(keyspaceName, placing -> placeNew(placing, keyspaceName, asked));
    }
    while (true) {
      current = cluster.state();
      LookupGroupsResponse.Builder response =
          LookupGroupsResponse.newBuilder()
              .setEpoch(current.epoch())
              .setDirectoryVersion(current.routing().keyspace(keyspaceName).grouping().version());
      for (ByteString group : asked) {
        String owner = cluster.groups().owner(keyspaceName, group);
        response.addEntries(
            GroupEntry.newBuilder().setGroup(group).setOwner(owner == null ? "" : owner));
      }
      // An owner read after a newer epoch was published may be newer than the epoch reported;
      // read again so that the answer holds at the epoch it names.
      if (cluster.state() == current) {
        return response.build();
      }
    }
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
    RoutingTable before = cluster.routing();
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
    RoutingTable before = cluster.routing();
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
    return cluster
        .update(
            current -> {
              if (current.epoch() != before.epoch()) {
                throw ShardClusterException.unavailable(
                    "routing changed during the request; retry");
              }
              Cluster.requireNoMigrations(current);
              return current.withKeyspace(change.apply(current.routing().keyspace(keyspaceName)));
            })
        .epoch();
  }

  /** Owners for the asked groups that have none: each on the UP node with the fewest groups. */
  private Map<ByteString, String> placeNew(
      ClusterState current, String keyspaceName, List<ByteString> asked) {
    GroupDirectory groups = cluster.groups();
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
    return owners;
  }

  static String describe(DirectoryEntry entry) {
    return (entry.prefix() ? "prefix '" : "key '") + entry.key().toStringUtf8() + "'";
  }
}
