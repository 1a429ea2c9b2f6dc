package io.shardcluster.rpc;

import com.google.common.primitives.Longs;
import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.DirectoryEntryProto;
import io.shardcluster.proto.v1.IntervalProto;
import io.shardcluster.proto.v1.KeyRangeProto;
import io.shardcluster.proto.v1.KeyspaceProto;
import io.shardcluster.proto.v1.MovingSetProto;
import io.shardcluster.proto.v1.NodeProto;
import io.shardcluster.proto.v1.PositionRangeProto;
import io.shardcluster.proto.v1.RoutingTableProto;
import io.shardcluster.proto.v1.StrategyProto;
import io.shardcluster.routing.Directory;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Grouping;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Interval;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.PositionRange;
import io.shardcluster.routing.RangeMap;
import io.shardcluster.routing.RoutingTable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Converts routing tables between their wire form and the domain value. */
public final class RoutingTables {
  private RoutingTables() {}

  /** The wire form of a table. */
  public static RoutingTableProto toProto(RoutingTable table) {
    var builder = RoutingTableProto.newBuilder().setEpoch(table.epoch());
    table
        .nodeAddresses()
        .forEach(
            (id, address) ->
                builder.addNodes(
                    NodeProto.newBuilder()
                        .setId(id)
                        .setAddress(address)
                        .setReplicated(table.replicated(id))));
    for (Keyspace keyspace : table.keyspaces().values()) {
      if (keyspace.isDirectory()) {
        builder.addKeyspaces(
            KeyspaceProto.newBuilder()
                .setName(keyspace.name())
                .setStrategy(StrategyProto.DIRECTORY)
                .setSeparator(keyspace.grouping().separator())
                .setDirectoryVersion(keyspace.grouping().version()));
        continue;
      }
      if (keyspace.isRange()) {
        var ks =
            KeyspaceProto.newBuilder().setName(keyspace.name()).setStrategy(StrategyProto.RANGE);
        RangeMap ranges = keyspace.ranges();
        for (int i = 0; i < ranges.size(); i++) {
          ks.addIntervals(
              IntervalProto.newBuilder()
                  .setStart(ByteString.copyFrom(ranges.start(i)))
                  .setOwner(ranges.owner(i)));
        }
        builder.addKeyspaces(ks);
        continue;
      }
      var ks = KeyspaceProto.newBuilder().setName(keyspace.name()).setStrategy(StrategyProto.HASH);
      for (Interval interval : keyspace.ring().intervals()) {
        ks.addIntervals(
            IntervalProto.newBuilder()
                .setStart(position(interval.start()))
                .setOwner(interval.owner()));
      }
      for (DirectoryEntry entry : keyspace.directory().entries()) {
        ks.addDirectory(toProto(entry));
      }
      builder.addKeyspaces(ks);
    }
    builder.addAllDroppedKeyspaces(table.droppedKeyspaces());
    return builder.build();
  }

  /** The domain value of a wire table; INVALID_ARGUMENT if it is malformed. */
  public static RoutingTable fromProto(RoutingTableProto proto) {
    Map<String, String> nodes = new HashMap<>();
    Set<String> replicated = new HashSet<>();
    for (NodeProto node : proto.getNodesList()) {
      nodes.put(node.getId(), node.getAddress());
      if (node.getReplicated()) {
        replicated.add(node.getId());
      }
    }
    Map<String, Keyspace> keyspaces = new HashMap<>();
    for (var ks : proto.getKeyspacesList()) {
      if (ks.getStrategy() == StrategyProto.DIRECTORY) {
        keyspaces.put(
            ks.getName(),
            Keyspace.directory(
                ks.getName(), new Grouping(ks.getSeparator(), ks.getDirectoryVersion())));
        continue;
      }
      if (ks.getStrategy() == StrategyProto.RANGE) {
        List<byte[]> starts = new ArrayList<>(ks.getIntervalsCount());
        List<String> owners = new ArrayList<>(ks.getIntervalsCount());
        for (var interval : ks.getIntervalsList()) {
          starts.add(interval.getStart().toByteArray());
          owners.add(interval.getOwner());
        }
        keyspaces.put(ks.getName(), Keyspace.range(ks.getName(), RangeMap.of(starts, owners)));
        continue;
      }
      if (ks.getStrategy() != StrategyProto.HASH) {
        throw ShardClusterException.invalidArgument(
            "keyspace " + ks.getName() + " has unsupported strategy " + ks.getStrategy());
      }
      List<Long> starts = new ArrayList<>(ks.getIntervalsCount());
      List<String> owners = new ArrayList<>(ks.getIntervalsCount());
      for (var interval : ks.getIntervalsList()) {
        starts.add(hashPosition(interval.getStart()));
        owners.add(interval.getOwner());
      }
      List<DirectoryEntry> entries = new ArrayList<>(ks.getDirectoryCount());
      for (var entry : ks.getDirectoryList()) {
        entries.add(fromProto(entry));
      }
      keyspaces.put(
          ks.getName(),
          new Keyspace(ks.getName(), HashRing.of(starts, owners), Directory.of(entries)));
    }
    return new RoutingTable(
        proto.getEpoch(),
        nodes,
        keyspaces,
        new HashSet<>(proto.getDroppedKeyspacesList()),
        replicated);
  }

