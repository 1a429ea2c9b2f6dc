package io.shardcluster.shardctl;

import io.shardcluster.client.DirectoryChange;
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
    description =
        "Places keys or key prefixes on nodes, overriding the ring; in a directory keyspace, shows"
            + " and moves groups.",
    mixinStandardHelpOptions = true,
    subcommands = {
      DirectoryCommand.Set.class,
      DirectoryCommand.Get.class,
      DirectoryCommand.Remove.class,
      DirectoryCommand.Move.class,
      DirectoryCommand.ListEntries.class,
      DirectoryBenchCommand.class
    })
final class DirectoryCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "missing subcommand: set, get, move, remove, list or bench");
  }

  /**
   * Prints a directory change of the entry {@code what}: its epoch once in effect, else the
   * migrations that make it (the entry is {@code outcome}, "set" or "removed", when they commit).
   */
  static void printChange(
      ClusterCommand command, boolean json, DirectoryChange change, String what, String outcome) {
    if (change.inEffect()) {
      printChange(command, json, change.epoch());
      return;
    }
    List<MigrationInfo> started = change.migrations();
    if (json) {
      Output.json(command.out(), MigrationsCommand.toJson(started));
      return;
    }
    boolean several = started.size() > 1;
    command
        .out()
        .println(
            "moving "
                + what
                + " from "
                + String.join(", ", started.stream().map(MigrationInfo::source).distinct().toList())
                + " to "
                + String.join(", ", started.stream().map(MigrationInfo::target).distinct().toList())
                + ": migration"
                + (several ? "s " : " ")
                + String.join(", ", started.stream().map(MigrationInfo::id).toList())
                + "; the entry is "
                + outcome
                + " when "
                + (several ? "they commit" : "it commits"));
    command.out().println("watch with: shardctl migrations --watch");
  }

  static void printChange(ClusterCommand command, boolean json, long epoch) {
    if (json) {
      Output.json(command.out(), Map.of("ok", true, "epoch", epoch));
    } else {
      command.out().println("OK (epoch " + epoch + ")");
    }
  }

  /**
   * The keyspace and key of a command taking {@code [KEYSPACE] KEY}: with two arguments the first
   * names the keyspace (and --keyspace must not be given too).
   */
  static String[] keyspaceAndKey(
      picocli.CommandLine.Model.CommandSpec spec, List<String> args, String keyspaceOption) {
    if (args.size() == 1) {
      return new String[] {keyspaceOption == null ? Keyspace.DEFAULT : keyspaceOption, args.get(0)};
    }
    if (keyspaceOption != null) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "give the keyspace either as the first argument or with --keyspace");
    }
    return new String[] {args.get(0), args.get(1)};
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
              + " online; the entry switches to NODE when the move commits. In a directory"
              + " keyspace (`directory move KEYSPACE GROUP --to NODE`) KEY is a group.",
      mixinStandardHelpOptions = true)
  static final class Move extends ClusterCommand {
    @Parameters(arity = "1..2", paramLabel = "[KEYSPACE] KEY")
    List<String> args;

    @Option(names = "--to", required = true, paramLabel = "NODE", description = "Target node.")
    String node;

    @Option(names = "--prefix", description = "KEY is a prefix.")
    boolean prefix;

    @Option(names = "--keyspace", description = "The keyspace (default: default).")
    String keyspaceOption;

    @Option(names = "--json", description = "Print the migration started as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      String[] target = keyspaceAndKey(spec, args, keyspaceOption);
      MigrationInfo started =
          client
              .admin()
              .moveDirectoryEntry(
                  target[0], target[1].getBytes(StandardCharsets.UTF_8), prefix, node);
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
      description =
          "Places KEY (or, with --prefix, every key starting with it) on NODE. Keys it covers"
              + " that other nodes own move there online, one migration from each, committed"
              + " together with the entry. With no such key stored it returns once the entry is"
              + " in effect; otherwise at once, naming the migrations.",
      mixinStandardHelpOptions = true)
  static final class Set extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Parameters(index = "1", paramLabel = "NODE")
    String node;

    @Option(names = "--prefix", description = "KEY is a prefix.")
    boolean prefix;

    @Option(names = "--json", description = "Print the new epoch, or the migration, as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      DirectoryChange change =
          client.admin().setDirectoryEntry(key.getBytes(StandardCharsets.UTF_8), prefix, node);
      printChange(this, json, change, (prefix ? "prefix " : "key ") + key, "set");
      return 0;
    }
  }

  @Command(
      name = "get",
      description =
          "Shows the entry that places KEY, if any; exits 1 if none. In a directory keyspace"
              + " (`directory get KEYSPACE KEY`) the entry of the key's group.",
      mixinStandardHelpOptions = true)
  static final class Get extends ClusterCommand {
    @Parameters(arity = "1..2", paramLabel = "[KEYSPACE] KEY")
    List<String> args;

    @Option(names = "--keyspace", description = "The keyspace (default: default).")
    String keyspaceOption;

    @Option(names = "--json", description = "Print as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      String[] target = keyspaceAndKey(spec, args, keyspaceOption);
      String key = target[1];
      Keyspace keyspace = client.refreshRoutingTable().keyspace(target[0]);
      if (keyspace.isDirectory()) {
        return getGroup(client, keyspace, key);
      }
      Optional<DirectoryEntry> entry =
          keyspace.directory().entryFor(key.getBytes(StandardCharsets.UTF_8));
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

    private int getGroup(ShardClient client, Keyspace keyspace, String key) {
      String group =
          keyspace.grouping().groupOf(key.getBytes(StandardCharsets.UTF_8)).toStringUtf8();
      Optional<String> owner =
          client.admin().groupOwner(keyspace.name(), group.getBytes(StandardCharsets.UTF_8));
      if (json) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("keyspace", keyspace.name());
        result.put("key", key);
        result.put("group", group);
        result.put("owner", owner.orElse(null));
        Output.json(out(), result);
      } else if (owner.isPresent()) {
        out().println("group " + group + " -> " + owner.get());
      } else {
        err()
            .println(
                "shardctl: group '"
                    + group
                    + "' of "
                    + keyspace.name()
                    + " has no entry (never written)");
      }
      return owner.isPresent() ? 0 : ShardctlMain.EXIT_NO;
    }
  }

  @Command(
      name = "remove",
      description =
          "Removes the entry for KEY (with --prefix, the prefix entry). Its keys move online to"
              + " the nodes that own them without it, one migration to each, committed together"
              + " with the removal. With none of them stored it returns once the entry is gone;"
              + " otherwise at once, naming the migrations.",
      mixinStandardHelpOptions = true)
  static final class Remove extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Option(names = "--prefix", description = "KEY is a prefix.")
    boolean prefix;

    @Option(names = "--json", description = "Print the new epoch, or the migrations, as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      DirectoryChange change =
          client.admin().removeDirectoryEntry(key.getBytes(StandardCharsets.UTF_8), prefix);
      printChange(this, json, change, (prefix ? "prefix " : "key ") + key, "removed");
      return 0;
    }
  }

  @Command(
      name = "list",
      description =
          "Lists the directory entries of a keyspace; of a directory keyspace, its groups in"
              + " order, a page at a time.",
      mixinStandardHelpOptions = true)
  static final class ListEntries extends ClusterCommand {
    @Parameters(arity = "0..1", paramLabel = "KEYSPACE")
    String keyspaceArg;

    @Option(names = "--keyspace", description = "The keyspace (default: default).")
    String keyspaceOption;

    @Option(
        names = "--after",
        defaultValue = "",
        description = "Directory keyspaces: list groups after this one.")
    String after;

    @Option(
        names = "--limit",
        defaultValue = "100",
        description = "Directory keyspaces: at most this many groups (default: ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--json", description = "Print as JSON.")
    boolean json;

    @Override
    void checkUsage() {
      requireUsage(limit >= 1, "--limit must be at least 1");
    }

    @Override
    int run(ShardClient client) {
      String name =
          keyspaceArg != null ? keyspaceArg : keyspaceOption != null ? keyspaceOption : "default";
      Keyspace keyspace = client.refreshRoutingTable().keyspace(name);
      if (keyspace.isDirectory()) {
        return listGroups(client, name);
      }
      List<DirectoryEntry> entries = keyspace.directory().entries();
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

    private int listGroups(ShardClient client, String name) {
      var page = client.admin().groups(name, after.getBytes(StandardCharsets.UTF_8), limit);
      if (json) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (var group : page.groups()) {
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("group", new String(group.group(), StandardCharsets.UTF_8));
          row.put("owner", group.owner());
          rows.add(row);
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("keyspace", name);
        result.put("total", page.total());
        result.put("groups", rows);
        Output.json(out(), result);
        return 0;
      }
      List<List<String>> rows = new ArrayList<>();
      page.groups()
          .forEach(
              g -> rows.add(List.of(new String(g.group(), StandardCharsets.UTF_8), g.owner())));
      Output.table(out(), List.of("GROUP", "NODE"), rows);
      out()
          .println(
              page.groups().size()
                  + " of "
                  + page.total()
                  + " group(s)"
                  + (page.groups().size() == limit
                      ? "; next page: --after "
                          + new String(
                              page.groups().get(page.groups().size() - 1).group(),
                              StandardCharsets.UTF_8)
                      : ""));
      return 0;
    }
  }
}
