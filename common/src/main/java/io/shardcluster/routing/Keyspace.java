package io.shardcluster.routing;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The routing of one keyspace. A hash keyspace places keys by their ring position ({@code ring}),
 * with directory entries overriding the ring; a range keyspace places contiguous key ranges ({@code
 * ranges}, null otherwise); a directory keyspace places each key's group by an entry the
 * coordinator keeps, looked up by group ({@code grouping}, null otherwise). Immutable.
 */
public record Keyspace(
    String name,
    HashRing ring,
    Directory directory,
    @Nullable RangeMap ranges,
    @Nullable Grouping grouping) {
  /** The keyspace every cluster has and every command uses unless told otherwise. */
  public static final String DEFAULT = "default";

  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");

  public Keyspace {
    checkName(name);
    requireArgument(
        (ranges == null && grouping == null) || (ring.isEmpty() && directory.isEmpty()),
        "a range or directory keyspace has neither a ring nor directory entries");
    requireArgument(ranges == null || grouping == null, "a keyspace is either range or directory");
  }

  /** A hash keyspace. */
  public Keyspace(String name, HashRing ring, Directory directory) {
    this(name, ring, directory, null, null);
  }

  /** Fails with INVALID_ARGUMENT unless the name is 1-64 of [a-z0-9_-], starting alphanumeric. */
  public static String checkName(String name) {
    requireArgument(
        name != null && NAME.matcher(name).matches(),
        "keyspace name '%s' must be 1-64 characters of a-z, 0-9, '_' and '-'",
        name);
    return name;
  }

  /** An empty hash keyspace. */
  public static Keyspace hash(String name) {
    return new Keyspace(name, HashRing.empty(), Directory.empty());
  }

  /** A range keyspace. */
  public static Keyspace range(String name, RangeMap ranges) {
    requireArgument(ranges != null, "a range keyspace needs its ranges");
    return new Keyspace(name, HashRing.empty(), Directory.empty(), ranges, null);
  }

  /** A directory keyspace. */
  public static Keyspace directory(String name, Grouping grouping) {
    requireArgument(grouping != null, "a directory keyspace needs its grouping");
    return new Keyspace(name, HashRing.empty(), Directory.empty(), null, grouping);
  }

  /** Whether keys are placed by ranges of keys rather than by hash. */
  public boolean isRange() {
    return ranges != null;
  }

  /** Whether each key's group is placed by a looked-up directory entry. */
  public boolean isDirectory() {
    return grouping != null;
  }

  /** The ranges of a range keyspace; IllegalStateException for others (ask {@link #isRange}). */
  @Override
  public RangeMap ranges() {
    if (ranges == null) {
      throw new IllegalStateException("keyspace " + name + " is not a range keyspace");
    }
    return ranges;
  }

  /**
   * How a directory keyspace groups keys; IllegalStateException for others (ask {@link
   * #isDirectory}).
   */
  @Override
  public Grouping grouping() {
    if (grouping == null) {
      throw new IllegalStateException("keyspace " + name + " is not a directory keyspace");
    }
    return grouping;
  }

  /**
   * The node that owns the key, or null if nobody does yet. Not for directory keyspaces, whose
   * owners are looked up by group ({@code IllegalStateException}).
   */
  public @Nullable String ownerOf(byte[] key) {
    if (grouping != null) {
      throw new IllegalStateException(
          "keyspace " + name + " places keys by looked-up groups, not by the routing table");
    }
    if (ranges != null) {
      return ranges.ownerOf(key);
    }
    if (!directory.isEmpty()) {
      var entry = directory.entryFor(key);
      if (entry.isPresent()) {
        return entry.get().owner();
      }
    }
    return ring.ownerOf(KeyHash.position(key));
  }

  /**
   * In a hash keyspace, the one node that every key the directory entry places (or would place,
   * once added) belongs to now, if there is one: the entry's own owner if it exists; for an exact
   * key, the key's owner; for a prefix, the owner of a shorter prefix entry covering it. Empty for
   * a new prefix whose keys the ring spreads over the nodes.
   */
  public Optional<String> soleOwnerOf(DirectoryEntry entry) {
    if (grouping != null || ranges != null) {
      throw new IllegalStateException("keyspace " + name + " has no directory entries");
    }
    Optional<DirectoryEntry> existing = directory.get(entry.key(), entry.prefix());
    if (existing.isPresent()) {
      return Optional.of(existing.get().owner());
    }
    if (!entry.prefix()) {
      return Optional.ofNullable(ownerOf(entry.key().toByteArray()));
    }
    return directory.coveringPrefix(entry.key()).map(DirectoryEntry::owner);
  }

  /**
   * The nodes that may hold keys in {@code [from, to)} (an empty {@code to} is no bound): for a
   * range keyspace the owners of the overlapping ranges, for a hash keyspace every owner, for a
   * directory keyspace every node of {@code nodes}.
   */
  public Set<String> ownersOf(ByteString from, ByteString to, Set<String> nodes) {
    Set<String> owners = new TreeSet<>();
    if (grouping != null) {
      owners.addAll(nodes);
      return owners;
    }
    if (ranges != null) {
      byte[] start = from.toByteArray();
      byte[] end = to.toByteArray();
      for (int i = ranges.indexOf(start); i < ranges.size(); i++) {
        if (end.length > 0 && i > 0 && Arrays.compareUnsigned(ranges.start(i), end) >= 0) {
          break;
        }
        owners.add(ranges.owner(i));
      }
      return owners;
    }
    ring.intervals().forEach(i -> owners.add(i.owner()));
    directory.entries().forEach(e -> owners.add(e.owner()));
    return owners;
  }

  /**
   * Whether the node owns any part of the keyspace; for a directory keyspace, whose entries are
   * kept apart, whether it could (true).
   */
  public boolean isOwner(String node) {
    if (grouping != null) {
      return true;
    }
    if (ranges != null) {
      return ranges.rangesPerOwner().containsKey(node);
    }
    return !ring.intervalsOf(node).isEmpty()
        || directory.entries().stream().anyMatch(e -> e.owner().equals(node));
  }

  /**
   * The keys the node owns here, as a set later routings can be asked about (the set does not
   * change when owners do): its intervals and directory entries in a hash keyspace, its ranges in a
   * range keyspace. Not for directory keyspaces, whose groups are kept apart ({@code
   * IllegalStateException}).
   */
  public MovingSet shareOf(String node) {
    if (grouping != null) {
      throw new IllegalStateException("keyspace " + name + " keeps its groups' owners apart");
    }
    if (ranges != null) {
      List<KeyRange> owned = new ArrayList<>();
      for (int i = 0; i < ranges.size(); i++) {
        if (ranges.owner(i).equals(node)) {
          owned.add(ranges.range(i));
        }
      }
      return MovingSet.ofKeyRanges(name, owned);
    }
    List<PositionRange> positions =
        ring.intervalsOf(node).stream().map(i -> new PositionRange(i.start(), i.end())).toList();
    List<DirectoryEntry> entries =
        directory.entries().stream().filter(e -> e.owner().equals(node)).toList();
    return new MovingSet(name, positions, entries);
  }

  /**
   * The node's share here, to be judged at a {@code later} routing of this keyspace: {@link
   * #shareOf(String)}, judged by this directory if the later one differs (see {@link
   * MovingSet#judgedBy()}), so that its keys stay those the node owned here, wherever directory
   * changes since have moved them. Not for directory keyspaces ({@code IllegalStateException}).
   */
  public MovingSet shareOf(String node, Keyspace later) {
    MovingSet share = shareOf(node);
    return ranges != null || later.directory().equals(directory)
        ? share
        : share.judgedBy(directory);
  }

  /**
   * The nodes that own some of the set's keys here (a superset where directory entries place keys
   * inside its intervals, or where the set is judged by another directory). Not for directory
   * keyspaces ({@code IllegalStateException}).
   */
  public Set<String> ownersOf(MovingSet share) {
    if (grouping != null) {
      throw new IllegalStateException("keyspace " + name + " keeps its groups' owners apart");
    }
    Set<String> owners = new TreeSet<>();
    if (ranges != null) {
      for (KeyRange range : share.keyRanges()) {
        owners.addAll(ownersOf(range.start(), range.end(), Set.of()));
      }
      return owners;
    }
    for (PositionRange range : share.ranges()) {
      for (Interval interval : ring.intervals()) {
        boolean startsBeforeEnd =
            range.end() == 0 || Long.compareUnsigned(interval.start(), range.end()) < 0;
        boolean endsAfterStart =
            interval.end() == 0 || Long.compareUnsigned(range.start(), interval.end()) < 0;
        if (startsBeforeEnd && endsAfterStart) {
          owners.add(interval.owner());
        }
      }
    }
    for (DirectoryEntry entry : share.entries()) {
      directory.get(entry.key(), entry.prefix()).ifPresent(e -> owners.add(e.owner()));
    }
    if (share.judgedBy().filter(judging -> !judging.equals(directory)).isPresent()) {
      // Judged by another directory: keys of the set may now be anywhere its changes put them.
      owners.addAll(ring.shares().keySet());
      directory.entries().forEach(e -> owners.add(e.owner()));
    }
    return owners;
  }

  /** A copy with another ring. */
  public Keyspace withRing(HashRing newRing) {
    return new Keyspace(name, newRing, directory, ranges, grouping);
  }

  /** A copy with another directory. */
  public Keyspace withDirectory(Directory newDirectory) {
    return new Keyspace(name, ring, newDirectory, ranges, grouping);
  }

  /** A copy with other ranges. */
  public Keyspace withRanges(RangeMap newRanges) {
    return new Keyspace(name, ring, directory, newRanges, grouping);
  }

  /** A copy with another grouping. */
  public Keyspace withGrouping(Grouping newGrouping) {
    return new Keyspace(name, ring, directory, ranges, newGrouping);
  }
}
