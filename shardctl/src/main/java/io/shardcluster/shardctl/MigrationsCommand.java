package io.shardcluster.shardctl;

import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.NodeInfo;
import io.shardcluster.client.NodeState;
import io.shardcluster.client.RolledBackDirectoryChange;
import io.shardcluster.client.ShardClient;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "migrations",
    description =
        "Lists migrations: keys moving between nodes, their phase, progress, rate and ETA.",
    mixinStandardHelpOptions = true,
    subcommands = {
      MigrationsCommand.Pause.class,
      MigrationsCommand.Resume.class,
      MigrationsCommand.Cancel.class
    })
final class MigrationsCommand extends ClusterCommand {
  // How recently a migration ended for a watch that found none running to show it.
  private static final Duration RECENT = Duration.ofMinutes(1);

  @Option(names = "--all", description = "Also list migrations that have ended.")
  boolean all;

  @Option(
      names = "--watch",
      description =
          "Show live progress until every migration has ended, no node is JOINING or DRAINING,"
              + " and no directory change a failure rolled back is about to be tried again.")
  boolean watch;

  @Option(names = "--json", description = "Print as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) throws InterruptedException {
    if (watch) {
      return watch(client);
    }
    if (json) {
      Output.json(out(), toJson(client.admin().migrations(all)));
      return 0;
    }
    // Nodes before migrations: a round of a join or drain that starts in between shows as a
    // migration, rather than as neither a note nor a migration.
    List<NodeInfo> nodes = client.admin().nodes().nodes();
    List<MigrationInfo> everything = client.admin().migrations(true);
    List<MigrationInfo> migrations =
        all ? everything : everything.stream().filter(m -> !m.ended()).toList();
    if (migrations.isEmpty()) {
      out().println(all ? "no migrations" : "no migrations in progress");
    } else {
      printTable(out(), migrations);
    }
    // Between rounds of a join or drain nothing runs: say what its node waits for; and what
    // became of the latest directory change, if a failure rolled it back.
    for (NodeInfo node : changingNodes(nodes)) {
      if (!node.note().isEmpty()) {
        out().println(waitingFor(node));
      }
    }
    RolledBackDirectoryChange.all(everything, nodes).forEach(c -> out().println(c.describe()));
    return 0;
  }

