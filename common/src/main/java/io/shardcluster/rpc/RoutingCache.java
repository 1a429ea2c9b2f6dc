package io.shardcluster.rpc;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.GetRoutingTableRequest;
import io.shardcluster.proto.v1.RoutingGrpc;
import io.shardcluster.proto.v1.RoutingTableProto;
import io.shardcluster.proto.v1.WatchRoutingTableRequest;
import io.shardcluster.routing.RoutingTable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * The newest routing table this process has seen. Kept current by the coordinator's watch stream
 * (reconnected with backoff) and by explicit refreshes; while the coordinator is unreachable it
 * keeps serving the last table it had.
 */
public final class RoutingCache implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(RoutingCache.class.getName());
  private static final long WATCH_BACKOFF_START_MS = 100;
  // Also how long, at most, the channel stays failed after a restarted coordinator is back: each
  // try of the watch makes it reconnect at once (by itself gRPC would wait out a backoff that grew
  // while the coordinator was down), and group lookups share the channel.
  private static final long WATCH_BACKOFF_MAX_MS = 500;

  private final ManagedChannel coordinator;
  private final RoutingGrpc.RoutingStub stub;
  private final String coordinatorAddress;
  private final Duration timeout;
  private final ScheduledExecutorService scheduler;
  private final AtomicReference<RoutingTable> current = new AtomicReference<>(RoutingTable.empty());
  private final List<Consumer<RoutingTable>> listeners = new CopyOnWriteArrayList<>();
  private final Object lock = new Object();

  @GuardedBy("lock")
  private @Nullable CompletableFuture<RoutingTable> inflight;

  /** Someone waiting for a table newer than {@code epoch}. */
  private record Waiter(long epoch, CompletableFuture<RoutingTable> future) {}

  @GuardedBy("lock")
  private final List<Waiter> waiters = new ArrayList<>();

  @GuardedBy("lock")
  private Context.@Nullable CancellableContext watch;

  @GuardedBy("lock")
  private boolean closed;

  /**
   * Creates a cache that talks to the coordinator over the channel.
   *
   * @param coordinator channel to the coordinator
   * @param coordinatorAddress its address, for error messages
   * @param timeout deadline of one fetch
   * @param scheduler runs watch reconnects
   */
  public RoutingCache(
      ManagedChannel coordinator,
      String coordinatorAddress,
      Duration timeout,
      ScheduledExecutorService scheduler) {
    this.coordinator = coordinator;
    this.stub = RoutingGrpc.newStub(coordinator);
    this.coordinatorAddress = coordinatorAddress;
    this.timeout = timeout;
    this.scheduler = scheduler;
  }

  /** The cached table, without contacting anyone; epoch 0 if none has been seen. */
  public RoutingTable cached() {
    return table();
  }

  // Never null: it starts as the empty table and is only ever replaced by a newer one.
  private RoutingTable table() {
    return requireNonNull(current.get());
  }

  /**
   * The cached table, fetching it first if none has been seen yet. UNAVAILABLE if there is none and
   * the coordinator cannot be reached.
   */
  public RoutingTable current() {
    RoutingTable table = table();
    if (table.epoch() > 0) {
      return table;
    }
    try {
      return refresh().get(timeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw StatusErrors.fromStatus(e);
    } catch (TimeoutException e) {
      throw unreachable("no answer within " + timeout.toMillis() + " ms");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ShardClusterException(ErrorCode.CANCELLED, "interrupted while fetching routing");
    }
  }

  /**
   * Fetches the coordinator's table and installs it if newer. Concurrent callers share one fetch.
   * Completes with the newest table known afterwards, or exceptionally (UNAVAILABLE naming the
   * coordinator) if the fetch failed.
   */
  public CompletableFuture<RoutingTable> refresh() {
    CompletableFuture<RoutingTable> fetch;
    synchronized (lock) {
      if (inflight != null) {
        return inflight;
      }
      fetch = new CompletableFuture<>();
      inflight = fetch;
    }
    UnaryFuture<RoutingTableProto> call = new UnaryFuture<>();
    stub.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
        .getRoutingTable(GetRoutingTableRequest.getDefaultInstance(), call);
    var unused =
        call.whenComplete(
            (proto, error) -> {
              synchronized (lock) {
                inflight = null;
              }
              if (error != null) {
                ShardClusterException e = StatusErrors.fromStatus(error);
                // A coordinator that restarted must be reached at once, not after gRPC's
                // reconnect backoff.
                coordinator.resetConnectBackoff();
                fetch.completeExceptionally(
                    e.code() == ErrorCode.UNAVAILABLE || e.code() == ErrorCode.DEADLINE_EXCEEDED
                        ? unreachable(e.getMessage())
                        : e);
              } else {
                offer(RoutingTables.fromProto(proto));
                fetch.complete(table());
              }
            });
    return fetch;
  }

  /** Installs the table if it is newer than the cached one; returns whether it did. */
  public boolean offer(RoutingTable table) {
    while (true) {
      RoutingTable seen = table();
      if (table.epoch() <= seen.epoch()) {
        return false;
      }
      if (current.compareAndSet(seen, table)) {
        for (Consumer<RoutingTable> listener : listeners) {
          listener.accept(table);
        }
        List<CompletableFuture<RoutingTable>> woken = new ArrayList<>();
        synchronized (lock) {
          waiters.removeIf(
              waiter -> {
                if (waiter.epoch() < table.epoch()) {
                  woken.add(waiter.future());
                  return true;
                }
                return waiter.future().isDone();
              });
        }
        woken.forEach(future -> future.complete(table));
        return true;
      }
    }
  }

  /**
   * Completes with the first table newer than {@code epoch} installed here (at once if there is one
   * already), from the watch stream or a refresh: a request refused because its keys are fenced for
   * a cutover goes again as soon as the commit's table arrives. Cancel it when it is no longer
   * wanted.
   */
  public CompletableFuture<RoutingTable> newerThan(long epoch) {
    CompletableFuture<RoutingTable> future = new CompletableFuture<>();
    synchronized (lock) {
      waiters.removeIf(waiter -> waiter.future().isDone());
      waiters.add(new Waiter(epoch, future));
    }
    RoutingTable table = table();
    if (table.epoch() > epoch) {
      future.complete(table);
    }
    return future;
  }

  /**
   * For blocking callers retrying after a wrong-shard answer: fetches the coordinator's table and,
   * unless it is newer than {@code epoch}, waits up to {@code maxWaitMillis} for a newer one on the
   * watch stream; returns the newest table then. CANCELLED if interrupted.
   */
  public RoutingTable awaitNewer(long epoch, long maxWaitMillis) {
    CompletableFuture<RoutingTable> newer = newerThan(epoch);
    try {
      try {
        refresh().get(timeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException unreachable) {
        // Keep the cached table; the retry tells whether it still works.
      }
      if (table().epoch() <= epoch) {
        newer.get(maxWaitMillis, TimeUnit.MILLISECONDS);
      }
    } catch (TimeoutException | ExecutionException e) {
      // No newer table yet: the caller tries again with what there is.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ShardClusterException(ErrorCode.CANCELLED, "interrupted while waiting to retry");
    } finally {
      newer.cancel(false);
    }
    return table();
  }

  /** Calls the listener with every newer table installed from now on. */
  public void addListener(Consumer<RoutingTable> listener) {
    listeners.add(listener);
  }

  /** Stops calling a listener added before. */
  public void removeListener(Consumer<RoutingTable> listener) {
    listeners.remove(listener);
  }

  /** Subscribes to the coordinator's watch stream, reconnecting whenever it breaks. */
  public void watch() {
    synchronized (lock) {
      if (watch != null || closed) {
        return;
      }
      watch = Context.current().withCancellation();
    }
    openWatch(WATCH_BACKOFF_START_MS);
  }

  private void openWatch(long nextBackoffMs) {
    Context.CancellableContext context;
    synchronized (lock) {
      if (closed) {
        return;
      }
      context = watch;
    }
    if (context == null) {
      return;
    }
    WatchRoutingTableRequest request =
        WatchRoutingTableRequest.newBuilder().setKnownEpoch(table().epoch()).build();
    context.run(
        () ->
            stub.watchRoutingTable(
                request,
                new StreamObserver<>() {
                  private boolean received;

                  @Override
                  public void onNext(RoutingTableProto proto) {
                    received = true;
                    offer(RoutingTables.fromProto(proto));
                  }

                  @Override
                  public void onError(Throwable t) {
                    logger.log(Level.FINE, "routing watch broke; reconnecting", t);
                    coordinator.resetConnectBackoff();
                    reconnect(received ? WATCH_BACKOFF_START_MS : nextBackoffMs);
                  }

                  @Override
                  public void onCompleted() {
                    reconnect(WATCH_BACKOFF_START_MS);
                  }
                }));
  }

  private void reconnect(long backoffMs) {
    synchronized (lock) {
      if (closed) {
        return;
      }
    }
    var unused =
        scheduler.schedule(
            () -> openWatch(Math.min(backoffMs * 2, WATCH_BACKOFF_MAX_MS)),
            backoffMs,
            TimeUnit.MILLISECONDS);
  }

  private ShardClusterException unreachable(@Nullable String reason) {
    return ShardClusterException.unavailable(
        "coordinator at " + coordinatorAddress + " is unreachable: " + reason);
  }

  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      if (watch != null) {
        watch.cancel(null);
      }
    }
  }
}
