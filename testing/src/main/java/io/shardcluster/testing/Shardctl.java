package io.shardcluster.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs the built shardctl (or a bin/ script) as a separate process and captures its output. */
public final class Shardctl {
  /** What a command printed and how it exited. */
  public record Result(int exitCode, String out, String err) {
    /** The non-empty lines of standard error. */
    public List<String> errLines() {
      return err.lines().filter(line -> !line.isBlank()).toList();
    }
  }

  private Shardctl() {}

  public static Result run(List<String> args) throws IOException, InterruptedException {
    return start(args).result();
  }

  /** Starts shardctl without waiting for it: for a command that runs a while, like a watch. */
  public static Running start(List<String> args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(JvmProcess.javaBinary());
    command.add("-XX:TieredStopAtLevel=1");
    command.add("-XX:+UseSerialGC");
    command.add("-jar");
    command.add(LocalCluster.jar("shardctl").toString());
    command.addAll(args);
    return new Running(command, Map.of());
  }

  public static Result exec(List<String> command, Map<String, String> env)
      throws IOException, InterruptedException {
    return new Running(command, env).result();
  }

  /** A process that runs: what it has printed so far, and how it ended once it has. */
  public static final class Running {
    private final List<String> command;
    private final Process process;
    private final StringBuffer out = new StringBuffer();
    private final StringBuffer err = new StringBuffer();
    private final CompletableFuture<Void> outDone;
    private final CompletableFuture<Void> errDone;

    private Running(List<String> command, Map<String, String> env) throws IOException {
      this.command = command;
      ProcessBuilder builder = new ProcessBuilder(command).directory(LocalCluster.ROOT.toFile());
      builder.environment().putAll(env);
      process = builder.start();
      process.getOutputStream().close();
      outDone = drain(process.getInputStream(), out);
      errDone = drain(process.getErrorStream(), err);
    }

    /** SIGKILL, and wait until it is gone. */
    public void kill() throws InterruptedException {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }

    /** What it has printed on standard output so far. */
    public String outSoFar() {
      return out.toString();
    }

    /** Waits until it exits (at most 180 s). */
    public Result result() throws InterruptedException {
      if (!process.waitFor(180, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException("timed out: " + String.join(" ", command));
      }
      outDone.join();
      errDone.join();
      return new Result(process.exitValue(), out.toString(), err.toString());
    }
  }

  private static CompletableFuture<Void> drain(InputStream stream, StringBuffer into) {
    return CompletableFuture.runAsync(
        () -> {
          try (var reader = new InputStreamReader(stream, StandardCharsets.UTF_8)) {
            char[] buffer = new char[4096];
            int n;
            while ((n = reader.read(buffer)) >= 0) {
              into.append(buffer, 0, n);
            }
          } catch (IOException e) {
            into.append("<unreadable: ").append(e).append('>');
          }
        });
  }
}
