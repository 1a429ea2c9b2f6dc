package io.shardcluster.routing;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Directory entries of one keyspace: exact keys and key prefixes placed on nodes. An exact entry
 * wins over prefixes; among prefixes the longest wins. Immutable.
 */
public final class Directory {
  private static final Directory EMPTY = new Directory(List.of());

  private final List<DirectoryEntry> entries;
  private final Map<ByteString, DirectoryEntry> exact = new HashMap<>();
  private final Map<ByteString, DirectoryEntry> prefixes = new HashMap<>();
  // Distinct prefix lengths, longest first, so lookups try only lengths that exist.
  private final int[] prefixLengths;

  private Directory(List<DirectoryEntry> entries) {
    this.entries =
        entries.stream()
            .sorted(
                Comparator.comparing(
                        DirectoryEntry::key, ByteString.unsignedLexicographicalComparator())
                    .thenComparing(DirectoryEntry::prefix))
            .toList();
    NavigableSet<Integer> lengths = new TreeSet<>(Comparator.reverseOrder());
    for (DirectoryEntry entry : entries) {
      if (entry.prefix()) {
        prefixes.put(entry.key(), entry);
        lengths.add(entry.key().size());
      } else {
        exact.put(entry.key(), entry);
      }
    }
    this.prefixLengths = lengths.stream().mapToInt(Integer::intValue).toArray();
  }

  /** A directory with no entries. */
  public static Directory empty() {
    return EMPTY;
  }

  /**
   * A directory of the given entries; a later entry for the same key and kind replaces an earlier.
   */
  public static Directory of(Collection<DirectoryEntry> entries) {
    Map<Slot, DirectoryEntry> unique = new HashMap<>();
    for (DirectoryEntry entry : entries) {
      unique.put(new Slot(entry.key(), entry.prefix()), entry);
    }
    return unique.isEmpty() ? EMPTY : new Directory(List.copyOf(unique.values()));
  }

  /** All entries, sorted by key. */
  public List<DirectoryEntry> entries() {
    return entries;
  }

  /** Whether there are no entries. */
  public boolean isEmpty() {
    return entries.isEmpty();
  }

  /** The entry that places the key, if any. */
  public Optional<DirectoryEntry> entryFor(byte[] key) {
    if (entries.isEmpty()) {
      return Optional.empty();
    }
    DirectoryEntry hit = exact.get(UnsafeByteOperations.unsafeWrap(key));
    if (hit != null) {
      return Optional.of(hit);
    }
    for (int length : prefixLengths) {
      if (length <= key.length) {
        hit = prefixes.get(UnsafeByteOperations.unsafeWrap(key, 0, length));
        if (hit != null) {
          return Optional.of(hit);
        }
      }
    }
    return Optional.empty();
  }

  /**
   * The longest prefix entry that covers every key starting with {@code prefix} (its key is a
   * shorter prefix of it), if any.
   */
  public Optional<DirectoryEntry> coveringPrefix(ByteString prefix) {
    for (int length : prefixLengths) {
      if (length < prefix.size()) {
        DirectoryEntry hit = prefixes.get(prefix.substring(0, length));
        if (hit != null) {
          return Optional.of(hit);
        }
      }
    }
    return Optional.empty();
  }

  /** Whether the entry places the key if no other entry outranks it. */
  public static boolean matches(DirectoryEntry entry, byte[] key) {
    ByteString entryKey = entry.key();
    if (entry.prefix() ? key.length < entryKey.size() : key.length != entryKey.size()) {
      return false;
    }
    for (int i = 0; i < entryKey.size(); i++) {
      if (entryKey.byteAt(i) != key[i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether {@code a} wins over {@code b} for a key both match: an exact entry over a prefix, a
   * longer prefix over a shorter one.
   */
  public static boolean outranks(DirectoryEntry a, DirectoryEntry b) {
    if (a.prefix() != b.prefix()) {
      return !a.prefix();
    }
    return a.key().size() > b.key().size();
  }

  /** The entry for exactly this key and kind, if any. */
  public Optional<DirectoryEntry> get(ByteString key, boolean prefix) {
    return Optional.ofNullable(prefix ? prefixes.get(key) : exact.get(key));
  }

  /** The entry for exactly this key and kind; NOT_FOUND, naming it, if there is none. */
  public DirectoryEntry existing(ByteString key, boolean prefix) {
    return get(key, prefix)
        .orElseThrow(
            () ->
                io.shardcluster.errors.ShardClusterException.notFound(
                    "no directory entry for "
                        + (prefix ? "prefix '" : "key '")
                        + key.toStringUtf8()
                        + "'"));
  }

  /** A directory with the entry added, replacing any entry for the same key and kind. */
  public Directory with(DirectoryEntry entry) {
    List<DirectoryEntry> next = new ArrayList<>(entries);
    next.add(entry);
    return of(next);
  }

  /** A directory without the entry for this key and kind. */
  public Directory without(ByteString key, boolean prefix) {
    return new Directory(
        entries.stream().filter(e -> !(e.key().equals(key) && e.prefix() == prefix)).toList());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Directory other && entries.equals(other.entries);
  }

  @Override
  public int hashCode() {
    return entries.hashCode();
  }

  private record Slot(ByteString key, boolean prefix) {}
}
