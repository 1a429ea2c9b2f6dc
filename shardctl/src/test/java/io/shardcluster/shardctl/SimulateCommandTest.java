package io.shardcluster.shardctl;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class SimulateCommandTest {
  private record Run(int code, String out, String err) {}

  private static Run shardctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = ShardctlMain.run(args, new PrintWriter(out), new PrintWriter(err));
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void json_reportsBalanceAndMovedKeys() throws Exception {
    Run run =
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
    assertThat(json.get("after").get("max_over_mean").asDouble()).isGreaterThanOrEqualTo(1.0);
    assertThat(json.get("ideal_fraction").asDouble()).isEqualTo(1.0 / 11);
    assertThat(json.get("ring_moved_fraction").asDouble()).isLessThanOrEqualTo(1.05 / 11);
    assertThat(json.get("moved_between_stayers").asLong()).isZero();
  }

  @Test
  void text_namesTheFigures() {
    Run run =
        shardctl("simulate", "--strategy", "mod", "--nodes", "4", "--keys", "10000", "--add", "1");

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.out())
        .contains("max/mean", "min/mean", "stddev of shares", "keys moved", "ideal 20.00%")
        .contains("moved between nodes that stayed: ");
  }

  @Test
  void badInput_isAUsageErrorNamingTheProblem() {
    Run unknown = shardctl("simulate", "--strategy", "chord", "--nodes", "3");
    assertThat(unknown.code()).isEqualTo(2);
    assertThat(unknown.err())
        .contains("unknown strategy 'chord'; choose one of mod, ring-random, ring, range");

    Run both =
        shardctl("simulate", "--strategy", "ring", "--nodes", "3", "--add", "1", "--remove", "1");
    assertThat(both.code()).isEqualTo(2);
    assertThat(both.err()).contains("give --add or --remove, not both");
  }
}
