package io.shardcluster.client.internal;

import com.google.protobuf.ByteString;
import io.grpc.Deadline;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.NodeUnavailableException;
import io.shardcluster.errors.NotLeaderException;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.errors.WrongShardException;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.routing.Grouping;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.GroupOwners;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingCache;
import io.shardcluster.rpc.StatusErrors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * The request path: routes items (keys, or entries with keys) to their owners under the cached
 * routing table (and, in a directory keyspace, the owners of their groups), sends each owner's
 * batch directly to it, and retries failed batches per the {@link RetryPolicy}, re-routing them
 * under a refreshed table. The one place that retries.
 */
public final class Dispatcher {
  // How long a retry waits for a channel to an unreachable node to reconnect.
  private static final long RECONNECT_WAIT_MILLIS = 250;

  private final RoutingCache routing;
  private final GroupOwners groups;
  private final NodeChannels channels;
  private final RetryPolicy policy;
  private final ScheduledExecutorService scheduler;
  // Leaders named by not-leader answers, per node, used while the routing table still gives the
  // address they were learned under (the coordinator follows the leader within a heartbeat).
  private final Map<String, LeaderHint> leaders = new ConcurrentHashMap<>();

  private record LeaderHint(String tableAddress, String leaderAddress) {}

  /** Sends one owner's batch and completes when the node has answered. */
  @FunctionalInterface
  public interface Sender<T> {
    CompletableFuture<Void> send(ShardNodeGrpc.ShardNodeStub node, List<T> batch, long epoch);
  }

  /** How to split an owner's items into requests. */
  public record Batching<T>(int maxEntries, long maxBytes, ToIntFunction<T> sizeOf) {
    /** One item per request, as for single-key operations. */
    public static <T> Batching<T> single() {
      return new Batching<>(1, Long.MAX_VALUE, item -> 0);
    }
  }

  public Dispatcher(
      RoutingCache routing,
      GroupOwners groups,
      NodeChannels channels,
      RetryPolicy policy,
      ScheduledExecutorService scheduler) {
    this.routing = routing;
    this.groups = groups;
    this.channels = channels;
    this.policy = policy;
    this.scheduler = scheduler;
  }

  /**
   * Sends every item to the owner of its key, batches to different owners in parallel. In a
   * directory keyspace an item whose group has no entry is not sent (nothing of the group is
   * stored), unless {@code write} places the group first.
   *
   * @param keyspace the keyspace the keys belong to
   * @param write whether the items are writes, which place groups that have no entry yet
   * @param items what to send
   * @param keyOf the key of an item
   * @param batching how to split an owner's items into requests
   * @param sender sends one batch
   * @param deadline when the whole operation, retries included, must be done
   */
  public <T> CompletableFuture<Void> dispatch(
      String keyspace,
      boolean write,
      List<T> items,
      Function<T, byte[]> keyOf,
      Batching<T> batching,
      Sender<T> sender,
      Deadline deadline) {
    Request<T> request = new Request<>(keyspace, write, keyOf, batching, sender, deadline);
    RoutingTable table = routing.cached();
    if (table.epoch() == 0) {
      return routing.refresh().thenCompose(fresh -> route(request, items, fresh, 0));
    }
    return route(request, items, table, 0);
  }

  private record Request<T>(
      String keyspace,
      boolean write,
      Function<T, byte[]> keyOf,
      Batching<T> batching,
      Sender<T> sender,
      Deadline deadline) {}

  private <T> CompletableFuture<Void> route(
      Request<T> request, List<T> items, RoutingTable table, int attempt) {
    Keyspace keyspace;
    try {
      keyspace = table.keyspace(request.keyspace());
    } catch (ShardClusterException e) {
      return CompletableFuture.failedFuture(e);
    }
    if (!keyspace.isDirectory()) {
      return route(request, items, table, attempt, item -> owner(table, request, item));
    }
    Grouping grouping = keyspace.grouping();
    List<ByteString> keyGroups = new ArrayList<>();
    for (T item : items) {
      keyGroups.add(grouping.groupOf(request.keyOf().apply(item)));
    }
    return groups
        .owners(
            request.keyspace(), grouping.version(), keyGroups, request.write(), request.deadline())
        .thenCompose(
            owners ->
                route(
                    request,
                    items,
                    table,
                    attempt,
                    item -> owners.get(grouping.groupOf(request.keyOf().apply(item)))));
  }

