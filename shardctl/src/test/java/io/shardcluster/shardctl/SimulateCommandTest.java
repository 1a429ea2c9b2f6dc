package io.shardcluster.shardctl;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class SimulateCommandTest {
  private static ShardctlRun shardctl(String... args) {
    return ShardctlRun.of(args);
  }

  @Test
  void json_reportsBalanceAndMovedKeys() throws Exception {
    ShardctlRun run =
        shardctl(
            "simulate",
            "--strategy",
            "ring",
            "--nodes",
            "10",
            "--keys",
            "20000",
            "--add",
            "1",
            "--json");

    assertThat(run.code()).as(run.err()).isZero();
    JsonNode json = new ObjectMapper().readTree(run.out());
    assertThat(json.get("strategy").asText()).isEqualTo("ring");
    // The allocator keeps the exact shares within 5% of the mean (random tokens: about 1.3 at
    // this size); 20,000 sampled keys add a few percent of noise on top.
    assertThat(json.get("ring_after").get("max_over_mean").asDouble()).isBetween(1.0, 1.05);
    assertThat(json.get("after").get("max_over_mean").asDouble()).isBetween(1.0, 1.15);
    assertThat(json.get("ideal_fraction").asDouble()).isEqualTo(1.0 / 11);
    assertThat(json.get("ring_moved_fraction").asDouble()).isLessThanOrEqualTo(1.05 / 11);
    assertThat(json.get("moved_between_stayers").asLong()).isZero();
  }

  @Test
  void text_namesTheFigures() {
    ShardctlRun run =
        shardctl("simulate", "--strategy", "mod", "--nodes", "4", "--keys", "10000", "--add", "1");

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.out())
        .contains("max/mean", "min/mean", "stddev of shares", "keys moved", "ideal 20.00%")
        .contains("moved between nodes that stayed: ");
  }

  @Test
  void badInput_isAUsageErrorNamingTheProblem() {
    ShardctlRun unknown = shardctl("simulate", "--strategy", "chord", "--nodes", "3");
    assertThat(unknown.code()).isEqualTo(2);
    assertThat(unknown.err())
        .contains("unknown strategy 'chord'; choose one of mod, ring-random, ring, range");

    ShardctlRun both =
        shardctl("simulate", "--strategy", "ring", "--nodes", "3", "--add", "1", "--remove", "1");
    assertThat(both.code()).isEqualTo(2);
    assertThat(both.err()).contains("give --add or --remove, not both");
  }
}
