package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import io.shardcluster.rpc.Limits;
import java.io.BufferedWriter;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;

/** Base of commands that talk to the cluster: gives them a client and the output streams. */
abstract class ClusterCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public final Integer call() throws Exception {
    checkUsage();
    try (ShardClient client = root().client()) {
      return run(scoped(client));
    }
  }

  /**
   * Checks the arguments before anything is sent: {@link #requireUsage} for each rule. None by
   * default.
   */
  void checkUsage() {}

  /** The client the command works with; data commands narrow it to their keyspace. */
  ShardClient scoped(ShardClient client) {
    return client;
  }

  /** Runs the command; returns the exit code. */
  abstract int run(ShardClient client) throws Exception;

  /**
   * Unless the condition holds, fails the command as misused: exit 2 and the message, pointing at
   * the command's --help (as picocli does for an unknown option or a value of the wrong type).
   */
  void requireUsage(boolean condition, String message) {
    if (!condition) {
      throw new CommandLine.ParameterException(spec.commandLine(), message);
    }
  }

  /** The checks of the options that size a run over keys 0..count-1 (load, verify). */
  void requireKeyRange(long count, int valueSize, int threads, int batch) {
    requireUsage(count >= 0, "--count must not be negative");
    requireValueSize(valueSize);
    requireUsage(threads >= 1, "--threads must be at least 1");
    requireUsage(batch >= 1, "--batch must be at least 1");
  }

  void requireValueSize(int valueSize) {
    requireUsage(
        valueSize >= 1 && valueSize <= Limits.MAX_VALUE_BYTES,
        "--value-size must be 1 to " + Limits.MAX_VALUE_BYTES + " bytes");
  }

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
