package io.shardcluster.coordinator;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.shardcluster.routing.MovingSet;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * The entries of every directory keyspace: which node owns each group. Kept in memory for lookups
 * (which take no lock) and persisted by {@link MetadataStore}; changed only by {@link Cluster},
 * under its lock, after the change is saved.
 */
final class GroupDirectory {
  private static final Comparator<ByteString> ORDER =
      ByteString.unsignedLexicographicalComparator();

  private final Map<String, ConcurrentSkipListMap<ByteString, String>> keyspaces =
      new ConcurrentHashMap<>();
  private final Map<String, Map<String, LongAdder>> perOwner = new ConcurrentHashMap<>();

  /** A migration's effect on entries: the source's groups it moves now belong to the target. */
  record Move(MovingSet moving, String source, String target) {}

  /**
   * Entries to write: keyspace to group to owner; and keyspaces whose entries all go.
   *
   * @param owners new owners by keyspace and group
   * @param dropped keyspaces whose entries are deleted
   */
  record Changes(Map<String, Map<ByteString, String>> owners, Set<String> dropped) {
    static final Changes NONE = new Changes(Map.of(), Set.of());

    boolean isEmpty() {
      return owners.isEmpty() && dropped.isEmpty();
    }
  }

  /** The owner of a group, or null if it has no entry. */
  @Nullable String owner(String keyspace, ByteString group) {
    var entries = keyspaces.get(keyspace);
    return entries == null ? null : entries.get(group);
  }

  /** Entries of the keyspace. */
  long size(String keyspace) {
    var entries = keyspaces.get(keyspace);
    return entries == null ? 0 : entries.size();
  }

  /** Groups each node owns in the keyspace. */
  Map<String, Long> groupsPerOwner(String keyspace) {
    Map<String, Long> counts = new TreeMap<>();
    perOwner.getOrDefault(keyspace, Map.of()).forEach((node, n) -> counts.put(node, n.sum()));
    return counts;
  }

  /**
   * Up to {@code limit} entries in group order after {@code startAfter} (empty: from the start).
   */
  List<Map.Entry<ByteString, String>> list(String keyspace, ByteString startAfter, int limit) {
    var entries = keyspaces.get(keyspace);
    if (entries == null) {
      return List.of();
    }
    NavigableMap<ByteString, String> tail =
        startAfter.isEmpty() ? entries : entries.tailMap(startAfter, false);
    List<Map.Entry<ByteString, String>> page = new ArrayList<>();
    for (var entry : tail.entrySet()) {
      if (page.size() >= limit) {
        break;
      }
      page.add(Map.entry(entry.getKey(), entry.getValue()));
    }
    return page;
  }

  /** The entries the moves change: each source's groups in the moving set go to the target. */
  Changes changesFor(List<Move> moves) {
    Map<String, Map<ByteString, String>> owners = new HashMap<>();
    for (Move move : moves) {
      var entries = keyspaces.get(move.moving().keyspace());
      if (entries == null) {
        continue;
      }
      Map<ByteString, String> changed =
          owners.computeIfAbsent(move.moving().keyspace(), k -> new HashMap<>());
      for (var entry : entries.entrySet()) {
        if (entry.getValue().equals(move.source()) && move.moving().containsGroup(entry.getKey())) {
          changed.put(entry.getKey(), move.target());
        }
      }
    }
    owners.values().removeIf(Map::isEmpty);
    return owners.isEmpty() ? Changes.NONE : new Changes(owners, Set.of());
  }

  /** Installs saved changes. */
  void apply(Changes changes) {
    for (String keyspace : changes.dropped()) {
      keyspaces.remove(keyspace);
      perOwner.remove(keyspace);
    }
    changes.owners().forEach((keyspace, owners) -> owners.forEach((g, o) -> put(keyspace, g, o)));
  }

  /** Installs one loaded or saved entry. */
  void put(String keyspace, ByteString group, String owner) {
    var entries = keyspaces.computeIfAbsent(keyspace, k -> new ConcurrentSkipListMap<>(ORDER));
    Map<String, LongAdder> counts =
        perOwner.computeIfAbsent(keyspace, k -> new ConcurrentHashMap<>());
    String before = entries.put(group, owner.intern());
    if (before != null) {
      requireNonNull(counts.get(before)).decrement();
    }
    counts.computeIfAbsent(owner, o -> new LongAdder()).increment();
  }
}
