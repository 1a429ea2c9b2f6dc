package io.shardcluster.node;

import io.shardcluster.client.internal.GroupOwners;
import io.shardcluster.routing.Keyspace;

/**
 * Who owns a key: the routing table says, except in a directory keyspace, where the owner of the
 * key's group is the coordinator's entry for it (looked up on first use, cached while the table's
 * directory version stays).
 */
final class Ownership {
  private final GroupOwners groups;

  Ownership(GroupOwners groups) {
    this.groups = groups;
  }

  /** The owner of the key, or null if nobody owns it. May wait for a lookup at the coordinator. */
  String ownerOf(Keyspace keyspace, byte[] key) {
    if (!keyspace.isDirectory()) {
      return keyspace.ownerOf(key);
    }
    String owner =
        groups.owner(
            keyspace.name(), keyspace.grouping().version(), keyspace.grouping().groupOf(key));
    return owner.isEmpty() ? null : owner;
  }
}
