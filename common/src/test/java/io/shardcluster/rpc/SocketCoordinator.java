package io.shardcluster.rpc;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A stand-in coordinator on a real loopback socket that can go away and come back on the same port,
 * to test how clients behave across a coordinator restart.
 */
public final class SocketCoordinator implements AutoCloseable {
  private final BindableService service;
  private Server server;
  private int port;

  public SocketCoordinator(BindableService service) {
    this.service = service;
  }

  /** Starts serving: on a free port the first time, then on the same one. */
  public SocketCoordinator start() throws IOException {
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
            .addService(service)
            .build()
            .start();
    port = server.getPort();
    return this;
  }

  /** Stops serving and waits until the port is closed. */
  public SocketCoordinator stop() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    return this;
  }

  public String address() {
    return "127.0.0.1:" + port;
  }

  @Override
  public void close() throws InterruptedException {
    if (server != null) {
      stop();
    }
  }
}
