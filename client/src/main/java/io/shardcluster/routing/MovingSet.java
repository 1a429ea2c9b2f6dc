package io.shardcluster.routing;

import com.google.protobuf.ByteString;
import io.shardcluster.client.ShardClusterException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The keys one migration moves: the keys that a listed directory entry places (or will place once
 * added, for an entry the migration adds), and the keys no directory entry places whose position
 * lies in one of the ranges. Entries are identified by key and kind, so the set does not change
 * when an entry's owner does. In a range keyspace: whole key ranges. In a directory keyspace: the
 * keys of the listed groups, and of the groups whose own position (the hash of the group) lies in
 * one of the ranges. Immutable.
 */
public final class MovingSet {
  private final String keyspace;
  private final List<PositionRange> ranges;
  private final List<DirectoryEntry> entries;
  private final List<KeyRange> keyRanges;
  private final List<ByteString> groups;
  private final Set<ByteString> groupSet;
  private final long[] flippedStarts;
  private final Set<Slot> slots = new HashSet<>();
  private final List<DirectoryEntry> newer;
  private final Set<Slot> newerSlots = new HashSet<>();

  private record Slot(ByteString key, boolean prefix) {}

  /**
   * Creates a set.
   *
   * @param keyspace the keyspace of the keys
   * @param ranges disjoint position ranges, in any order
   * @param entries directory entries whose keys move (their owner is not consulted)
   */
  public MovingSet(String keyspace, List<PositionRange> ranges, List<DirectoryEntry> entries) {
    this(keyspace, ranges, entries, List.of());
  }

  /** Whole ranges of a range keyspace. */
  public static MovingSet ofKeyRanges(String keyspace, List<KeyRange> keyRanges) {
    return new MovingSet(keyspace, List.of(), List.of(), keyRanges);
  }

  /** Named groups of a directory keyspace, and its groups whose position is in the ranges. */
  public static MovingSet ofGroups(
      String keyspace, List<ByteString> groups, List<PositionRange> groupRanges) {
    return new MovingSet(keyspace, groupRanges, List.of(), List.of(), groups);
  }

  /**
   * Creates a set.
   *
   * @param keyspace the keyspace of the keys
   * @param ranges disjoint position ranges of a hash keyspace, in any order
   * @param entries directory entries whose keys move (their owner is not consulted)
   * @param keyRanges whole ranges of a range keyspace
   */
  public MovingSet(
      String keyspace,
      List<PositionRange> ranges,
      List<DirectoryEntry> entries,
      List<KeyRange> keyRanges) {
    this(keyspace, ranges, entries, keyRanges, List.of());
  }

  /**
   * Creates a set.
   *
   * @param keyspace the keyspace of the keys
   * @param ranges disjoint position ranges (of keys, or of groups in a directory keyspace)
   * @param entries directory entries whose keys move (their owner is not consulted)
   * @param keyRanges whole ranges of a range keyspace
   * @param groups groups of a directory keyspace
   */
  public MovingSet(
      String keyspace,
      List<PositionRange> ranges,
      List<DirectoryEntry> entries,
      List<KeyRange> keyRanges,
      List<ByteString> groups) {
    this(keyspace, ranges, entries, keyRanges, groups, List.of());
  }

  /**
   * Creates a set.
   *
   * @param keyspace the keyspace of the keys
   * @param ranges disjoint position ranges (of keys, or of groups in a directory keyspace)
   * @param entries directory entries whose keys move (their owner is not consulted)
   * @param keyRanges whole ranges of a range keyspace
   * @param groups groups of a directory keyspace
   * @param newer directory entries added after the set was taken (see {@link #newer()})
   */
  public MovingSet(
      String keyspace,
      List<PositionRange> ranges,
      List<DirectoryEntry> entries,
      List<KeyRange> keyRanges,
      List<ByteString> groups,
      List<DirectoryEntry> newer) {
    this.keyspace = keyspace;
    this.newer = List.copyOf(newer);
    for (DirectoryEntry entry : newer) {
      newerSlots.add(new Slot(entry.key(), entry.prefix()));
    }
    this.keyRanges = List.copyOf(keyRanges);
    this.groups = List.copyOf(groups);
    this.groupSet = Set.copyOf(groups);
    this.ranges =
        ranges.stream()
            .sorted(Comparator.comparing(PositionRange::start, Long::compareUnsigned))
            .toList();
    this.entries = List.copyOf(entries);
    this.flippedStarts = new long[this.ranges.size()];
    for (int i = 0; i < this.ranges.size(); i++) {
      flippedStarts[i] = this.ranges.get(i).start() ^ Long.MIN_VALUE;
    }
    for (DirectoryEntry entry : entries) {
      slots.add(new Slot(entry.key(), entry.prefix()));
    }
  }

  public String keyspace() {
    return keyspace;
  }

  /** The ranges, sorted by start. */
  public List<PositionRange> ranges() {
    return ranges;
  }

  public List<DirectoryEntry> entries() {
    return entries;
  }

  /**
   * Directory entries added after the set was taken (a node's share of a query, asked again at a
   * later epoch): the set's keys are judged as if these did not exist, so keys of its ranges that
   * such an entry took over still count, wherever they are now.
   */
  public List<DirectoryEntry> newer() {
    return newer;
  }

  /** A copy judged as if the entries, added since, did not exist (see {@link #newer()}). */
  public MovingSet withNewer(List<DirectoryEntry> added) {
    return new MovingSet(keyspace, ranges, entries, keyRanges, groups, added);
  }

  /** Whole ranges of a range keyspace. */
  public List<KeyRange> keyRanges() {
    return keyRanges;
  }