  private int watch(ShardClient client) throws InterruptedException {
    Map<String, String> lastPhase = new LinkedHashMap<>();
    Set<String> endedBefore =
        client.admin().migrations(true).stream()
            .filter(MigrationInfo::ended)
            .map(MigrationInfo::id)
            .collect(Collectors.toSet());
    String lastWaiting = "";
    int stopped = 0;
    ProgressBar bar = null;
    try {
      while (true) {
        List<MigrationInfo> active = client.admin().migrations(false);
        for (MigrationInfo m : active) {
          String phase = m.phase() + (m.paused() ? " (paused)" : "");
          if (!phase.equals(lastPhase.put(m.id(), phase))) {
            show(bar, m.id() + " " + m.source() + " -> " + m.target() + ": " + phase);
          }
        }
        if (active.isEmpty()) {
          // A node that has just registered is JOINING before the coordinator plans its moves,
          // and a join or drain waits a while before it tries again what a failure rolled back:
          // the watch covers the join (or drain) until the node is UP (or REMOVED), or until
          // every drain left is stopped.
          // So does a directory change a failure rolled back, which the coordinator tries again
          // after a pause once its nodes answer.
          List<NodeInfo> nodes = client.admin().nodes().nodes();
          List<NodeInfo> changing = changingNodes(nodes);
          List<MigrationInfo> all = client.admin().migrations(true);
          if (all.stream().anyMatch(m -> !m.ended())) {
            continue; // one has started since: follow it
          }
          // A small move can start and end between two looks (a try again of a few hundred
          // keys): it counts as followed all the same.
          for (MigrationInfo m : all) {
            if (!endedBefore.contains(m.id()) && !lastPhase.containsKey(m.id())) {
              lastPhase.put(m.id(), m.phase());
              show(bar, m.id() + " " + m.source() + " -> " + m.target() + ": " + m.phase());
            }
          }
          List<RolledBackDirectoryChange> retries =
              RolledBackDirectoryChange.all(all, nodes).stream()
                  .filter(RolledBackDirectoryChange::retryComing)
                  .toList();
          if (retries.isEmpty() && changing.stream().allMatch(NodeInfo::stopped)) {
            stopped = changing.size();
            changing.forEach(n -> out().println(n.id() + ": " + n.note()));
            break;
          }
          List<String> pending =
              new ArrayList<>(
                  changing.stream()
                      .map(
                          n ->
                              n.id()
                                  + " ("
                                  + n.state()
                                  + (n.note().isEmpty() ? "" : ": " + n.note())
                                  + ")")
                      .toList());
          retries.stream().map(MigrationsCommand::waitingFor).forEach(pending::add);
          String waiting = "waiting for " + String.join(", ", pending);
          // Once per state, not once per second of a retry's countdown.
          String state = waiting.replaceAll("in \\d+ s", "");
          if (!state.equals(lastWaiting)) {
            lastWaiting = state;
            out().println(waiting);
            out().flush();
          }
          Thread.sleep(200);
          continue;
        }
        long total =
            active.stream().mapToLong(m -> Math.max(m.estimatedKeys(), m.keysCopied())).sum();
        long copied = active.stream().mapToLong(MigrationInfo::keysCopied).sum();
        if (Output.isTerminal()) {
          if (bar == null) {
            bar =
                new ProgressBarBuilder()
                    .setTaskName("moving")
                    .setInitialMax(Math.max(1, total))
                    .setUnit(" keys", 1)
                    .setStyle(ProgressBarStyle.ASCII)
                    .showSpeed()
                    .build();
          }
          bar.maxHint(Math.max(1, total));
          bar.stepTo(copied);
        }
        Thread.sleep(500);
      }
    } finally {
      if (bar != null) {
        bar.close();
      }
    }
    // Those it followed; if it found none running, those that ended just before it started (a
    // small join can end before a watch started right after it is up).
    long now = System.currentTimeMillis();
    List<MigrationInfo> all = client.admin().migrations(true);
    List<MigrationInfo> ended =
        all.stream()
            .filter(
                m ->
                    lastPhase.isEmpty()
                        ? m.ended() && now - m.finishedMillis() <= RECENT.toMillis()
                        : lastPhase.containsKey(m.id()))
            .toList();
    if (!ended.isEmpty()) {
      printTable(out(), ended);
    }
    // A move of a join or drain rolled back, then tried again by a later round (the coordinator's
    // retry, or the operator running the drain again), is no failure.
    long retried =
        ended.stream().filter(m -> m.phase().equals("CANCELLED") && triedAgain(m, ended)).count();
    long cancelled = ended.stream().filter(m -> m.phase().equals("CANCELLED")).count() - retried;
    List<String> notes = new ArrayList<>();
    if (cancelled > 0) {
      notes.add(cancelled + " cancelled");
    }
    if (retried > 0) {
      notes.add(retried + " cancelled, then tried again");
    }
    String cancelledNote = notes.isEmpty() ? "" : " (" + String.join(", ", notes) + ")";
    if (!lastPhase.isEmpty()) {
      out().println("all migrations ended" + cancelledNote);
    } else if (!ended.isEmpty()) {
      out()
          .println(
              "no migrations in progress; the ones above ended in the last minute" + cancelledNote);
    } else {
      out().println("no migrations in progress (`shardctl migrations --all` lists the ended ones)");
    }
    // A directory change rolled back by a failure that the watch did not wait for: its try again
    // waits for a node to answer, or its tries ran out.
    RolledBackDirectoryChange.all(all, client.admin().nodes().nodes()).stream()
        .filter(c -> ended.contains(c.migration()))
        .forEach(c -> out().println(c.describe()));
    return cancelled > 0 || stopped > 0 ? ShardctlMain.EXIT_NO : 0;
  }

  /** A change of phase: a line of its own, or the progress bar's message once there is one. */
  private void show(@Nullable ProgressBar bar, String line) {
    if (bar == null) {
      out().println(line);
      out().flush();
    } else {
      bar.setExtraMessage(line);
    }
  }

  /** Whether a later round of the same join, drain or directory change is among {@code others}. */
  private static boolean triedAgain(MigrationInfo migration, List<MigrationInfo> others) {
    String reason = migration.reason();
    boolean membership = reason.startsWith("join ") || reason.startsWith("drain ");
    return others.stream()
        .anyMatch(
            o ->
                o.reason().equals(reason)
                    && o.createdMillis() > migration.createdMillis()
                    && (membership
                        || (reason.startsWith("directory ") && o.attempt() > migration.attempt())));
  }

  /** A changing node and what it waits for: "node-1 (DRAINING): trying again in 2 s ...". */
  static String waitingFor(NodeInfo node) {
    return node.id() + " (" + node.state() + "): " + node.note();
  }

  /** What waits for the coordinator's next try of a rolled back directory change. */
  static String waitingFor(RolledBackDirectoryChange change) {
    return "the coordinator to try "
        + change.migration().label()
        + " again ("
        + change.nextAttempt()
        + ")";
  }

