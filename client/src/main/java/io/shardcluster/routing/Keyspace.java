package io.shardcluster.routing;

import static io.shardcluster.client.ShardClusterException.requireArgument;

import com.google.protobuf.ByteString;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The routing of one keyspace. A hash keyspace places keys by their ring position ({@code ring}),
 * with directory entries overriding the ring; a range keyspace places contiguous key ranges ({@code
 * ranges}, null for hash keyspaces). Immutable.
 */
public record Keyspace(String name, HashRing ring, Directory directory, RangeMap ranges) {
  /** The keyspace every cluster has and every command uses unless told otherwise. */
  public static final String DEFAULT = "default";

  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");

  public Keyspace {
    checkName(name);
    requireArgument(
        ranges == null || (ring.isEmpty() && directory.isEmpty()),
        "a range keyspace has neither a ring nor a directory");
  }

  /** A hash keyspace. */
  public Keyspace(String name, HashRing ring, Directory directory) {
    this(name, ring, directory, null);
  }

  /** Fails with INVALID_ARGUMENT unless the name is 1-64 of [a-z0-9_-], starting alphanumeric. */
  public static String checkName(String name) {
    requireArgument(
        name != null && NAME.matcher(name).matches(),
        "keyspace name '" + name + "' must be 1-64 characters of a-z, 0-9, '_' and '-'");
    return name;
  }

  /** An empty hash keyspace. */
  public static Keyspace hash(String name) {
    return new Keyspace(name, HashRing.empty(), Directory.empty());
  }

  /** A range keyspace. */
  public static Keyspace range(String name, RangeMap ranges) {
    requireArgument(ranges != null, "a range keyspace needs its ranges");
    return new Keyspace(name, HashRing.empty(), Directory.empty(), ranges);
  }

  /** Whether keys are placed by ranges of keys rather than by hash. */
  public boolean isRange() {
    return ranges != null;
  }

  /** The node that owns the key, or null if nobody does yet. */
  public String ownerOf(byte[] key) {
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
   * The nodes that may hold keys in {@code [from, to)} (an empty {@code to} is no bound): for a
   * range keyspace the owners of the overlapping ranges, for a hash keyspace every owner.
   */
  public Set<String> ownersOf(ByteString from, ByteString to) {
    Set<String> owners = new TreeSet<>();
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

  /** Whether the node owns any part of the keyspace. */
  public boolean isOwner(String node) {
    if (ranges != null) {
      return ranges.rangesPerOwner().containsKey(node);
    }
    return !ring.intervalsOf(node).isEmpty()
        || directory.entries().stream().anyMatch(e -> e.owner().equals(node));
  }

  /** A copy with another ring. */
  public Keyspace withRing(HashRing newRing) {
    return new Keyspace(name, newRing, directory, ranges);
  }

  /** A copy with another directory. */
  public Keyspace withDirectory(Directory newDirectory) {
    return new Keyspace(name, ring, newDirectory, ranges);
  }

  /** A copy with other ranges. */
  public Keyspace withRanges(RangeMap newRanges) {
    return new Keyspace(name, ring, directory, newRanges);
  }
}
