package io.shardcluster.client.internal;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.shardcluster.wire.HostPort;
import io.shardcluster.wire.Limits;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** One gRPC channel per address, created on first use and shared by every call to that address. */
public final class NodeChannels implements AutoCloseable {
  private final ConcurrentMap<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Function<String, ManagedChannel> factory;

  /** Plaintext channels over Netty, with the cluster's message size limit. */
  public NodeChannels() {
    this(NodeChannels::plaintext);
  }

  /** Channels from a factory, so tests can use in-process channels. */
  public NodeChannels(Function<String, ManagedChannel> factory) {
    this.factory = factory;
  }

  /** A plaintext channel to {@code host:port}. */
  public static ManagedChannel plaintext(String address) {
    HostPort target = HostPort.parse(address);
    // directExecutor: responses are decoded on the I/O thread, which saves a thread hop per call;
    // nothing we run on it blocks.
    return NettyChannelBuilder.forAddress(target.host(), target.port())
        .usePlaintext()
        .directExecutor()
        .maxInboundMessageSize(Limits.MAX_MESSAGE_BYTES)
        .build();
  }

  /** The channel to an address. */
  public ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, factory);
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
  }
}
