package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.testing.LocalCluster;
import io.shardcluster.testing.Shardctl;
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
    return bin(PREBUILT, script, args);
  }

  private static Shardctl.Result bin(Map<String, String> env, String script, String... args)
      throws Exception {
    List<String> command =
        new ArrayList<>(List.of(LocalCluster.ROOT.resolve("bin").resolve(script).toString()));
    command.addAll(List.of(args));
    return Shardctl.exec(command, env);
  }

  private static Path workDir(String name) throws Exception {
    return Files.createDirectories(
        LocalCluster.ROOT.resolve(
            "integration-tests/target/it-work/" + name + "-" + System.nanoTime()));
  }

  /** Starts a local cluster of two nodes on free ports; its coordinator's address. */
  private static String upWithTwoNodes(Path dir) throws Exception {
    return upWithTwoNodes(dir, PREBUILT);
  }

  private static String upWithTwoNodes(Path dir, Map<String, String> env) throws Exception {
    Shardctl.Result up =
        bin(env, "cluster", "up", "--nodes", "2", "--dir", dir.toString(), "--port", "0");
    assertThat(up.exitCode()).as(up.err() + up.out()).isZero();
    assertThat(up.out()).contains("shardcluster is up").contains("2 shard nodes");
    return Files.readString(dir.resolve("coordinator.address")).trim();
  }

  @Test
  void upAddDrainDown_restartBringsBackEveryNodeButTheRemoved_withTheData() throws Exception {
    Path dir = workDir("script");
    String d = dir.toString();
    try {
      // COORDINATOR_OPTS reaches the coordinator that up starts.
      String address =
          upWithTwoNodes(
              dir, Map.of("SHARDCLUSTER_NO_BUILD", "1", "COORDINATOR_OPTS", "--balancer off"));
      assertThat(bin("shardctl", "--coordinator", address, "rebalance", "--dry-run").out())
          .contains("automatic balancer off");
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
      awaitDrained(address, "node-1");
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

  @Test
  void upAfterANodeStoppedInItsDrain_waitsForItToComeBack_andTheDrainCarriesOn() throws Exception {
    Path dir = workDir("script-drain");
    String d = dir.toString();
    try {
      String address = upWithTwoNodes(dir);
      assertThat(bin("shardctl", "--coordinator", address, "load", "--count", "2000").exitCode())
          .isZero();
      // A coordinator that holds each move before its fence until the release file exists: the
      // drain cannot end before the restart.
      Map<String, String> holdingMoves =
          Map.of(
              "SHARDCLUSTER_NO_BUILD", "1",
              "SHARDCLUSTER_FAILPOINTS", "migration.before-fence=pause",
              "SHARDCLUSTER_FAILPOINT_RELEASE", dir.resolve("release").toString());
      kill(dir, "coordinator");
      Shardctl.Result restarted = bin(holdingMoves, "cluster", "up", "--dir", d);
      assertThat(restarted.exitCode()).as(restarted.err() + restarted.out()).isZero();

      Shardctl.Result drain = bin("shardctl", "--coordinator", address, "drain", "node-2");
      assertThat(drain.exitCode()).as(drain.err()).isZero();
      kill(dir, "node-2");
      // node-2 comes back DRAINING, not UP: up waits for it to be back, not for UP.
      Shardctl.Result again = bin("cluster", "up", "--dir", d);
      assertThat(again.exitCode()).as(again.err() + again.out()).isZero();
      assertThat(again.out())
          .contains("2 shard nodes")
          .contains("node-2 carries on with the join or drain the restart interrupted");
      assertThat(nodeState(address, "node-2")).isEqualTo("DRAINING");

      Files.createFile(dir.resolve("release"));
      awaitDrained(address, "node-2");
      Shardctl.Result verify =
          bin("shardctl", "--coordinator", address, "verify", "--count", "2000");
      assertThat(verify.out()).as(verify.err()).contains("ok=2000 missing=0 wrong=0");
    } finally {
      bin("cluster", "down", "--dir", d);
    }
  }

  /** Waits until the node's drain has ended: it is REMOVED and no migration runs. */
  private static void awaitDrained(String address, String node) throws Exception {
    Shardctl.Result drained =
        bin(
            "shardctl",
            "--coordinator",
            address,
            "wait",
            "--node",
            node,
            "--state",
            "REMOVED",
            "--migrations-done",
            "--timeout",
            "120");
    assertThat(drained.exitCode()).as(drained.err()).isZero();
  }

  /** SIGKILLs a process of the local cluster in {@code dir} and waits for its end. */
  private static void kill(Path dir, String name) throws Exception {
    long pid = Long.parseLong(Files.readString(dir.resolve(name + ".pid")).trim());
    ProcessHandle process = ProcessHandle.of(pid).orElseThrow();
    process.destroyForcibly();
    process.onExit().get();
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
