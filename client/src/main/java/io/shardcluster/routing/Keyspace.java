package io.shardcluster.routing;

import static io.shardcluster.client.ShardClusterException.requireArgument;

import java.util.regex.Pattern;

/**
 * The routing of one keyspace: its hash ring, and directory entries that override the ring.
 * Immutable.
 */
public record Keyspace(String name, HashRing ring, Directory directory) {
  /** The keyspace every cluster has and every command uses unless told otherwise. */
  public static final String DEFAULT = "default";

  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");

  public Keyspace {
    checkName(name);
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

  /** The node that owns the key, or null if nobody does yet. */
  public String ownerOf(byte[] key) {
    if (!directory.isEmpty()) {
      var entry = directory.entryFor(key);
      if (entry.isPresent()) {
        return entry.get().owner();
      }
    }
    return ring.ownerOf(KeyHash.position(key));
  }

  /** A copy with another ring. */
  public Keyspace withRing(HashRing newRing) {
    return new Keyspace(name, newRing, directory);
  }

  /** A copy with another directory. */
  public Keyspace withDirectory(Directory newDirectory) {
    return new Keyspace(name, ring, newDirectory);
  }
}
