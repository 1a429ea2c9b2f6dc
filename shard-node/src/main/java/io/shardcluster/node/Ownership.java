package io.shardcluster.node;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.rpc.GroupOwners;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Who owns a key: the routing table says, except in a directory keyspace, where the owner of the
 * key's group is the coordinator's entry for it (looked up on first use, cached while the table's
 * directory version stays).
 *
 * <p>A lookup is a call to the coordinator: it must not hold up gRPC's I/O threads, which serve
 * every request of their connections. Code running there goes through {@link #withoutWaiting},
 * where a lookup that is not cached throws {@link LookupNeeded} instead of waiting; the caller
 * starts it with {@link #lookUp} and goes again once it has completed.
 */
final class Ownership {
  private static final ThreadLocal<Boolean> MUST_NOT_WAIT = ThreadLocal.withInitial(() -> false);

  private final GroupOwners groups;

  Ownership(GroupOwners groups) {
    this.groups = groups;
  }

  /** A group lookup a thread that must not wait would have had to wait for. */
  static final class LookupNeeded extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String keyspace;
    private final long version;
    private final ByteString group;

    private LookupNeeded(String keyspace, long version, ByteString group) {
      super("group lookup needed", null, false, false);
      this.keyspace = keyspace;
      this.version = version;
      this.group = group;
    }
  }

  /** The owner of the key, or null if nobody owns it. May wait for a lookup at the coordinator. */
  @Nullable String ownerOf(Keyspace keyspace, byte[] key) {
    if (!keyspace.isDirectory()) {
      return keyspace.ownerOf(key);
    }
    long version = keyspace.grouping().version();
    ByteString group = keyspace.grouping().groupOf(key);
    String owner = groups.cachedOwner(keyspace.name(), version, group);
    if (owner == null) {
      if (MUST_NOT_WAIT.get()) {
        throw new LookupNeeded(keyspace.name(), version, group);
      }
      owner = groups.owner(keyspace.name(), version, group);
    }
    return owner.isEmpty() ? null : owner;
  }

  /** Runs {@code body}; where it would wait for a group lookup, it throws LookupNeeded instead. */
  static <T> T withoutWaiting(Supplier<T> body) {
    boolean outer = MUST_NOT_WAIT.get();
    MUST_NOT_WAIT.set(true);
    try {
      return body.get();
    } finally {
      MUST_NOT_WAIT.set(outer);
    }
  }

  /**
   * Starts the lookup without waiting for it, by the current request's deadline. Completes with the
   * group's owner ({@link GroupOwners#NONE} if it has no entry) once the answer is cached, or with
   * the lookup's error.
   */
  CompletableFuture<String> lookUp(LookupNeeded needed) {
    return groups.ownerLater(
        needed.keyspace, needed.version, needed.group, Context.current().getDeadline());
  }
}
