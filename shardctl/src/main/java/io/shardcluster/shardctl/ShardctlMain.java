package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.rpc.ProcessDefaults;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.time.Duration;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * {@code shardctl}: the command-line client. Exit codes: 0 success, 1 a negative answer (key
 * absent, verification found problems), 2 bad usage, 3 the operation failed.
 */
@Command(
    name = "shardctl",
    mixinStandardHelpOptions = true,
    version = "shardctl 0.1.0",
    description = "Reads, writes and operates a shardcluster.",
    subcommands = {
      PutCommand.class,
      GetCommand.class,
      DeleteCommand.class,
      ScanCommand.class,
      RouteCommand.class,
      NodesCommand.class,
      HealthCommand.class,
      WaitCommand.class,
      DirectoryCommand.class,
      KeyspaceCommand.class,
      SplitCommand.class,
      DrainCommand.class,
      RemoveCommand.class,
      ReplicasCommand.class,
      RepairsCommand.class,
      RebalanceCommand.class,
      MigrationsCommand.class,
      LoadCommand.class,
      VerifyCommand.class,
      BenchCommand.class,
      SimulateCommand.class,
      TxnCommand.class,
      QueryCommand.class,
    })
public final class ShardctlMain implements Runnable {
  static final int EXIT_NO = 1;
  static final int EXIT_USAGE = 2;
  static final int EXIT_FAILED = 3;

  @Option(
      names = "--coordinator",
      scope = ScopeType.INHERIT,
      description = "Coordinator HOST:PORT (default: $SHARDCTL_COORDINATOR or 127.0.0.1:7400).")
  private String coordinator;

  @Option(
      names = "--timeout-ms",
      scope = ScopeType.INHERIT,
      defaultValue = "5000",
      description =
          "Deadline of each operation, retries included, in ms (default: ${DEFAULT-VALUE}).")
  private long timeoutMs;

  @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "missing command");
  }

  /** The coordinator address from the option, the environment, or the default. */
  String coordinatorAddress() {
    if (coordinator != null) {
      return coordinator;
    }
    String fromEnv = System.getenv("SHARDCTL_COORDINATOR");
    return fromEnv != null && !fromEnv.isBlank() ? fromEnv : "127.0.0.1:7400";
  }

  /** A client for the chosen coordinator; the caller closes it. */
  ShardClient client() {
    if (timeoutMs <= 0) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--timeout-ms must be positive");
    }
    return ShardClient.builder()
        .coordinator(coordinatorAddress())
        .requestTimeout(Duration.ofMillis(timeoutMs))
        .build();
  }

  /** Runs shardctl with the arguments and returns the exit code. */
  static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine commandLine = new CommandLine(new ShardctlMain());
    commandLine.setOut(out);
    commandLine.setErr(err);
    // A usage error is one line, like every other failure, pointing at the command's help.
    commandLine.setParameterExceptionHandler(
        (e, arguments) -> {
          PrintWriter errors = e.getCommandLine().getErr();
          errors.println(
              "shardctl: "
                  + e.getMessage()
                  + " (see '"
                  + e.getCommandLine().getCommandSpec().qualifiedName()
                  + " --help')");
          errors.flush();
          return EXIT_USAGE;
        });
    commandLine.setExecutionExceptionHandler(
        (e, cl, parseResult) -> {
          cl.getErr().println("shardctl: " + message(e));
          cl.getErr().flush();
          return EXIT_FAILED;
        });
    int code = commandLine.execute(args);
    out.flush();
    err.flush();
    return code;
  }

  static String message(Throwable e) {
    if (e instanceof ShardClusterException known) {
      return known.getMessage();
    }
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  public static void main(String[] args) {
    ProcessDefaults.apply();
    // The platform's charset, as System.out itself uses.
    Charset charset = Charset.defaultCharset();
    System.exit(
        run(
            args,
            new PrintWriter(new OutputStreamWriter(System.out, charset), true),
            new PrintWriter(new OutputStreamWriter(System.err, charset), true)));
  }
}