  /** Named groups of a directory keyspace. */
  public List<ByteString> groups() {
    return groups;
  }

  public boolean isEmpty() {
    return ranges.isEmpty() && entries.isEmpty() && keyRanges.isEmpty() && groups.isEmpty();
  }

  /**
   * The smallest key range that holds every key of the set: of a set of directory entries only,
   * from the smallest entry key to the largest end of their key ranges; of any other set, the whole
   * keyspace (empty start and end). Scans for the set's keys need not look outside it.
   */
  public KeyRange keyBounds() {
    if (entries.isEmpty() || !ranges.isEmpty() || !keyRanges.isEmpty() || !groups.isEmpty()) {
      return new KeyRange(ByteString.EMPTY, ByteString.EMPTY);
    }
    Comparator<ByteString> order = ByteString.unsignedLexicographicalComparator();
    ByteString start = null;
    ByteString end = null;
    for (DirectoryEntry entry : entries) {
      ByteString entryEnd = entry.keyEnd();
      start = start == null || order.compare(entry.key(), start) < 0 ? entry.key() : start;
      if (end == null
          || (!end.isEmpty() && (entryEnd.isEmpty() || order.compare(entryEnd, end) > 0))) {
        end = entryEnd;
      }
    }
    return new KeyRange(start, end);
  }

  /** Whether a group of a directory keyspace moves (if its owner is the migration's source). */
  public boolean containsGroup(ByteString group) {
    return groupSet.contains(group)
        || (!ranges.isEmpty() && containsPosition(KeyHash.position(group.toByteArray())));
  }

  /** The fraction of the position space the ranges cover. */
  public double share() {
    return ranges.stream().mapToDouble(PositionRange::fraction).sum();
  }

  /** Whether the key moves, judged with the keyspace's directory. */
  public boolean contains(Keyspace routing, byte[] key) {
    if (routing.isDirectory()) {
      return containsGroup(routing.grouping().groupOf(key));
    }
    if (routing.isRange()) {
      for (KeyRange range : keyRanges) {
        if (range.contains(key)) {
          return true;
        }
      }
      return false;
    }
    Optional<DirectoryEntry> placing =
        newer.isEmpty()
            ? routing.directory().entryFor(key)
            : routing
                .directory()
                .entryFor(key, e -> newerSlots.contains(new Slot(e.key(), e.prefix())));
    for (DirectoryEntry entry : entries) {
      // A listed entry moves the keys it places, or will place once added (it may be new: a
      // migration that adds it commits it); one that places none loses to a placing entry.
      if (Directory.matches(entry, key)
          && (placing.isEmpty() || !Directory.outranks(placing.get(), entry))) {
        return true;
      }
    }
    return placing.isEmpty() && containsPosition(KeyHash.position(key));
  }

  /** Whether one of the ranges holds the position. */
  public boolean containsPosition(long position) {
    int i = Arrays.binarySearch(flippedStarts, position ^ Long.MIN_VALUE);
    int index = i >= 0 ? i : -i - 2;
    return index >= 0 && ranges.get(index).contains(position);
  }

  /**
   * The keyspace routing after the move: the ranges and entries belong to {@code target}. For a
   * directory keyspace, whose entries the coordinator keeps apart, only the directory version moves
   * on: every entry looked up before is stale.
   */
  public Keyspace applyTo(Keyspace routing, String target) {
    if (routing.isDirectory()) {
      return routing.withGrouping(routing.grouping().withVersion(routing.grouping().version() + 1));
    }
    if (routing.isRange()) {
      RangeMap moved = routing.ranges();
      for (KeyRange range : keyRanges) {
        int index = moved.indexOfStart(range.start().toByteArray());
        if (index < 0 || !moved.range(index).equals(range)) {
          throw ShardClusterException.failedPrecondition(
              "keyspace " + keyspace + " has no range " + range + " any more");
        }
        moved = moved.assign(index, target);
      }
      return routing.withRanges(moved);
    }
    HashRing ring = routing.ring();
    for (PositionRange range : ranges) {
      ring = ring.assign(range, target);
    }
    Directory directory = routing.directory();
    List<DirectoryEntry> moved = new ArrayList<>();
    for (DirectoryEntry entry : entries) {
      moved.add(new DirectoryEntry(entry.key(), entry.prefix(), target));
    }
    for (DirectoryEntry entry : moved) {
      directory = directory.with(entry);
    }
    return routing.withRing(ring).withDirectory(directory);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MovingSet other
        && keyspace.equals(other.keyspace)
        && ranges.equals(other.ranges)
        && slots.equals(other.slots)
        && keyRanges.equals(other.keyRanges)
        && groupSet.equals(other.groupSet);
  }

  @Override
  public int hashCode() {
    return ((ranges.hashCode() * 31 + slots.hashCode()) * 31 + keyRanges.hashCode()) * 31
        + groupSet.hashCode();
  }

  @Override
  public String toString() {
    List<String> parts = new ArrayList<>();
    if (!ranges.isEmpty()) {
      parts.add(
          ranges.size()
              + " range"
              + (ranges.size() == 1 ? "" : "s")
              + String.format(" (%.1f%%)", share() * 100));
    }
    for (DirectoryEntry entry : entries) {
      parts.add((entry.prefix() ? "prefix " : "key ") + entry.key().toStringUtf8());
    }
    keyRanges.forEach(range -> parts.add("keys " + range));
    if (groups.size() <= 3) {
      groups.forEach(group -> parts.add("group " + group.toStringUtf8()));
    } else {
      parts.add(groups.size() + " groups");
    }
    String what = String.join(", ", parts);
    return keyspace.equals(Keyspace.DEFAULT) ? what : keyspace + ": " + what;
  }
}
