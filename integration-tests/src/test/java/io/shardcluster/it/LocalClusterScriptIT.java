package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The bin/ scripts a new user runs: bin/cluster up, add, status and down, and bin/shardctl. */
class LocalClusterScriptIT {
  private static final Map<String, String> PREBUILT = Map.of("SHARDCLUSTER_NO_BUILD", "1");

  private static Shardctl.Result bin(String script, String... args) throws Exception {
    List<String> command =
        new ArrayList<>(List.of(LocalCluster.ROOT.resolve("bin").resolve(script).toString()));
    command.addAll(List.of(args));
    return Shardctl.exec(command, PREBUILT);
  }

  @Test
  void upAddDrainDown_restartBringsBackEveryNodeButTheRemoved_withTheData() throws Exception {
    Path dir =
        Files.createDirectories(
            LocalCluster.ROOT.resolve(
                "integration-tests/target/it-work/script-" + System.nanoTime()));
    String d = dir.toString();
    try {
      Shardctl.Result up = bin("cluster", "up", "--nodes", "2", "--dir", d, "--port", "0");
      assertThat(up.exitCode()).as(up.err() + up.out()).isZero();
      assertThat(up.out()).contains("shardcluster is up").contains("2 shard nodes");
      String address = Files.readString(dir.resolve("coordinator.address")).trim();
      for (String name : List.of("coordinator", "node-1", "node-2")) {
        assertThat(dir.resolve(name + ".pid")).exists();
        assertThat(dir.resolve(name + ".log")).exists();
      }
      assertThat(bin("shardctl", "--coordinator", address, "load", "--count", "2000").exitCode())
          .isZero();
      assertThat(
              bin("shardctl", "--coordinator", address, "put", "script-key", "script-value")
                  .exitCode())
          .isZero();

      // add returns once the node has registered; the watch then follows its join to the end.
      Shardctl.Result add = bin("cluster", "add", "--dir", d);
      assertThat(add.exitCode()).as(add.err()).isZero();
      assertThat(add.out()).contains("started node-3");
      assertThat(bin("shardctl", "--coordinator", address, "nodes").out()).contains("node-3");
      Shardctl.Result watch = bin("shardctl", "--coordinator", address, "migrations", "--watch");
      assertThat(watch.exitCode()).as(watch.err() + watch.out()).isZero();
      // The join's moves are listed whether the watch followed them or they had just ended.
      assertThat(watch.out()).contains("-> node-3");
      assertThat(nodeState(address, "node-3")).isEqualTo("UP");

      Shardctl.Result drain = bin("shardctl", "--coordinator", address, "drain", "node-1");
      assertThat(drain.exitCode()).as(drain.err()).isZero();
      Shardctl.Result drained =
          bin(
              "shardctl",
              "--coordinator",
              address,
              "wait",
              "--node",
              "node-1",
              "--state",
              "REMOVED",
              "--migrations-done");
      assertThat(drained.exitCode()).as(drained.err()).isZero();
      Shardctl.Result status = bin("cluster", "status", "--dir", d);
      assertThat(status.out()).contains("node-3: running").contains("UP");

      Shardctl.Result down = bin("cluster", "down", "--dir", d);
      assertThat(down.exitCode()).as(down.err()).isZero();
      assertThat(bin("cluster", "status", "--dir", d).out()).contains("coordinator: stopped");

      // A restart brings back node-2 and the added node-3, not the removed node-1.
      Shardctl.Result again = bin("cluster", "up", "--dir", d);
      assertThat(again.exitCode()).as(again.err() + again.out()).isZero();
      assertThat(again.out()).contains("2 shard nodes");
      assertThat(bin("cluster", "status", "--dir", d).out())
          .contains("node-1: stopped")
          .contains("node-2: running")
          .contains("node-3: running");
      Shardctl.Result verify =
          bin("shardctl", "--coordinator", address, "verify", "--count", "2000");
      assertThat(verify.out()).as(verify.err()).contains("ok=2000 missing=0 wrong=0");
      Shardctl.Result get = bin("shardctl", "--coordinator", address, "get", "script-key");
      assertThat(get.out().trim()).isEqualTo("script-value");
    } finally {
      bin("cluster", "down", "--dir", d);
    }
  }

  private static String nodeState(String address, String node) throws Exception {
    for (String line : bin("shardctl", "--coordinator", address, "nodes").out().split("\n")) {
      String[] columns = line.trim().split("\\s+");
      if (columns[0].equals(node)) {
        return columns[2];
      }
    }
    return "not listed";
  }

  @Test
  void badArguments_areOneLineAndNonZero() throws Exception {
    Shardctl.Result unknown = bin("cluster", "launch");
    assertThat(unknown.exitCode()).isEqualTo(2);
    assertThat(unknown.err().trim())
        .isEqualTo("cluster: unknown command 'launch' (expected up, add, down or status)");
    Shardctl.Result badNodes = bin("cluster", "up", "--nodes", "many");
    assertThat(badNodes.exitCode()).isNotZero();
    assertThat(badNodes.err().trim())
        .isEqualTo("cluster: --nodes must be a number from 1 to 50, got 'many'");
    assertThat(bin("cluster", "--help").out()).contains("Usage: bin/cluster up");
    Shardctl.Result coordinatorHelp = bin("coordinator", "--help");
    assertThat(coordinatorHelp.out()).contains("--data-dir").contains("(default: 0.2, 20%)");
    assertThat(coordinatorHelp.err()).isEmpty();
    Shardctl.Result shortCutover = bin("coordinator", "--cutover-timeout-ms", "5");
    assertThat(shortCutover.exitCode()).isNotZero();
    assertThat(shortCutover.err().trim())
        .isEqualTo("coordinator: cutover timeout must be at least 100 ms");
    Shardctl.Result shortTargetDown = bin("coordinator", "--target-down-timeout-ms", "0");
    assertThat(shortTargetDown.exitCode()).isNotZero();
    assertThat(shortTargetDown.err().trim())
        .isEqualTo("coordinator: target down timeout must be at least 100 ms");
    assertThat(bin("shard-node", "--help").out()).contains("--fsync");
    assertThat(bin("shardctl", "--help").out()).contains("bench");
  }
}
