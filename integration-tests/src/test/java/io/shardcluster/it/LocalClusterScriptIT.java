package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The bin/ scripts a new user runs: bin/cluster up, bin/shardctl, bin/cluster status and down. */
class LocalClusterScriptIT {
  private static final Map<String, String> PREBUILT = Map.of("SHARDCLUSTER_NO_BUILD", "1");

  private static Shardctl.Result bin(String script, String... args) throws Exception {
    List<String> command =
        new ArrayList<>(List.of(LocalCluster.ROOT.resolve("bin").resolve(script).toString()));
    command.addAll(List.of(args));
    return Shardctl.exec(command, PREBUILT);
  }

  @Test
  void upPutGetStatusDown_restartKeepsData() throws Exception {
    Path dir =
        Files.createDirectories(
            LocalCluster.ROOT.resolve(
                "integration-tests/target/it-work/script-" + System.nanoTime()));
    try {
      Shardctl.Result up =
          bin("cluster", "up", "--nodes", "3", "--dir", dir.toString(), "--port", "0");
      assertThat(up.exitCode()).as(up.err() + up.out()).isZero();
      assertThat(up.out()).contains("shardcluster is up").contains("3 shard nodes");
      String address = Files.readString(dir.resolve("coordinator.address")).trim();
      for (String name : List.of("coordinator", "node-1", "node-2", "node-3")) {
        assertThat(dir.resolve(name + ".pid")).exists();
        assertThat(dir.resolve(name + ".log")).exists();
      }

      assertThat(
              bin("shardctl", "--coordinator", address, "put", "script-key", "script-value")
                  .exitCode())
          .isZero();
      Shardctl.Result status = bin("cluster", "status", "--dir", dir.toString());
      assertThat(status.out()).contains("node-3: running").contains("UP");

      Shardctl.Result down = bin("cluster", "down", "--dir", dir.toString());
      assertThat(down.exitCode()).as(down.err()).isZero();
      assertThat(bin("cluster", "status", "--dir", dir.toString()).out())
          .contains("coordinator: stopped");

      assertThat(bin("cluster", "up", "--dir", dir.toString()).exitCode()).isZero();
      Shardctl.Result get = bin("shardctl", "--coordinator", address, "get", "script-key");
      assertThat(get.out().trim()).isEqualTo("script-value");
    } finally {
      bin("cluster", "down", "--dir", dir.toString());
    }
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
    assertThat(bin("coordinator", "--help").out()).contains("--data-dir");
    assertThat(bin("shard-node", "--help").out()).contains("--fsync");
    assertThat(bin("shardctl", "--help").out()).contains("bench");
  }
}
