package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import java.io.BufferedWriter;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;

/** Base of commands that talk to the cluster: gives them a client and the output streams. */
abstract class ClusterCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public final Integer call() throws Exception {
    try (ShardClient client = root().client()) {
      return run(scoped(client));
    }
  }

  /** The client the command works with; data commands narrow it to their keyspace. */
  ShardClient scoped(ShardClient client) {
    return client;
  }

  /** Runs the command; returns the exit code. */
  abstract int run(ShardClient client) throws Exception;

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  /**
   * For commands that print many lines: {@link #out()} through a buffer, so that a million rows are
   * not a million writes. Flush it when done.
   */
  PrintWriter bufferedOut() {
    return new PrintWriter(new BufferedWriter(out(), 1 << 16));
  }

  PrintWriter err() {
    return spec.commandLine().getErr();
  }

  ShardctlMain root() {
    CommandLine line = spec.commandLine();
    while (line.getParent() != null) {
      line = line.getParent();
    }
    return line.getCommand();
  }
}
