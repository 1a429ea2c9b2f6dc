package io.shardcluster.server;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * Named places in the migration protocol (and in a node's part of a query) where a process can be
 * made to crash or to stop, for tests that kill real processes at each phase. Switched on by
 * configuration ({@code --failpoint NAME=crash|pause}, repeatable, or {@code
 * SHARDCLUSTER_FAILPOINTS="NAME=ACTION,..."}); off, a check costs a map lookup. A paused thread
 * waits until the process is killed, or until the file named by {@code
 * SHARDCLUSTER_FAILPOINT_RELEASE} exists.
 */
public final class Failpoints {
  private static final Logger logger = Logger.getLogger(Failpoints.class.getName());

  /** Target node, after the first snapshot batch is applied. */
  public static final String MID_COPY = "migration.mid-copy";

  /** Target node, after its first pull of logged changes is applied. */
  public static final String CATCH_UP = "migration.catch-up";

  /** Coordinator, once the copy has caught up (with its whole group's), before the fence. */
  public static final String BEFORE_FENCE = "migration.before-fence";

  /** Coordinator, after the checksums matched and before the commit. */
  public static final String BEFORE_COMMIT = "migration.before-commit";

  /** Coordinator, after the commit and before the cleanup. */
  public static final String AFTER_COMMIT = "migration.after-commit";

  /**
   * Node, in its part of a query: after the first row is read, or for a query whose rows stream,
   * after its first message of rows is sent.
   */
  public static final String QUERY_MID_SCAN = "query.mid-scan";

  /**
   * Node holding a transaction's record: after the participants prepared, before the record commits
   * (the transaction must end aborted).
   */
  public static final String TXN_BEFORE_RECORD = "txn.before-record";

  /**
   * Node holding a transaction's record: after the record committed, before the participants are
   * told (the transaction must end committed).
   */
  public static final String TXN_AFTER_RECORD = "txn.after-record";

  /** Every failpoint name. */
  public static final List<String> NAMES =
      List.of(
          MID_COPY,
          CATCH_UP,
          BEFORE_FENCE,
          BEFORE_COMMIT,
          AFTER_COMMIT,
          QUERY_MID_SCAN,
          TXN_BEFORE_RECORD,
          TXN_AFTER_RECORD);

  private static final Failpoints NONE = new Failpoints(Map.of(), null);

  /** What happens at an enabled failpoint. */
  public enum Action {
    /** Halt the process at once, as SIGKILL would (exit code 137, no shutdown hooks). */
    CRASH,
    /** Block the thread that got there until the process is killed. */
    PAUSE
  }

  private final Map<String, Action> enabled;
  private final @Nullable Path release;

  private Failpoints(Map<String, Action> enabled, @Nullable Path release) {
    this.enabled = Map.copyOf(enabled);
    this.release = release;
  }

  /** No failpoints. */
  public static Failpoints none() {
    return NONE;
  }

  /** Failpoints from {@code NAME=ACTION} specs and the environment variables. */
  public static Failpoints fromConfiguration(Collection<String> specs) {
    String release = System.getenv("SHARDCLUSTER_FAILPOINT_RELEASE");
    return parse(
        specs,
        System.getenv("SHARDCLUSTER_FAILPOINTS"),
        release == null || release.isBlank() ? null : Path.of(release));
  }

  /**
   * Failpoints from {@code NAME=ACTION} specs and a comma-separated list of more; INVALID_ARGUMENT
   * naming a bad spec. A pause ends when {@code release} (if not null) exists.
   */
  public static Failpoints parse(
      Collection<String> specs, @Nullable String environment, @Nullable Path release) {
    Map<String, Action> enabled = new HashMap<>();
    List<String> all = new ArrayList<>(specs);
    if (environment != null && !environment.isBlank()) {
      all.addAll(List.of(environment.split(",")));
    }
    for (String spec : all) {
      String[] parts = spec.trim().split("=", 2);
      requireArgument(
          parts.length == 2 && NAMES.contains(parts[0]),
          "failpoint '%s' must be NAME=crash|pause with NAME one of %s",
          spec,
          NAMES);
      Action action;
      try {
        action = Action.valueOf(parts[1].toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw io.shardcluster.errors.ShardClusterException.invalidArgument(
            "failpoint '" + spec + "' must end in =crash or =pause");
      }
      enabled.put(parts[0], action);
    }
    return enabled.isEmpty() ? NONE : new Failpoints(enabled, release);
  }

  /** Acts if the failpoint is enabled; returns at once otherwise. */
  public void hit(String name) {
    Action action = enabled.get(name);
    if (action == null) {
      return;
    }
    logger.warning("failpoint " + name + ": " + action.name().toLowerCase(Locale.ROOT));
    if (action == Action.CRASH) {
      Runtime.getRuntime().halt(137);
    }
    while (release == null || !Files.exists(release)) {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        // Paused until the process is killed or released; interrupts do not release it.
      }
    }
    logger.warning("failpoint " + name + ": released");
  }
}
