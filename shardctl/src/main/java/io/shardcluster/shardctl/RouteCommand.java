package io.shardcluster.shardctl;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.shardcluster.client.ShardClient;
import io.shardcluster.routing.Interval;
import io.shardcluster.routing.Route;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "route",
    description = "Shows which node owns KEY, and why.",
    mixinStandardHelpOptions = true)
final class RouteCommand extends DataCommand {
  @Parameters(index = "0", paramLabel = "KEY")
  String key;

  @Option(names = "--json", description = "Print the route as JSON.")
  boolean json;

  @Override
  int run(ShardClient client) {
    Route route = client.route(key.getBytes(StandardCharsets.UTF_8));
    ByteString group = route.group();
    if (group != null) {
      return printGroup(route, group);
    }
    String placedBy =
        route.range() != null
            ? "key range " + route.range()
            : route
                .directoryEntry()
                .map(e -> "directory " + e)
                .orElse("ring interval " + route.interval());
    if (json) {
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("key", key);
      result.put("keyspace", route.keyspace());
      result.put("owner", route.owner());
      result.put("address", route.address());
      if (route.range() != null) {
        result.put("range", route.range().toString());
      } else {
        result.put("position", Interval.hex(route.position()));
        // Of a hash keyspace: a ring interval holds every position.
        Interval interval = requireNonNull(route.interval());
        result.put("interval_start", Interval.hex(interval.start()));
        result.put("interval_end", interval.end() == 0 ? "end" : Interval.hex(interval.end()));
      }
      result.put("directory", route.directoryEntry().map(Object::toString).orElse(null));
      result.put("epoch", route.epoch());
      Output.json(out(), result);
    } else {
      out().println(route.owner() + " " + route.address());
      // A range keyspace places keys by their bytes: a hash position would only mislead.
      out()
          .println(
              route.range() != null
                  ? "  placed by " + placedBy
                  : "  position " + Interval.hex(route.position()) + ", placed by " + placedBy);
      out().println("  routing epoch " + route.epoch());
    }
    return 0;
  }

  private int printGroup(Route route, ByteString groupBytes) {
    String group = groupBytes.toStringUtf8();
    boolean placed = !route.owner().isEmpty();
    if (json) {
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("key", key);
      result.put("keyspace", route.keyspace());
      result.put("group", group);
      result.put("owner", placed ? route.owner() : null);
      result.put("address", placed ? route.address() : null);
      result.put("epoch", route.epoch());
      Output.json(out(), result);
    } else if (placed) {
      out().println(route.owner() + " " + route.address());
      out().println("  placed by the directory entry of group " + group);
      out().println("  routing epoch " + route.epoch());
    } else {
      out().println("(no owner yet)");
      out().println("  group " + group + " has no entry; its first write places it");
    }
    return 0;
  }
}
