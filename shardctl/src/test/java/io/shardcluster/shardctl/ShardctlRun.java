package io.shardcluster.shardctl;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One run of shardctl in this JVM: its exit code and what it printed. */
record ShardctlRun(int code, String out, String err) {
  static ShardctlRun of(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = ShardctlMain.run(args, new PrintWriter(out), new PrintWriter(err));
    return new ShardctlRun(code, out.toString(), err.toString());
  }
}
