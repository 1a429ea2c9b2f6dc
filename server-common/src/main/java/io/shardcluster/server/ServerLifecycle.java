package io.shardcluster.server;

import com.google.errorprone.annotations.CanIgnoreReturnValue;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.shardcluster.rpc.Limits;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * The part of a server process's lifecycle the coordinator and shard nodes share: the gRPC server
 * with the health and reflection services, and everything the process opened on the way, closed in
 * the reverse order when it stops (pools before the channels and stores their tasks use).
 */
public final class ServerLifecycle {
  private static final Logger logger = Logger.getLogger(ServerLifecycle.class.getName());
  private static final long GRACE_SECONDS = 5;

  private final HealthStatusManager health = new HealthStatusManager();

  @GuardedBy("this")
  private final Deque<AutoCloseable> opened = new ArrayDeque<>();

  @GuardedBy("this")
  private @Nullable Server server;

  /** Closes {@code resource} when the process stops, before anything opened earlier. */
  @CanIgnoreReturnValue
  public synchronized <T extends AutoCloseable> T closeOnStop(T resource) {
    opened.push(resource);
    return resource;
  }

  /** Stops the pool when the process stops, waiting a few seconds for its tasks to notice. */
  @CanIgnoreReturnValue
  public <T extends ExecutorService> T shutDownOnStop(T pool) {
    closeOnStop(
        () -> {
          pool.shutdownNow();
          if (!pool.awaitTermination(GRACE_SECONDS, TimeUnit.SECONDS)) {
            logger.warning("a pool's tasks did not stop within " + GRACE_SECONDS + " s");
          }
        });
    return pool;
  }

  /** Closes the channel when the process stops. */
  @CanIgnoreReturnValue
  public ManagedChannel shutDownOnStop(ManagedChannel channel) {
    closeOnStop(channel::shutdownNow);
    return channel;
  }

  /**
   * Adds the health and reflection services, starts serving and reports SERVING; UNAVAILABLE with a
   * plain message if the port is taken.
   */
  public synchronized Server serve(ServerBuilder<?> builder, String host, int port) {
    builder
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .maxInboundMessageSize(Limits.MAX_MESSAGE_BYTES);
    Server started = ServerStartup.start(builder, host, port);
    server = started;
    health.setStatus("", ServingStatus.SERVING);
    return started;
  }

  /** The port the server listens on (useful with port 0); IllegalStateException before serving. */
  public synchronized int port() {
    if (server == null) {
      throw new IllegalStateException("not serving");
    }
    return server.getPort();
  }

  /**
   * Stops serving, letting calls in flight finish for a few seconds, then closes what was opened,
   * newest first. Safe to call more than once, and after a failed start.
   */
  public void stop() {
    health.enterTerminalState();
    Server serving;
    synchronized (this) {
      serving = server;
    }
    if (serving != null) {
      serving.shutdown();
      try {
        if (!serving.awaitTermination(GRACE_SECONDS, TimeUnit.SECONDS)) {
          serving.shutdownNow();
          serving.awaitTermination(2, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        serving.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    while (true) {
      AutoCloseable next;
      synchronized (this) {
        next = opened.poll();
      }
      if (next == null) {
        return;
      }
      try {
        next.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (Exception e) {
        logger.log(Level.WARNING, "closing on stop failed", e);
      }
    }
  }

  /** Waits until the server terminates (at once if it never started). */
  public void blockUntilShutdown() throws InterruptedException {
    Server serving;
    synchronized (this) {
      serving = server;
    }
    if (serving != null) {
      serving.awaitTermination();
    }
  }
}
