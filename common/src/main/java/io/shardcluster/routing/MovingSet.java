package io.shardcluster.routing;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ShardClusterException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

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
  // The directory the set's keys are judged by; null: the routing's it is asked with.
  private final @Nullable Directory judgedBy;

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
    this(keyspace, ranges, entries, keyRanges, groups, null);
  }

  /**
   * Creates a set.
   *
   * @param keyspace the keyspace of the keys
   * @param ranges disjoint position ranges (of keys, or of groups in a directory keyspace)
   * @param entries directory entries whose keys move (their owner is not consulted)
   * @param keyRanges whole ranges of a range keyspace
   * @param groups groups of a directory keyspace
   * @param judgedBy the directory its keys are judged by (see {@link #judgedBy()}); null for the
   *     routing's
   */
  public MovingSet(
      String keyspace,
      List<PositionRange> ranges,
      List<DirectoryEntry> entries,
      List<KeyRange> keyRanges,
      List<ByteString> groups,
      @Nullable Directory judgedBy) {
    this.keyspace = keyspace;
    this.judgedBy = judgedBy;
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
   * The directory the set's keys are judged by, if not the routing's it is asked with: which entry
   * places a key, and so whether the ranges or an entry of the set hold it, as of that directory. A
   * node's share of a query asked again at a later epoch is judged by the directory of the epoch it
   * was taken at (entries added, removed or moved since would otherwise shift keys between shares);
   * a migration that removes an entry moves the keys that would be the target's without it.
   */
  public Optional<Directory> judgedBy() {
    return Optional.ofNullable(judgedBy);
  }

  /** A copy whose keys are judged by the directory (see {@link #judgedBy()}). */
  public MovingSet judgedBy(Directory directory) {
    return new MovingSet(keyspace, ranges, entries, keyRanges, groups, directory);
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
    // Not empty: the loop set both.
    return new KeyRange(requireNonNull(start), requireNonNull(end));
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
        (judgedBy != null ? judgedBy : routing.directory()).entryFor(key);
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
        && groupSet.equals(other.groupSet)
        && Objects.equals(judgedBy, other.judgedBy);
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
