package io.shardcluster.client.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.shardcluster.client.ErrorCode;
import io.shardcluster.client.QueryOptions;
import io.shardcluster.client.QueryPlan;
import io.shardcluster.client.QueryResult;
import io.shardcluster.client.ShardClusterException;
import io.shardcluster.proto.v1.KeyRange;
import io.shardcluster.proto.v1.QueryRequest;
import io.shardcluster.proto.v1.QueryResponse;
import io.shardcluster.proto.v1.QueryRow;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.query.KeySpans;
import io.shardcluster.query.Query;
import io.shardcluster.query.QueryMerge;
import io.shardcluster.query.QueryParser;
import io.shardcluster.query.Values;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.wire.StatusErrors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs queries: parses, prunes to the nodes owning the keys the query can match, sends each node
 * its part at one routing epoch, and merges the answers. Every node answers only for the keys it
 * owns at that epoch, so each key counts exactly once; if a node's table has moved on (keys moved
 * meanwhile), the whole query runs again at the new epoch.
 */
public final class QueryRunner {
  private final RoutingCache routing;
  private final GroupOwners groups;
  private final NodeChannels channels;
  private final RetryPolicy policy;

  public QueryRunner(
      RoutingCache routing, GroupOwners groups, NodeChannels channels, RetryPolicy policy) {
    this.routing = routing;
    this.groups = groups;
    this.channels = channels;
    this.policy = policy;
  }

  /** The plan of a query: which nodes it asks for which keys, and what runs where. */
  public QueryPlan explain(String sql) {
    return plan(sql, QueryParser.parse(sql), routing.current());
  }

  /** Runs a query. */
  public QueryResult run(String sql, QueryOptions options) {
    Query query = QueryParser.parse(sql);
    for (int attempt = 0; ; attempt++) {
      QueryPlan plan = plan(sql, query, routing.current());
      Map<String, CompletableFuture<Answer>> calls = new LinkedHashMap<>();
      plan.nodes().forEach((node, ranges) -> calls.put(node, ask(plan, node, ranges, options)));
      List<List<List<JsonNode>>> answers = new ArrayList<>();
      Map<String, String> missing = new TreeMap<>();
      ShardClusterException retry = null;
      long scanned = 0;
      long bytes = 0;
      for (var call : calls.entrySet()) {
        Answer answer = call.getValue().join();
        if (answer.error() == null) {
          answers.add(answer.rows());
          scanned += answer.scanned();
          bytes += answer.bytes();
        } else if (answer.error().code() == ErrorCode.WRONG_SHARD) {
          retry = answer.error();
        } else if (answer.error().code() == ErrorCode.UNAVAILABLE
            || answer.error().code() == ErrorCode.DEADLINE_EXCEEDED) {
          missing.put(call.getKey(), answer.error().getMessage());
        } else {
          throw answer.error();
        }
      }
      if (retry != null) {
        if (!policy.shouldRetry(retry, attempt)) {
          throw retry;
        }
        policy.sleepBeforeRetry(attempt, "query");
        routing.refresh().orTimeout(5, TimeUnit.SECONDS).exceptionally(e -> null).join();
        continue;
      }
      if (!missing.isEmpty() && !options.allowPartial()) {
        throw new ShardClusterException(
            ErrorCode.UNAVAILABLE,
            "no answer from "
                + String.join(", ", missing.keySet())
                + " ("
                + missing.values().iterator().next()
                + "); --allow-partial returns the other nodes' rows");
      }
      return new QueryResult(
          query.columns(),
          query.star(),
          QueryMerge.merge(query, answers),
          plan,
          List.copyOf(missing.keySet()),
          scanned,
          bytes);
    }
  }

  private CompletableFuture<Answer> ask(
      QueryPlan plan, String node, List<KeySpans.Span> ranges, QueryOptions options) {
    CompletableFuture<Answer> answer = new CompletableFuture<>();
    String address = plan.table().address(node).orElse("?");
    QueryRequest.Builder request =
        QueryRequest.newBuilder()
            .setKeyspace(plan.query().keyspace())
            .setSql(plan.sql())
            .setEpoch(plan.table().epoch());
    for (KeySpans.Span range : ranges) {
      if (!range.start().isEmpty() || !range.end().isEmpty()) {
        request.addRanges(KeyRange.newBuilder().setStart(range.start()).setEnd(range.end()));
      }
    }
    ShardNodeGrpc.newStub(channels.channel(address))
        .withDeadlineAfter(options.shardTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .query(
            request.build(),
            new StreamObserver<>() {
              private final List<List<JsonNode>> rows = new ArrayList<>();
              private long scanned;
              private long bytes;

              @Override
              public void onNext(QueryResponse response) {
                bytes += response.getSerializedSize();
                scanned += response.getRowsScanned();
                for (QueryRow row : response.getRowsList()) {
                  rows.add(row.getValuesList().stream().map(Values::fromJson).toList());
                }
              }

              @Override
              public void onError(Throwable t) {
                ShardClusterException error = StatusErrors.fromStatus(t);
                if (error.code() == ErrorCode.UNAVAILABLE) {
                  channels.resetConnectBackoff(address);
                }
                answer.complete(new Answer(List.of(), 0, 0, error));
              }

              @Override
              public void onCompleted() {
                answer.complete(new Answer(rows, scanned, bytes, null));
              }
            });
    return answer;
  }

  private record Answer(
      List<List<JsonNode>> rows, long scanned, long bytes, ShardClusterException error) {}

  /** The nodes to ask, each with the key ranges it may own that the query can match. */
  private QueryPlan plan(String sql, Query query, RoutingTable table) {
    Keyspace keyspace = table.keyspace(query.keyspace());
    Map<String, List<KeySpans.Span>> nodes = new TreeMap<>();
    for (KeySpans.Span span : KeySpans.of(query.where())) {
      for (String node : owners(table, keyspace, span)) {
        nodes.computeIfAbsent(node, n -> new ArrayList<>()).add(span);
      }
    }
    return new QueryPlan(sql, query, table, keyspace, nodes);
  }

  private List<String> owners(RoutingTable table, Keyspace keyspace, KeySpans.Span span) {
    if (keyspace.isDirectory()) {
      // A span inside one group is on its group's node (none if the group has no keys yet).
      ByteString group = keyspace.grouping().groupOf(span.start().toByteArray());
      ByteString groupEnd = KeySpans.after(group.concat(keyspace.grouping().separator()));
      boolean oneGroup =
          span.isPoint()
              || (!keyspace.grouping().separator().isEmpty()
                  && span.start().startsWith(group.concat(keyspace.grouping().separator()))
                  && !span.end().isEmpty()
                  && ByteString.unsignedLexicographicalComparator().compare(span.end(), groupEnd)
                      <= 0);
      if (oneGroup) {
        String owner = groups.owner(keyspace.name(), keyspace.grouping().version(), group);
        return owner.isEmpty() ? List.of() : List.of(owner);
      }
    } else if (span.isPoint()) {
      String owner = keyspace.ownerOf(span.start().toByteArray());
      return owner == null ? List.of() : List.of(owner);
    }
    return List.copyOf(keyspace.ownersOf(span.start(), span.end(), table.nodeAddresses().keySet()));
  }
}
