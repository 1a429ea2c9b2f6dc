package io.shardcluster.coordinator;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.MemberRecord;
import io.shardcluster.proto.v1.NodeStateProto;
import io.shardcluster.proto.v1.StrategyProto;
import io.shardcluster.routing.Grouping;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RangeAllocator;
import io.shardcluster.routing.RangeMap;
import io.shardcluster.routing.TokenAllocator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * The keyspace catalog: creating a keyspace spread over the UP nodes (hash, range or directory),
 * splitting a range, dropping a keyspace. Each is one change of the routing at a new epoch.
 */
final class KeyspaceCatalog {
  private static final Logger logger = Logger.getLogger(KeyspaceCatalog.class.getName());

  private final Cluster cluster;

  KeyspaceCatalog(Cluster cluster) {
    this.cluster = cluster;
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
    return cluster
        .update(
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
              Cluster.requireNoMigrations(current);
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
    return cluster
        .update(
            current -> {
              Keyspace keyspace = current.routing().keyspace(name);
              if (!keyspace.isRange()) {
                throw ShardClusterException.failedPrecondition(
                    "keyspace "
                        + name
                        + " is a hash keyspace; only range keyspaces have ranges to split");
              }
              Cluster.requireNoMigrations(current);
              RangeMap split = keyspace.ranges().split(at);
              logger.info(
                  "keyspace " + name + ": split at " + new String(at, StandardCharsets.UTF_8));
              return current.withKeyspace(keyspace.withRanges(split));
            })
        .epoch();
  }

  /** Drops a keyspace: it leaves routing and its nodes delete its keys. Returns the new epoch. */
  long dropKeyspace(String name) {
    return cluster
        .update(
            current -> {
              current.routing().keyspace(name);
              if (name.equals(Keyspace.DEFAULT)) {
                throw ShardClusterException.failedPrecondition(
                    "the default keyspace cannot be dropped");
              }
              Cluster.requireNoMigrations(current);
              logger.info("keyspace " + name + " dropped");
              // Its directory changes that failures rolled back have nothing left to change.
              return RollbackRetries.supersede(
                  current.withoutKeyspace(name), RollbackRetries.unanswered(current, name));
            })
        .epoch();
  }
}
