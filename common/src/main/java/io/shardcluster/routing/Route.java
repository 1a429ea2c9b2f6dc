package io.shardcluster.routing;

import com.google.protobuf.ByteString;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Where a key lives under one routing table: the owner, its address, the key's position and what
 * placed it there.
 *
 * @param keyspace the keyspace name
 * @param owner the owning node's id
 * @param address the owner's host:port
 * @param position the key's position on the ring
 * @param interval the ring interval holding the position; null in a range keyspace
 * @param directoryEntry the directory entry that overrides the ring, if any
 * @param epoch the routing table's epoch
 * @param range the key range holding the key in a range keyspace; null otherwise
 * @param group the key's group in a directory keyspace; null otherwise
 */
public record Route(
    String keyspace,
    String owner,
    String address,
    long position,
    @Nullable Interval interval,
    Optional<DirectoryEntry> directoryEntry,
    long epoch,
    @Nullable KeyRange range,
    @Nullable ByteString group) {
  /** The route of a key of a directory keyspace, placed by its group's entry. */
  public static Route ofGroup(
      String keyspace, ByteString group, String owner, String address, long position, long epoch) {
    return new Route(
        keyspace, owner, address, position, null, Optional.empty(), epoch, null, group);
  }
}
