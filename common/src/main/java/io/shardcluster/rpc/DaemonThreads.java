package io.shardcluster.rpc;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import java.util.concurrent.ThreadFactory;

/**
 * Thread factories for the processes' background pools: named, so a thread dump says what each
 * thread is for, and daemon, so no pool holds up the JVM's exit.
 */
public final class DaemonThreads {
  private DaemonThreads() {}

  /** Threads named by the prefix and a number counting from 0, in the order they start. */
  public static ThreadFactory numbered(String prefix) {
    return new ThreadFactoryBuilder()
        .setNameFormat(prefix.replace("%", "%%") + "%d")
        .setDaemon(true)
        .build();
  }

  /** Threads all named {@code name}, for a pool of one (or of interchangeable threads). */
  public static ThreadFactory named(String name) {
    return new ThreadFactoryBuilder()
        .setNameFormat(name.replace("%", "%%"))
        .setDaemon(true)
        .build();
  }
}
