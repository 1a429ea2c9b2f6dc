package io.shardcluster.server;

import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.shardcluster.errors.ShardClusterException;
import java.io.IOException;
import java.net.BindException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** Start-up checks shared by the coordinator and shard nodes, each failing with one clear line. */
public final class ServerStartup {
  private ServerStartup() {}

  /**
   * Creates the directory if needed and checks that it is a writable directory of this role (not
   * another kind of process's): INVALID_ARGUMENT naming it otherwise.
   */
  public static Path prepareDataDir(Path dir, DataDirRole role) {
    Path absolute = dir.toAbsolutePath().normalize();
    if (Files.exists(absolute) && !Files.isDirectory(absolute)) {
      throw ShardClusterException.invalidArgument("data dir " + absolute + " is not a directory");
    }
    for (DataDirRole other : DataDirRole.values()) {
      if (other != role && Files.exists(absolute.resolve(other.marker()))) {
        throw ShardClusterException.invalidArgument(
            "data dir "
                + absolute
                + " belongs to "
                + other.owner()
                + " (it holds "
                + other.marker()
                + "); give "
                + role.owner()
                + " a directory of its own");
      }
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
