package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.coordinator.CoordinatorMain;
import io.shardcluster.node.ShardNodeMain;
import io.shardcluster.shardctl.ShardctlMain;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * docs/cli-reference.md is the usage help of every program and command, as picocli prints it, so
 * the reference cannot drift from the code. Run with {@code -Dshardcluster.updateDocs=true} to
 * write it anew after changing an option.
 */
class CliReferenceTest {
  private static final Path REFERENCE =
      Path.of(System.getProperty("shardcluster.root", ".."), "docs", "cli-reference.md");
  private static final int WIDTH = 100;

  @Test
  void reference_matchesEveryProgramsUsageHelp() throws IOException {
    String generated = render();
    if (Boolean.getBoolean("shardcluster.updateDocs")) {
      Files.writeString(REFERENCE, generated, StandardCharsets.UTF_8);
    }
    assertThat(Files.readString(REFERENCE, StandardCharsets.UTF_8))
        .as(
            "docs/cli-reference.md is out of date; regenerate it with"
                + " ./mvnw -pl integration-tests test -Dtest=CliReferenceTest"
                + " -Dshardcluster.updateDocs=true -am -Dsurefire.failIfNoSpecifiedTests=false")
        .isEqualTo(generated);
  }

  static String render() {
    StringBuilder out = new StringBuilder();
    out.append("# CLI reference\n\n")
        .append("Generated from the programs' own usage help by `CliReferenceTest`, which fails")
        .append(" when this file\nand the code disagree. What the commands do, with examples, is")
        .append(" in [cli.md](cli.md).\n");
    List<CommandLine> programs =
        List.of(
            new CommandLine(new ShardctlMain()),
            new CommandLine(new CoordinatorMain()),
            new CommandLine(new ShardNodeMain()));
    for (CommandLine program : programs) {
      append(out, program);
    }
    return out.toString();
  }

  private static void append(StringBuilder out, CommandLine command) {
    command.setUsageHelpWidth(WIDTH);
    out.append("\n## `")
        .append(command.getCommandSpec().qualifiedName())
        .append("`\n\n```\n")
        .append(command.getUsageMessage(CommandLine.Help.Ansi.OFF).stripTrailing())
        .append("\n```\n");
    // An alias maps to the same command: each command once, in declaration order.
    for (CommandLine sub : new LinkedHashSet<>(command.getSubcommands().values())) {
      if (!sub.getCommandSpec().usageMessage().hidden()) {
        append(out, sub);
      }
    }
  }
}
