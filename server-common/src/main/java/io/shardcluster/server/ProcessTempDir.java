package io.shardcluster.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Gives a server process a temporary directory of its own, inside its data directory. RocksDB
 * extracts its native library (about 15 MB) into {@code java.io.tmpdir} under a new name at every
 * start and deletes it only when the JVM exits normally, so every SIGKILLed process left one behind
 * in {@code /tmp} (78 GB of them on a development machine after many test runs). Here each start
 * empties the process's own directory first, so at most one copy remains.
 */
public final class ProcessTempDir {
  private ProcessTempDir() {}

  /**
   * Empties (or creates) {@code dataDir/tmp} and makes it this JVM's {@code java.io.tmpdir}. Call
   * first thing, before any library has created a temporary file. Does nothing if {@code dataDir}
   * is a file (the server refuses it then).
   */
  public static void claim(Path dataDir) {
    if (Files.exists(dataDir) && !Files.isDirectory(dataDir)) {
      // Not a data directory: the server's own checks refuse it with a clear line.
      return;
    }
    Path dir = dataDir.resolve("tmp");
    try {
      FileTrees.delete(dir);
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare the temporary directory " + dir, e);
    }
    System.setProperty("java.io.tmpdir", dir.toAbsolutePath().toString());
  }
}
