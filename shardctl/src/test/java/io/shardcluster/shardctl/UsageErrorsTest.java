package io.shardcluster.shardctl;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A missing argument or an option value out of range is a usage error, like an unknown option: exit
 * 2, one line naming the problem and the command's help, and nothing sent anywhere (the coordinator
 * address is one where nothing listens).
 */
class UsageErrorsTest {
  static Stream<Arguments> misuses() {
    return Stream.of(
        Arguments.of("put onlykey", "give either VALUE or --json DOCUMENT", "shardctl put"),
        Arguments.of("--timeout-ms 0 get k", "--timeout-ms must be positive", "shardctl"),
        Arguments.of("load --count -1", "--count must not be negative", "shardctl load"),
        Arguments.of("load --count 5 --threads 0", "--threads must be at least 1", "shardctl load"),
        Arguments.of(
            "verify --count 5 --value-size 0",
            "--value-size must be 1 to 1048576 bytes",
            "shardctl verify"),
        Arguments.of("bench --threads 0", "--threads must be at least 1", "shardctl bench"),
        Arguments.of(
            "bench --read-ratio 2", "--read-ratio must be between 0 and 1", "shardctl bench"),
        Arguments.of("scan --limit -2", "--limit must not be negative", "shardctl scan"),
        Arguments.of(
            "query --node-timeout 0 SELECT", "--node-timeout must be positive", "shardctl query"),
        Arguments.of("query bench --runs 0", "--runs must be at least 1", "shardctl query bench"),
        Arguments.of(
            "directory list --limit 0", "--limit must be at least 1", "shardctl directory list"),
        Arguments.of(
            "wait --nodes 3 --timeout 0", "--timeout must be at least 1 second", "shardctl wait"),
        Arguments.of(
            "keyspace create k --strategy bogus",
            "unknown strategy 'bogus'; choose hash, range or directory",
            "shardctl keyspace create"));
  }

  @ParameterizedTest
  @MethodSource("misuses")
  void isAUsageError_namingTheProblemAndTheHelp(String command, String problem, String help) {
    List<String> args = new ArrayList<>(List.of("--coordinator", "127.0.0.1:1"));
    args.addAll(List.of(command.split(" ")));
    ShardctlRun run = ShardctlRun.of(args.toArray(String[]::new));
    assertThat(run.code()).as(run.err()).isEqualTo(ShardctlMain.EXIT_USAGE);
    assertThat(run.err().strip())
        .isEqualTo("shardctl: " + problem + " (see '" + help + " --help')");
    assertThat(run.out()).isEmpty();
  }
}
