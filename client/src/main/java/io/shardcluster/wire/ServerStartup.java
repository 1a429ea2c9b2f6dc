package io.shardcluster.wire;

import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.shardcluster.client.ShardClusterException;
import java.io.IOException;
import java.net.BindException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** Start-up checks shared by the coordinator and shard nodes, each failing with one clear line. */
public final class ServerStartup {
  /** A one-line log format for java.util.logging: time, level, logger, message. */
  public static final String LOG_FORMAT = "%1$tF %1$tT.%1$tL %4$-7s [%3$s] %5$s%6$s%n";

  private ServerStartup() {}

  /** Use {@link #LOG_FORMAT} unless the user chose a format; call first thing in main. */
  public static void configureLogging() {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format", LOG_FORMAT);
    }
  }

  /**
   * Creates the directory if needed and checks that it is a writable directory: INVALID_ARGUMENT
   * naming it otherwise.
   */
  public static Path prepareDataDir(Path dir) {
    Path absolute = dir.toAbsolutePath().normalize();
    if (Files.exists(absolute) && !Files.isDirectory(absolute)) {
      throw ShardClusterException.invalidArgument("data dir " + absolute + " is not a directory");
    }
    try {
      Files.createDirectories(absolute);
      Path probe = absolute.resolve(".write-check-" + UUID.randomUUID());
      Files.writeString(probe, "ok");
      Files.delete(probe);
    } catch (IOException | SecurityException e) {
      throw ShardClusterException.invalidArgument(
          "data dir " + absolute + " is not writable: " + e.getMessage());
    }
    return absolute;
  }

  /** Starts the server; UNAVAILABLE with a plain message if its port is taken. */
  public static Server start(ServerBuilder<?> builder, String host, int port) {
    Server server = builder.build();
    try {
      return server.start();
    } catch (IOException e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof BindException) {
          throw ShardClusterException.unavailable(
              "cannot listen on " + host + ":" + port + ": " + t.getMessage());
        }
      }
      throw ShardClusterException.unavailable(
          "cannot listen on " + host + ":" + port + ": " + e.getMessage());
    }
  }
}
