package io.shardcluster.rpc;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * One gRPC channel per address, created on first use and shared by every call to that address.
 * Channels made by {@link #netty(int)} share a small pool of I/O threads owned by this object.
 */
public final class NodeChannels implements AutoCloseable {
  private final ConcurrentMap<String, Long> unreachableUntil = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Function<String, ManagedChannel> factory;
  private final @Nullable EventLoopGroup ioThreads;

  private NodeChannels(
      Function<String, ManagedChannel> factory, @Nullable EventLoopGroup ioThreads) {
    this.factory = factory;
    this.ioThreads = ioThreads;
  }

  /** Channels from a factory, such as in-process channels in tests. */
  public NodeChannels(Function<String, ManagedChannel> factory) {
    this(factory, null);
  }

  /**
   * Plaintext Netty channels on {@code threads} I/O threads of their own. Fewer I/O threads than
   * gRPC's default (two per core) mean fewer wake-ups of one thread by another: on two cores, one
   * or two threads give about 1.35x the request rate of four.
   */
  public static NodeChannels netty(int threads) {
    ThreadFactory named = DaemonThreads.numbered("shardcluster-io-");
    EventLoopGroup group =
        new MultiThreadIoEventLoopGroup(
            threads,
            named,
            Epoll.isAvailable() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    Class<? extends Channel> type =
        Epoll.isAvailable() ? EpollSocketChannel.class : NioSocketChannel.class;
    return new NodeChannels(
        address -> builder(address).eventLoopGroup(group).channelType(type).build(), group);
  }

  /** A plaintext channel to {@code host:port} on gRPC's shared I/O threads. */
  public static ManagedChannel plaintext(String address) {
    return builder(address).build();
  }

  private static NettyChannelBuilder builder(String address) {
    HostPort target = HostPort.parse(address);
    return NettyChannelBuilder.forAddress(target.host(), target.port())
        .usePlaintext()
        // Responses are decoded on the I/O thread, which saves a thread hop per call; nothing we
        // run there blocks.
        .directExecutor()
        // Retries are the client's own (Dispatcher), with routing refreshes gRPC knows nothing of.
        .disableRetry()
        .maxInboundMessageSize(Limits.MAX_MESSAGE_BYTES);
  }

  /** The channel to an address. */
  public ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, factory);
  }

  /** Makes the channel to the address, if any, reconnect at once instead of after its backoff. */
  public void resetConnectBackoff(String address) {
    ManagedChannel channel = channels.get(address);
    if (channel != null) {
      channel.resetConnectBackoff();
    }
  }

  /**
   * Makes the channel to the address reconnect at once, and completes when it is connected or after
   * {@code maxMillis}: a call made at once after a reset would still get the channel's last failure
   * while the new attempt is under way. An address that did not connect in time is not waited for
   * again for a second, so calls to a dead node keep failing fast.
   */
  public CompletableFuture<Void> reconnect(String address, long maxMillis) {
    ManagedChannel channel = channels.get(address);
    if (channel == null) {
      return CompletableFuture.completedFuture(null);
    }
    channel.resetConnectBackoff();
    Long quietUntil = unreachableUntil.get(address);
    if (quietUntil != null && System.nanoTime() - quietUntil < 0) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> ready = new CompletableFuture<>();
    awaitReady(channel, channel.getState(true), ready);
    return ready
        .completeOnTimeout(null, maxMillis, TimeUnit.MILLISECONDS)
        .whenComplete(
            (ignored, failure) -> {
              if (channel.getState(false) != ConnectivityState.READY) {
                unreachableUntil.put(address, System.nanoTime() + TimeUnit.SECONDS.toNanos(1));
              }
            });
  }

  private static void awaitReady(
      ManagedChannel channel, ConnectivityState state, CompletableFuture<Void> ready) {
    if (state == ConnectivityState.READY || state == ConnectivityState.SHUTDOWN) {
      ready.complete(null);
    } else if (!ready.isDone()) {
      channel.notifyWhenStateChanged(
          state, () -> awaitReady(channel, channel.getState(false), ready));
    }
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdown);
    for (ManagedChannel channel : channels.values()) {
      try {
        if (!channel.awaitTermination(2, TimeUnit.SECONDS)) {
          channel.shutdownNow();
        }
      } catch (InterruptedException e) {
        channel.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    channels.clear();
    if (ioThreads != null) {
      var unused = ioThreads.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    }
  }
}
