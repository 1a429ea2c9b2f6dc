package io.shardcluster.rpc;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import com.google.protobuf.ByteString;
import io.grpc.ConnectivityState;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.GroupEntry;
import io.shardcluster.proto.v1.LookupGroupsRequest;
import io.shardcluster.proto.v1.LookupGroupsResponse;
import io.shardcluster.proto.v1.RoutingGrpc;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * The owners of directory-keyspace groups, as the coordinator's directory records them: a bounded
 * cache in front of batched lookups. A cached entry is used only while it is at least as new as the
 * keyspace's directory version in the caller's routing table (which moves on whenever an existing
 * group changes owner); groups without an entry are never cached. A lookup that finds the
 * coordinator unreachable reconnects and tries again until its deadline, so a coordinator restart
 * costs the requests it catches a delay, not an error.
 */
public final class GroupOwners {
  /** The answer for a group that has no entry: nothing of it is stored anywhere. */
  public static final String NONE = "";

  // How long a lookup waits for the coordinator's channel to reconnect, and then between tries
  // while it stays unreachable.
  private static final long RECONNECT_WAIT_MILLIS = 250;
  private static final long RETRY_MILLIS = 100;

  private final NodeChannels channels;
  private final ManagedChannel channel;
  private final RoutingGrpc.RoutingStub stub;
  private final String coordinatorAddress;
  private final Duration timeout;
  private final Cache<Slot, Owner> cache;

  private record Slot(String keyspace, ByteString group) {}

  private record Owner(String node, long version) {}

  /**
   * Creates a directory client.
   *
   * @param channels the channels, the coordinator's among them
   * @param coordinatorAddress the coordinator's address
   * @param timeout deadline of a lookup made for a single group
   * @param maxCached the most entries kept (least recently used ones go first)
   */
  public GroupOwners(
      NodeChannels channels, String coordinatorAddress, Duration timeout, long maxCached) {
    this.channels = channels;
    this.channel = channels.channel(coordinatorAddress);
    this.stub = RoutingGrpc.newStub(channel);
    this.coordinatorAddress = coordinatorAddress;
    this.timeout = timeout;
    this.cache = CacheBuilder.newBuilder().maximumSize(maxCached).build();
  }

  /**
   * The owner of each group ({@link #NONE} for a group without an entry), from the cache where it
   * is current for {@code version} and from one coordinator lookup for the rest, done by {@code
   * deadline}. With {@code place}, groups without an entry are placed first.
   */
  public CompletableFuture<Map<ByteString, String>> owners(
      String keyspace,
      long version,
      Collection<ByteString> groups,
      boolean place,
      Deadline deadline) {
    Map<ByteString, String> owners = new HashMap<>();
    Set<ByteString> missing = new LinkedHashSet<>();
    for (ByteString group : groups) {
      Owner cached = cache.getIfPresent(new Slot(keyspace, group));
      if (cached != null && cached.version() >= version) {
        owners.put(group, cached.node());
      } else {
        missing.add(group);
      }
    }
    if (missing.isEmpty()) {
      return CompletableFuture.completedFuture(owners);
    }
    LookupGroupsRequest request =
        LookupGroupsRequest.newBuilder()
            .setKeyspace(keyspace)
            .addAllGroups(missing)
            .setPlace(place)
            .build();
    return lookup(request, deadline)
        .thenApply(
            response -> {
              for (GroupEntry entry : response.getEntriesList()) {
                owners.put(entry.getGroup(), entry.getOwner());
                if (!entry.getOwner().isEmpty()) {
                  cache.put(
                      new Slot(keyspace, entry.getGroup()),
                      new Owner(entry.getOwner(), response.getDirectoryVersion()));
                }
              }
              return owners;
            });
  }

  private CompletableFuture<LookupGroupsResponse> lookup(
      LookupGroupsRequest request, Deadline deadline) {
    UnaryFuture<LookupGroupsResponse> call = new UnaryFuture<>();
    stub.withDeadline(deadline).lookupGroups(request, call);
    return call.exceptionallyCompose(
        error -> {
          ShardClusterException e = StatusErrors.fromStatus(error);
          if (e.code() != ErrorCode.UNAVAILABLE || deadline.isExpired()) {
            return CompletableFuture.<LookupGroupsResponse>failedFuture(describe(e));
          }
          // Unreachable: reconnect at once rather than after gRPC's reconnect backoff (which
          // fails every call meanwhile), and go again; a pause between tries while it is down.
          return channels
              .reconnect(coordinatorAddress, RECONNECT_WAIT_MILLIS)
              .thenCompose(
                  ignored ->
                      channel.getState(false) == ConnectivityState.READY
                          ? CompletableFuture.completedFuture(null)
                          : CompletableFuture.runAsync(
                              () -> {},
                              CompletableFuture.delayedExecutor(
                                  RETRY_MILLIS, TimeUnit.MILLISECONDS)))
              .thenCompose(ignored -> lookup(request, deadline));
        });
  }

  /** The group's owner if the cache has it current for {@code version}; null otherwise. */
  public @Nullable String cachedOwner(String keyspace, long version, ByteString group) {
    Owner cached = cache.getIfPresent(new Slot(keyspace, group));
    return cached != null && cached.version() >= version ? cached.node() : null;
  }

  /**
   * The owner of one group ({@link #NONE} if it has no entry), from the cache or one lookup done by
   * {@code deadline} (this client's timeout if null), without waiting for it.
   */
  public CompletableFuture<String> ownerLater(
      String keyspace, long version, ByteString group, @Nullable Deadline deadline) {
    Deadline by =
        deadline != null ? deadline : Deadline.after(timeout.toMillis(), TimeUnit.MILLISECONDS);
    return owners(keyspace, version, Set.of(group), false, by)
        .thenApply(owners -> owners.getOrDefault(group, NONE));
  }

  /** The owner of one group, waiting for a lookup if needed; {@link #NONE} if it has no entry. */
  public String owner(String keyspace, long version, ByteString group) {
    String cached = cachedOwner(keyspace, version, group);
    if (cached != null) {
      return cached;
    }
    try {
      return ownerLater(keyspace, version, group, null)
          .get(timeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof ShardClusterException known
          ? known
          : StatusErrors.fromStatus(e.getCause() != null ? e.getCause() : e);
    } catch (TimeoutException e) {
      throw describe(
          new ShardClusterException(ErrorCode.DEADLINE_EXCEEDED, "no answer in time", e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ShardClusterException(ErrorCode.CANCELLED, "interrupted during a group lookup");
    }
  }

  /** Drops the cached entries of the groups (after a node refused them). */
  public void forget(String keyspace, Collection<ByteString> groups) {
    for (ByteString group : groups) {
      cache.invalidate(new Slot(keyspace, group));
    }
  }

  /** Entries cached now. */
  public long size() {
    return cache.size();
  }

  private ShardClusterException describe(ShardClusterException error) {
    if (error.code() == ErrorCode.UNAVAILABLE || error.code() == ErrorCode.DEADLINE_EXCEEDED) {
      return ShardClusterException.unavailable(
          "coordinator at "
              + coordinatorAddress
              + " is unreachable for a directory lookup: "
              + error.getMessage());
    }
    return error;
  }
}
