package io.shardcluster.routing;

import java.util.Optional;

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
 * @param range the key range holding the key in a range keyspace; null in a hash keyspace
 */
public record Route(
    String keyspace,
    String owner,
    String address,
    long position,
    Interval interval,
    Optional<DirectoryEntry> directoryEntry,
    long epoch,
    KeyRange range) {}
