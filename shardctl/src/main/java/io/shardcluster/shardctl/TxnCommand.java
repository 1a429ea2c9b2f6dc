package io.shardcluster.shardctl;

import com.google.common.base.Splitter;
import io.shardcluster.client.ClusterAdmin.TransactionInfo;
import io.shardcluster.client.ShardClient;
import io.shardcluster.client.Transaction;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "txn",
    description = {
      "Runs a transaction: statements from the arguments (separated by ';') or, without any,"
          + " one per line from stdin. It commits all its writes at once, or none.",
      "  get KEY          prints the value",
      "  put KEY VALUE    sets KEY (VALUE is the rest of the statement)",
      "  del KEY          removes KEY",
      "  expect KEY VALUE aborts the transaction unless KEY holds VALUE ('expect KEY -': absent)",
      "Exits 0 once committed, 1 if an expect failed (nothing changed)."
    },
    mixinStandardHelpOptions = true,
    subcommands = {TxnCommand.ListCommand.class})
final class TxnCommand extends DataCommand {
  @Parameters(paramLabel = "STATEMENT", arity = "0..*", description = "The script, word by word.")
  List<String> words = new ArrayList<>();

  @Option(names = "--json", description = "Print {\"committed\", \"reads\", \"reason\"} as JSON.")
  boolean json;

  private static final Pattern WHITESPACE = Pattern.compile("\\s+");

  record Statement(String verb, String key, String value) {}

  /** A failed expect: the transaction rolls back. */
  private static final class ExpectFailed extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ExpectFailed(String message) {
      super(message, null, false, false);
    }
  }

  @Override
  int run(ShardClient client) throws IOException {
    List<Statement> script =
        parse(words.isEmpty() ? readStdin() : List.of(String.join(" ", words)));
    Map<String, Optional<String>> reads = new LinkedHashMap<>();
    String failed = null;
    try {
      client.transaction(
          tx -> {
            reads.clear();
            for (Statement statement : script) {
              run(tx, statement, reads);
            }
          });
    } catch (ExpectFailed e) {
      failed = e.getMessage();
    }
    if (json) {
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("committed", failed == null);
      Map<String, Object> values = new LinkedHashMap<>();
      reads.forEach((key, value) -> values.put(key, value.orElse(null)));
      result.put("reads", values);
      result.put("reason", failed);
      Output.json(out(), result);
    } else {
      reads.forEach(
          (key, value) -> out().println(key + " = " + value.map(v -> v).orElse("(absent)")));
      out().println(failed == null ? "committed" : "aborted: " + failed);
    }
    return failed == null ? 0 : ShardctlMain.EXIT_NO;
  }

  private static void run(
      Transaction tx, Statement statement, Map<String, Optional<String>> reads) {
    switch (statement.verb()) {
      case "get" -> reads.put(statement.key(), tx.get(statement.key()));
      case "put" -> tx.put(statement.key(), statement.value());
      case "del" -> tx.delete(statement.key());
      case "expect" -> {
        Optional<String> actual = tx.get(statement.key());
        Optional<String> expected =
            statement.value().equals("-") ? Optional.empty() : Optional.of(statement.value());
        if (!actual.equals(expected)) {
          throw new ExpectFailed(
              "expect "
                  + statement.key()
                  + ": it holds "
                  + actual.map(v -> "'" + v + "'").orElse("nothing")
                  + ", not "
                  + expected.map(v -> "'" + v + "'").orElse("nothing"));
        }
      }
      default -> throw new IllegalStateException("unparsed verb " + statement.verb());
    }
  }

  private List<String> readStdin() throws IOException {
    List<String> lines = new ArrayList<>();
    BufferedReader reader =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = reader.readLine(); line != null; line = reader.readLine()) {
      lines.add(line);
    }
    return lines;
  }

  /** The statements of the lines; a usage error naming the first bad one. */
  private List<Statement> parse(List<String> lines) {
    List<Statement> script = new ArrayList<>();
    int number = 0;
    for (String line : lines) {
      for (String text : Splitter.on(';').split(line)) {
        number++;
        String trimmed = text.strip();
        if (trimmed.isEmpty() || trimmed.startsWith("#")) {
          continue;
        }
        List<String> parts = Splitter.on(WHITESPACE).limit(3).splitToList(trimmed);
        String verb = parts.get(0);
        int needs =
            switch (verb) {
              case "get", "del" -> 2;
              case "put", "expect" -> 3;
              default ->
                  throw new CommandLine.ParameterException(
                      spec.commandLine(),
                      "statement "
                          + number
                          + ": unknown verb '"
                          + verb
                          + "' (expected get, put, del or expect)");
            };
        if (parts.size() != needs) {
          throw new CommandLine.ParameterException(
              spec.commandLine(),
              "statement "
                  + number
                  + ": '"
                  + trimmed
                  + "' needs "
                  + (needs == 2 ? "a KEY" : "a KEY and a VALUE"));
        }
        script.add(new Statement(verb, parts.get(1), needs == 3 ? parts.get(2) : ""));
      }
    }
    if (script.isEmpty()) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "the transaction has no statements");
    }
    return script;
  }

  @Command(
      name = "list",
      description =
          "Lists transactions holding locks or records on the nodes: in flight, or left by a"
              + " client that died (resolved once they expire).",
      mixinStandardHelpOptions = true)
  static final class ListCommand extends ClusterCommand {
    @Option(names = "--json", description = "Print as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      List<TransactionInfo> transactions = client.admin().transactions();
      if (json) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (TransactionInfo info : transactions) {
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("id", info.id());
          row.put("node", info.node());
          row.put("state", info.state());
          row.put("age_ms", info.age().toMillis());
          row.put("locks", info.locks());
          row.put("record", info.primary());
          row.put("participants", info.participants());
          rows.add(row);
        }
        Output.json(out(), rows);
        return 0;
      }
      if (transactions.isEmpty()) {
        out().println("no transactions in flight");
        return 0;
      }
      out()
          .printf(
              "%-16s  %-10s  %-9s  %8s  %5s  %s%n",
              "ID", "NODE", "STATE", "AGE", "LOCKS", "RECORD");
      for (TransactionInfo info : transactions) {
        out()
            .printf(
                "%-16s  %-10s  %-9s  %7.1fs  %5d  %s%n",
                info.id(),
                info.node(),
                info.state(),
                info.age().toMillis() / 1000.0,
                info.locks(),
                info.primary()
                    ? "record"
                        + (info.participants().isEmpty()
                            ? ""
                            : ", to resolve: " + String.join(" ", info.participants()))
                    : "");
      }
      return 0;
    }
  }
}