  private <T> CompletableFuture<Void> route(
      Request<T> request,
      List<T> items,
      RoutingTable table,
      int attempt,
      Function<T, String> ownerOf) {
    Map<String, List<T>> byOwner = new LinkedHashMap<>();
    try {
      for (T item : items) {
        String owner = ownerOf.apply(item);
        if (!owner.equals(GroupOwners.NONE)) {
          byOwner.computeIfAbsent(owner, o -> new ArrayList<>()).add(item);
        }
      }
    } catch (ShardClusterException e) {
      return CompletableFuture.failedFuture(e);
    }
    if (byOwner.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    if (byOwner.size() == 1 && items.size() <= request.batching().maxEntries()) {
      var only = byOwner.entrySet().iterator().next();
      return send(request, only.getKey(), only.getValue(), table, attempt);
    }
    List<CompletableFuture<Void>> sends = new ArrayList<>();
    byOwner.forEach(
        (owner, batch) -> {
          for (List<T> chunk : chunks(batch, request.batching())) {
            sends.add(send(request, owner, chunk, table, attempt));
          }
        });
    return CompletableFuture.allOf(sends.toArray(CompletableFuture[]::new));
  }

  private <T> String owner(RoutingTable table, Request<T> request, T item) {
    String owner = table.ownerOf(request.keyspace(), request.keyOf().apply(item));
    if (owner == null) {
      throw ShardClusterException.unavailable(
          "no shard node has joined the cluster yet (epoch " + table.epoch() + ")");
    }
    return owner;
  }

  private static <T> List<List<T>> chunks(List<T> batch, Batching<T> batching) {
    List<List<T>> chunks = new ArrayList<>();
    List<T> chunk = new ArrayList<>();
    long bytes = 0;
    for (T item : batch) {
      int size = batching.sizeOf().applyAsInt(item);
      if (!chunk.isEmpty()
          && (chunk.size() >= batching.maxEntries() || bytes + size > batching.maxBytes())) {
        chunks.add(chunk);
        chunk = new ArrayList<>();
        bytes = 0;
      }
      chunk.add(item);
      bytes += size;
    }
    if (!chunk.isEmpty()) {
      chunks.add(chunk);
    }
    return chunks;
  }

  private <T> CompletableFuture<Void> send(
      Request<T> request, String owner, List<T> batch, RoutingTable table, int attempt) {
    String address = addressOf(table, owner);
    if (address.isEmpty()) {
      return CompletableFuture.failedFuture(
          ShardClusterException.unavailable(
              "node " + owner + " has no address in routing epoch " + table.epoch()));
    }
    if (request.deadline().isExpired()) {
      return CompletableFuture.failedFuture(deadlineExceeded(owner, address));
    }
    ShardNodeGrpc.ShardNodeStub stub =
        ShardNodeGrpc.newStub(channels.channel(address)).withDeadline(request.deadline());
    CompletableFuture<Void> sent;
    try {
      sent = request.sender().send(stub, batch, table.epoch());
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.exceptionallyCompose(
        failure -> retry(request, owner, address, batch, table, attempt, failure));
  }

  /** The owner's address: its leader's, if a not-leader answer named one since the table came. */
  private String addressOf(RoutingTable table, String owner) {
    String address = table.address(owner).orElse("");
    LeaderHint hint = leaders.get(owner);
    if (hint == null) {
      return address;
    }
    if (hint.tableAddress().equals(address)) {
      return hint.leaderAddress();
    }
    leaders.remove(owner, hint);
    return address;
  }

  private <T> CompletableFuture<Void> retry(
      Request<T> request,
      String owner,
      String address,
      List<T> batch,
      RoutingTable used,
      int attempt,
      Throwable failure) {
    ShardClusterException error = StatusErrors.fromStatus(failure);
    boolean toLeader = false;
    if (error instanceof NotLeaderException notLeader) {
      Optional<String> leader = notLeader.leaderAddress().filter(named -> !named.equals(address));
      if (leader.isPresent()) {
        leaders.put(owner, new LeaderHint(used.address(owner).orElse(""), leader.get()));
        toLeader = true;
      } else {
        leaders.remove(owner);
      }
    } else if (error.code() == ErrorCode.UNAVAILABLE) {
      leaders.remove(owner);
    }
    if (!policy.shouldRetry(error, attempt, used.replicated(owner))
        || request.deadline().isExpired()) {
      if (error.code() == ErrorCode.UNAVAILABLE) {
        channels.resetConnectBackoff(address);
      }
      return CompletableFuture.failedFuture(describe(error, owner, address));
    }
    // A channel that failed to connect waits out gRPC's reconnect backoff (up to minutes) and
    // fails every call meanwhile: a node that restarted must be tried again now, once the channel
    // has reconnected (NodeChannels bounds the wait, and skips it for a node found dead just now).
    CompletableFuture<Void> reconnected =
        error.code() == ErrorCode.UNAVAILABLE
            ? channels.reconnect(address, RECONNECT_WAIT_MILLIS)
            : CompletableFuture.completedFuture(null);
    Keyspace keyspace = used.keyspaces().get(request.keyspace());
    if (error instanceof WrongShardException && keyspace != null && keyspace.isDirectory()) {
      List<ByteString> refused = new ArrayList<>();
      batch.forEach(item -> refused.add(keyspace.grouping().groupOf(request.keyOf().apply(item))));
      groups.forget(request.keyspace(), refused);
    }
    boolean leaderNamed = toLeader;
    long minEpoch =
        error instanceof WrongShardException wrong
            ? Math.max(wrong.epoch(), used.epoch())
            : used.epoch();
    return routing
        .refresh()
        .exceptionally(unreachable -> routing.cached())
        .thenCombine(reconnected, (fresh, ignored) -> fresh)
        .thenCompose(
            fresh -> {
              // A newer table may already send the batch elsewhere: go at once. A node behind our
              // table is fetching it: give it a moment. Otherwise the cluster is mid-change (keys
              // fenced for a cutover: go again when the commit's table arrives, or the fence may
              // have been lifted by a rollback when the backoff ends) or the node is down: back
              // off.
              boolean moved =
                  (fresh.epoch() > used.epoch() && fresh.epoch() >= minEpoch) || leaderNamed;
              boolean nodeBehind =
                  error instanceof WrongShardException wrong && wrong.epoch() < used.epoch();
              long delay = moved ? 0 : policy.backoffMillis(nodeBehind ? 0 : attempt);
              boolean fenced = !moved && !nodeBehind && error instanceof WrongShardException;
              CompletableFuture<Void> wait =
                  fenced ? afterOrNewer(delay, fresh.epoch()) : after(delay);
              return wait.thenCompose(
                  ignored -> route(request, batch, routing.cached(), attempt + 1));
            });
  }

  /** After the delay, or once a table newer than {@code epoch} arrives, whichever is first. */
  private CompletableFuture<Void> afterOrNewer(long millis, long epoch) {
    CompletableFuture<RoutingTable> newer = routing.newerThan(epoch);
    return CompletableFuture.anyOf(after(millis), newer).thenRun(() -> newer.cancel(false));
  }

  private CompletableFuture<Void> after(long millis) {
    if (millis <= 0) {
      return CompletableFuture.completedFuture(null);
    }
    Executor delayed =
        command -> {
          var unused = scheduler.schedule(command, millis, TimeUnit.MILLISECONDS);
        };
    return CompletableFuture.runAsync(() -> {}, delayed);
  }

  private static ShardClusterException describe(
      ShardClusterException error, String owner, String address) {
    return switch (error.code()) {
      case UNAVAILABLE -> new NodeUnavailableException(owner, address, error.getMessage(), error);
      case DEADLINE_EXCEEDED -> deadlineExceeded(owner, address);
      default -> error;
    };
  }

  private static ShardClusterException deadlineExceeded(String owner, String address) {
    return new ShardClusterException(
        ErrorCode.DEADLINE_EXCEEDED,
        "node " + owner + " at " + address + " did not answer before the deadline");
  }
}
