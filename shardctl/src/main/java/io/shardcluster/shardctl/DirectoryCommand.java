package io.shardcluster.shardctl;

import io.shardcluster.client.MigrationInfo;
import io.shardcluster.client.ShardClient;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.Keyspace;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "directory",
    description = "Places keys or key prefixes on nodes, overriding the ring.",
    mixinStandardHelpOptions = true,
    subcommands = {
      DirectoryCommand.Set.class,
      DirectoryCommand.Get.class,
      DirectoryCommand.Remove.class,
      DirectoryCommand.Move.class,
      DirectoryCommand.ListEntries.class
    })
final class DirectoryCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "missing subcommand: set, get, move, remove or list");
  }

  static void printChange(ClusterCommand command, boolean json, long epoch) {
    if (json) {
      Output.json(command.out(), Map.of("ok", true, "epoch", epoch));
    } else {
      command.out().println("OK (epoch " + epoch + ")");
    }
  }

  static Map<String, Object> toJson(DirectoryEntry entry) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("key", entry.key().toStringUtf8());
    row.put("prefix", entry.prefix());
    row.put("owner", entry.owner());
    return row;
  }

  @Command(
      name = "move",
      description =
          "Moves the keys an existing entry places (KEY, or the prefix with --prefix) to NODE,"
              + " online; the entry switches to NODE when the move commits.",
      mixinStandardHelpOptions = true)
  static final class Move extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Option(names = "--to", required = true, paramLabel = "NODE", description = "Target node.")
    String node;

    @Option(names = "--prefix", description = "KEY is a prefix.")
    boolean prefix;

    @Option(
        names = "--keyspace",
        defaultValue = Keyspace.DEFAULT,
        description = "The keyspace (default: ${DEFAULT-VALUE}).")
    String keyspace;

    @Option(names = "--json", description = "Print the migration started as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      MigrationInfo started =
          client
              .admin()
              .moveDirectoryEntry(keyspace, key.getBytes(StandardCharsets.UTF_8), prefix, node);
      if (json) {
        Output.json(out(), MigrationsCommand.toJson(List.of(started)));
        return 0;
      }
      out().println("moving " + started.what() + " to " + node + ": migration " + started.id());
      out().println("watch with: shardctl migrations --watch");
      return 0;
    }
  }

  @Command(
      name = "set",
      description = "Places KEY (or, with --prefix, every key starting with it) on NODE.",
      mixinStandardHelpOptions = true)
  static final class Set extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Parameters(index = "1", paramLabel = "NODE")
    String node;

    @Option(names = "--prefix", description = "KEY is a prefix.")
    boolean prefix;

    @Option(names = "--json", description = "Print the new epoch as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      long epoch =
          client.admin().setDirectoryEntry(key.getBytes(StandardCharsets.UTF_8), prefix, node);
      printChange(this, json, epoch);
      return 0;
    }
  }

  @Command(
      name = "get",
      description = "Shows the entry that places KEY, if any; exits 1 if none.",
      mixinStandardHelpOptions = true)
  static final class Get extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Option(names = "--json", description = "Print as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      Optional<DirectoryEntry> entry =
          client
              .refreshRoutingTable()
              .keyspace(Keyspace.DEFAULT)
              .directory()
              .entryFor(key.getBytes(StandardCharsets.UTF_8));
      if (json) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("key", key);
        result.put("entry", entry.map(DirectoryCommand::toJson).orElse(null));
        Output.json(out(), result);
      } else if (entry.isPresent()) {
        out().println(entry.get());
      } else {
        err().println("shardctl: no directory entry places '" + key + "'");
      }
      return entry.isPresent() ? 0 : ShardctlMain.EXIT_NO;
    }
  }

  @Command(
      name = "remove",
      description = "Removes the entry for KEY (with --prefix, the prefix entry).",
      mixinStandardHelpOptions = true)
  static final class Remove extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Option(names = "--prefix", description = "KEY is a prefix.")
    boolean prefix;

    @Option(names = "--json", description = "Print the new epoch as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      long epoch =
          client.admin().removeDirectoryEntry(key.getBytes(StandardCharsets.UTF_8), prefix);
      printChange(this, json, epoch);
      return 0;
    }
  }

  @Command(
      name = "list",
      description = "Lists all directory entries.",
      mixinStandardHelpOptions = true)
  static final class ListEntries extends ClusterCommand {
    @Option(names = "--json", description = "Print as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      List<DirectoryEntry> entries =
          client.refreshRoutingTable().keyspace(Keyspace.DEFAULT).directory().entries();
      if (json) {
        List<Map<String, Object>> rows = new ArrayList<>();
        entries.forEach(e -> rows.add(toJson(e)));
        Output.json(out(), rows);
      } else {
        List<List<String>> rows = new ArrayList<>();
        entries.forEach(
            e ->
                rows.add(
                    List.of(e.key().toStringUtf8(), e.prefix() ? "prefix" : "key", e.owner())));
        Output.table(out(), List.of("KEY", "KIND", "NODE"), rows);
      }
      return 0;
    }
  }
}
