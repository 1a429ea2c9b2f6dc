package io.shardcluster.shardctl;

import io.shardcluster.client.ClusterAdmin.KeyspaceInfo;
import io.shardcluster.client.ShardClient;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "keyspace",
    description = "Creates, lists and drops keyspaces.",
    mixinStandardHelpOptions = true,
    subcommands = {
      KeyspaceCommand.Create.class,
      KeyspaceCommand.ListKeyspaces.class,
      KeyspaceCommand.Drop.class
    })
final class KeyspaceCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(
        spec.commandLine(), "missing subcommand: create, list or drop");
  }

  @Command(
      name = "create",
      description =
          "Creates a keyspace: hash (spread over the UP nodes by key hash, like default), range"
              + " (contiguous key ranges, cut at --split-at, dealt out to the nodes in turn) or"
              + " directory (each key's group, the key up to --separator, placed on the"
              + " least-loaded node by its first write).",
      mixinStandardHelpOptions = true)
  static final class Create extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Option(
        names = "--strategy",
        defaultValue = "hash",
        description = "hash, range or directory (default: ${DEFAULT-VALUE}).")
    String strategy;

    @Option(
        names = "--split-at",
        split = ",",
        paramLabel = "KEY",
        description = "Range keyspaces: where the second, third, ... ranges start (K1,K2,...).")
    List<String> splitAt = new ArrayList<>();

    @Option(
        names = "--separator",
        paramLabel = "TEXT",
        description =
            "Directory keyspaces: a key's group ends where TEXT first occurs (default ':', so"
                + " acme:order:17 is in group acme); \"\" makes every key its own group.")
    String separator;

    @Option(names = "--json", description = "Print the new epoch as JSON.")
    boolean json;

    @Override
    void checkUsage() {
      requireUsage(
          List.of("hash", "range", "directory").contains(strategy),
          "unknown strategy '" + strategy + "'; choose hash, range or directory");
    }

    @Override
    int run(ShardClient client) {
      long epoch =
          client
              .admin()
              .createKeyspace(
                  name,
                  strategy,
                  splitAt.stream().map(k -> k.getBytes(StandardCharsets.UTF_8)).toList(),
                  separator == null ? null : separator.getBytes(StandardCharsets.UTF_8));
      DirectoryCommand.printChange(this, json, epoch);
      return 0;
    }
  }

  @Command(name = "list", description = "Lists the keyspaces.", mixinStandardHelpOptions = true)
  static final class ListKeyspaces extends ClusterCommand {
    @Option(names = "--json", description = "Print as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      List<KeyspaceInfo> keyspaces = client.admin().keyspaces();
      if (json) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (KeyspaceInfo k : keyspaces) {
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("name", k.name());
          row.put("strategy", k.strategy());
          row.put("intervals", k.intervals());
          row.put("directory_entries", k.directoryEntries());
          if (k.strategy().equals("directory")) {
            row.put("separator", k.separator());
            row.put("groups", k.groups());
          }
          rows.add(row);
        }
        Output.json(out(), rows);
      } else {
        List<List<String>> rows = new ArrayList<>();
        keyspaces.forEach(
            k ->
                rows.add(
                    k.strategy().equals("directory")
                        ? List.of(
                            k.name(),
                            k.strategy(),
                            "-",
                            k.groups()
                                + (k.groups() == 1 ? " group" : " groups")
                                + " (separator '"
                                + k.separator()
                                + "')")
                        : List.of(
                            k.name(),
                            k.strategy(),
                            String.valueOf(k.intervals()),
                            String.valueOf(k.directoryEntries()))));
        Output.table(out(), List.of("NAME", "STRATEGY", "INTERVALS", "DIRECTORY"), rows);
      }
      return 0;
    }
  }

  @Command(
      name = "drop",
      description =
          "Drops a keyspace and deletes its keys on every node; needs --yes. Its name is not"
              + " reused.",
      mixinStandardHelpOptions = true)
  static final class Drop extends ClusterCommand {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Option(names = "--yes", description = "Confirms that the keyspace's keys are to be deleted.")
    boolean yes;

    @Option(names = "--json", description = "Print the new epoch as JSON.")
    boolean json;

    @Override
    int run(ShardClient client) {
      if (!yes) {
        throw new CommandLine.ParameterException(
            spec.commandLine(),
            "dropping keyspace '" + name + "' deletes all its keys; add --yes to confirm");
      }
      long epoch = client.admin().dropKeyspace(name);
      DirectoryCommand.printChange(this, json, epoch);
      return 0;
    }
  }
}
