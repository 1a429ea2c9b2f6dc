package io.shardcluster.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One server JVM started from a built jar, its output in a log file. Started, killed with SIGKILL
 * and restarted with the same arguments.
 */
public final class JvmProcess {
  private static final Pattern LISTENING = Pattern.compile("listening on (\\S+):(\\d+)");
  public static final List<String> JVM_OPTIONS =
      List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData");

  private final String name;
  private final Path jar;
  private final Path log;
  private List<String> arguments;
  private Process process;
  private int starts;

  private final Map<String, String> environment;
  private final List<String> jvmOptions;

  public JvmProcess(String name, Path jar, Path logDir, List<String> arguments) {
    this(name, jar, logDir, arguments, Map.of());
  }

  public JvmProcess(
      String name, Path jar, Path logDir, List<String> arguments, Map<String, String> environment) {
    this(name, jar, logDir, arguments, environment, List.of());
  }

  /** A process with JVM options besides {@link #JVM_OPTIONS} (system properties, say). */
  public JvmProcess(
      String name,
      Path jar,
      Path logDir,
      List<String> arguments,
      Map<String, String> environment,
      List<String> jvmOptions) {
    this.name = name;
    this.jar = jar;
    this.log = logDir.resolve(name + ".log");
    this.arguments = List.copyOf(arguments);
    this.environment = Map.copyOf(environment);
    this.jvmOptions = List.copyOf(jvmOptions);
  }

  public static String javaBinary() {
    return ProcessHandle.current().info().command().orElse("java");
  }

  public String name() {
    return name;
  }

  /** Starts the JVM; the log of each start is appended to the same file. */
  public JvmProcess start() throws IOException {
    List<String> command = new ArrayList<>();
    command.add(javaBinary());
    command.addAll(JVM_OPTIONS);
    command.addAll(jvmOptions);
    command.add("-jar");
    command.add(jar.toString());
    command.addAll(arguments);
    starts++;
    Files.writeString(
        log,
        "---- start " + starts + ": " + String.join(" ", command) + System.lineSeparator(),
        StandardCharsets.UTF_8,
        StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder.environment().putAll(environment);
    process = builder.start();
    return this;
  }

  /**
   * Waits for this start's "listening on HOST:PORT" line and returns the port. Fails early, with
   * the log, if the process exits.
   */
  public int awaitListening(Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      String text = Files.readString(log, StandardCharsets.UTF_8);
      String thisStart = text.substring(text.lastIndexOf("---- start " + starts + ":"));
      Matcher matcher = LISTENING.matcher(thisStart);
      if (matcher.find()) {
        return Integer.parseInt(matcher.group(2));
      }
      if (!process.isAlive()) {
        throw new IllegalStateException(
            name + " exited with " + process.exitValue() + ":\n" + thisStart);
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException(
        name + " did not start listening within " + timeout + "; see " + log);
  }

  /** Replaces the arguments used by the next start. */
  public void arguments(List<String> next) {
    this.arguments = List.copyOf(next);
  }

  public List<String> arguments() {
    return arguments;
  }

  /** SIGKILL, and wait until it is gone. */
  public void kill() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /** SIGSTOP: the process stays, holding its sockets, and answers nothing until {@link #thaw}. */
  public void freeze() throws IOException, InterruptedException {
    signal("STOP");
  }

  /** SIGCONT after {@link #freeze}. */
  public void thaw() throws IOException, InterruptedException {
    signal("CONT");
  }

  private void signal(String name) throws IOException, InterruptedException {
    Process kill =
        new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
            .redirectErrorStream(true)
            .start();
    if (kill.waitFor() != 0) {
      throw new IOException("kill -" + name + " " + process.pid() + " failed");
    }
  }

  /** SIGTERM, and wait until it is gone. */
  public void stop() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        kill();
      }
    }
  }

  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  /** Waits for the process to exit and returns its exit code. */
  public int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException(name + " did not exit within " + timeout);
    }
    return process.exitValue();
  }

  /** Waits until the latest start's log contains the text. */
  public void awaitLog(String text, Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!lastLog().contains(text)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(name + " did not log '" + text + "' within " + timeout);
      }
      Thread.sleep(50);
    }
  }

  /** The log of the latest start. */
  public String lastLog() throws IOException {
    String text = Files.readString(log, StandardCharsets.UTF_8);
    return text.substring(text.lastIndexOf("---- start " + starts + ":"));
  }
}