  /** The nodes that are JOINING or DRAINING. */
  static List<NodeInfo> changingNodes(List<NodeInfo> nodes) {
    return nodes.stream()
        .filter(n -> n.state() == NodeState.JOINING || n.state() == NodeState.DRAINING)
        .toList();
  }

  static void printTable(PrintWriter out, List<MigrationInfo> migrations) {
    List<List<String>> rows = new ArrayList<>();
    for (MigrationInfo m : migrations) {
      rows.add(
          List.of(
              m.id(),
              m.source() + " -> " + m.target(),
              m.phase() + (m.paused() ? " (paused)" : ""),
              String.format(Locale.ROOT, "%,d / ~%,d", m.keysCopied(), m.estimatedKeys()),
              String.format(Locale.ROOT, "%.1f MB", m.bytesCopied() / 1e6),
              m.ended() ? "-" : String.format(Locale.ROOT, "%,.0f keys/s", m.keysPerSec()),
              m.ended() || m.etaSeconds() < 0
                  ? "-"
                  : String.format(Locale.ROOT, "%.0fs", m.etaSeconds()),
              m.reason() + (m.attempt() > 1 ? " (attempt " + m.attempt() + ")" : ""),
              m.what() + (m.lastError().isEmpty() ? "" : "  [" + m.lastError() + "]")));
    }
    Output.table(
        out,
        List.of("ID", "MOVE", "PHASE", "KEYS", "BYTES", "RATE", "ETA", "REASON", "WHAT"),
        rows);
    // How the sources pace the copies under way: their rate limit now, and why.
    for (MigrationInfo m : migrations) {
      if (!m.ended() && !m.pace().isEmpty()) {
        out.printf(
            Locale.ROOT,
            "%s copy limit %s: %s%n",
            m.id(),
            m.copyRateLimit() == 0
                ? "none"
                : String.format(Locale.ROOT, "%.1f MB/s", m.copyRateLimit() / 1e6),
            m.pace());
      }
    }
  }

  static List<Map<String, Object>> toJson(List<MigrationInfo> migrations) {
    List<Map<String, Object>> list = new ArrayList<>();
    for (MigrationInfo m : migrations) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("id", m.id());
      row.put("source", m.source());
      row.put("target", m.target());
      row.put("what", m.what());
      row.put("share", m.share());
      row.put("phase", m.phase());
      row.put("paused", m.paused());
      row.put("reason", m.reason());
      row.put("attempt", m.attempt());
      row.put("keys_copied", m.keysCopied());
      row.put("bytes_copied", m.bytesCopied());
      row.put("changes_applied", m.changesApplied());
      row.put("estimated_keys", m.estimatedKeys());
      row.put("keys_per_sec", m.keysPerSec());
      row.put("bytes_per_sec", m.bytesPerSec());
      row.put("copy_rate_limit", m.copyRateLimit());
      row.put("pace", m.pace());
      row.put("eta_seconds", m.etaSeconds());
      row.put("last_error", m.lastError());
      row.put("rolled_back_by_failure", m.rolledBackByFailure());
      row.put("superseded", m.superseded());
      row.put("group", m.group());
      row.put("latest_of_entry", m.latestOfEntry());
      row.put("created_ms", m.createdMillis());
      row.put("committed_ms", m.committedMillis());
      row.put("finished_ms", m.finishedMillis());
      list.add(row);
    }
    return list;
  }

  @Command(
      name = "pause",
      description = "Pauses migration ID between steps.",
      mixinStandardHelpOptions = true)
  static final class Pause extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "ID")
    String id;

    @Override
    int run(ShardClient client) {
      MigrationInfo m = client.admin().pauseMigration(id);
      out().println("paused " + m.id() + " (" + m.phase() + ")");
      return 0;
    }
  }

  @Command(
      name = "resume",
      description = "Resumes paused migration ID.",
      mixinStandardHelpOptions = true)
  static final class Resume extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "ID")
    String id;

    @Override
    int run(ShardClient client) {
      MigrationInfo m = client.admin().resumeMigration(id);
      out().println("resumed " + m.id() + " (" + m.phase() + ")");
      return 0;
    }
  }

  @Command(
      name = "cancel",
      description =
          "Rolls migration ID back: the keys stay on the source; the target drops its copy.",
      mixinStandardHelpOptions = true)
  static final class Cancel extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "ID")
    String id;

    @Override
    int run(ShardClient client) {
      MigrationInfo m = client.admin().cancelMigration(id);
      out().println("cancelling " + m.id() + "; it rolls back shortly");
      return 0;
    }
  }
}