  /** The wire form of a directory entry. */
  public static DirectoryEntryProto toProto(DirectoryEntry entry) {
    return DirectoryEntryProto.newBuilder()
        .setKey(entry.key())
        .setPrefix(entry.prefix())
        .setOwner(entry.owner())
        .build();
  }

  /** The domain value of a wire directory entry. */
  public static DirectoryEntry fromProto(DirectoryEntryProto entry) {
    return new DirectoryEntry(entry.getKey(), entry.getPrefix(), entry.getOwner());
  }

  /** The wire form of a moving set. */
  public static MovingSetProto toProto(MovingSet moving) {
    var builder = MovingSetProto.newBuilder().setKeyspace(moving.keyspace());
    for (PositionRange range : moving.ranges()) {
      builder.addRanges(
          PositionRangeProto.newBuilder()
              .setStart(position(range.start()))
              .setEnd(range.end() == 0 ? ByteString.EMPTY : position(range.end())));
    }
    moving.entries().forEach(entry -> builder.addEntries(toProto(entry)));
    moving
        .keyRanges()
        .forEach(
            range ->
                builder.addKeyRanges(
                    KeyRangeProto.newBuilder().setStart(range.start()).setEnd(range.end())));
    builder.addAllGroups(moving.groups());
    moving
        .judgedBy()
        .ifPresent(
            directory -> {
              var judging = builder.getJudgedByBuilder();
              directory.entries().forEach(entry -> judging.addEntries(toProto(entry)));
            });
    return builder.build();
  }

  /** The domain value of a wire moving set. */
  public static MovingSet fromProto(MovingSetProto proto) {
    List<PositionRange> ranges = new ArrayList<>();
    for (var range : proto.getRangesList()) {
      ranges.add(new PositionRange(hashPosition(range.getStart()), hashPosition(range.getEnd())));
    }
    List<DirectoryEntry> entries = new ArrayList<>();
    proto.getEntriesList().forEach(entry -> entries.add(fromProto(entry)));
    List<KeyRange> keyRanges = new ArrayList<>();
    proto
        .getKeyRangesList()
        .forEach(range -> keyRanges.add(new KeyRange(range.getStart(), range.getEnd())));
    return new MovingSet(
        proto.getKeyspace().isEmpty() ? Keyspace.DEFAULT : proto.getKeyspace(),
        ranges,
        entries,
        keyRanges,
        proto.getGroupsList(),
        proto.hasJudgedBy()
            ? Directory.of(
                proto.getJudgedBy().getEntriesList().stream()
                    .map(RoutingTables::fromProto)
                    .toList())
            : null);
  }

  private static ByteString position(long position) {
    return ByteString.copyFrom(Longs.toByteArray(position));
  }

  private static long hashPosition(ByteString start) {
    if (start.isEmpty()) {
      return 0;
    }
    if (start.size() != Long.BYTES) {
      throw ShardClusterException.invalidArgument(
          "a hash interval start must be 8 bytes, got " + start.size());
    }
    return Longs.fromByteArray(start.toByteArray());
  }
}
