package io.shardcluster.client;

import io.shardcluster.query.KeySpans;
import io.shardcluster.query.Query;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Where a query runs: the nodes it asks (each for the key ranges it may own that the query can
 * match), at which routing epoch, and what each node does before the client merges.
 *
 * @param sql the query text
 * @param query the parsed query
 * @param table the routing table it runs at
 * @param keyspace the keyspace it reads
 * @param nodes node id to the key ranges asked of it
 */
public record QueryPlan(
    String sql,
    Query query,
    RoutingTable table,
    Keyspace keyspace,
    Map<String, List<KeySpans.Span>> nodes) {

  /** The plan as lines of text, as {@code shardctl query --explain} prints it. */
  public List<String> describe() {
    List<String> lines = new ArrayList<>();
    lines.add(
        "keyspace "
            + keyspace.name()
            + " ("
            + (keyspace.isRange() ? "range" : keyspace.isDirectory() ? "directory" : "hash")
            + "), routing epoch "
            + table.epoch());
    long all = table.nodeAddresses().size();
    lines.add(
        "nodes: "
            + (nodes.isEmpty() ? "none" : String.join(", ", nodes.keySet()))
            + " ("
            + nodes.size()
            + " of "
            + all
            + ")");
    nodes.forEach(
        (node, spans) -> {
          if (!(spans.size() == 1
              && spans.get(0).start().isEmpty()
              && spans.get(0).end().isEmpty())) {
            lines.add(
                "  "
                    + node
                    + " keys "
                    + spans.stream().map(QueryPlan::span).collect(Collectors.joining(" ")));
          }
        });
    List<String> pushed = new ArrayList<>();
    query.where().ifPresent(c -> pushed.add("filter " + c));
    if (query.isAggregate()) {
      pushed.add(
          "partial aggregates "
              + query.outputs().stream()
                  .filter(o -> o instanceof Query.AggregateOutput)
                  .map(Query.Output::name)
                  .collect(Collectors.joining(", "))
              + (query.groupBy().isEmpty()
                  ? ""
                  : " per group of "
                      + query.groupBy().stream()
                          .map(Object::toString)
                          .collect(Collectors.joining(", "))));
    } else {
      pushed.add("projection " + (query.star() ? "*" : String.join(", ", query.columns())));
      if (!query.orderBy().isEmpty()) {
        pushed.add(
            query.limit() >= 0 ? "top-" + query.limit() + " by " + order() : "sort by " + order());
      } else if (query.limit() >= 0) {
        pushed.add("limit " + query.limit());
      }
    }
    lines.add("pushed down to each node: " + String.join("; ", pushed));
    List<String> client = new ArrayList<>();
    if (query.isAggregate()) {
      client.add("combine the groups' partial aggregates and finish them");
      if (!query.orderBy().isEmpty()) {
        client.add("sort by " + order());
      }
    } else {
      if (!query.orderBy().isEmpty()) {
        client.add("merge k-way by " + order());
      } else if (keyspace.isDirectory()) {
        client.add("concatenate the nodes' rows");
      } else {
        client.add("stream the nodes' rows as they arrive");
      }
    }
    if (query.limit() >= 0) {
      client.add("limit " + query.limit());
    }
    lines.add("at the client: " + String.join("; ", client));
    return lines;
  }

  private String order() {
    return query.orderBy().stream()
        .map(o -> o.column() + (o.descending() ? " DESC" : ""))
        .collect(Collectors.joining(", "));
  }

  private static String span(KeySpans.Span span) {
    return "["
        + span.start().toStringUtf8()
        + ", "
        + (span.end().isEmpty() ? "end" : span.end().toStringUtf8().replace("\0", "\\0"))
        + ")";
  }
}
