package io.shardcluster.client.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.shardcluster.client.QueryOptions;
import io.shardcluster.client.QueryPlan;
import io.shardcluster.client.QueryResult;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.KeyRangeProto;
import io.shardcluster.proto.v1.QueryRequest;
import io.shardcluster.proto.v1.QueryResponse;
import io.shardcluster.proto.v1.QueryRow;
import io.shardcluster.proto.v1.ShardNodeGrpc;
import io.shardcluster.query.KeySpans;
import io.shardcluster.query.Query;
import io.shardcluster.query.QueryMerge;
import io.shardcluster.query.QueryParser;
import io.shardcluster.query.Values;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.MovingSet;
import io.shardcluster.routing.RangeMap;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.GroupOwners;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingCache;
import io.shardcluster.rpc.RoutingTables;
import io.shardcluster.rpc.StatusErrors;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Runs queries: parses, prunes to the nodes owning the keys the query can match, sends each node
 * its part at one routing epoch, and merges the answers. Every node answers only for the keys it
 * owns at that epoch, so each key counts exactly once. If a node's table has moved on (keys moved
 * meanwhile), only that node's part is asked again: at the new epoch, of the nodes that now own its
 * share (its intervals or ranges at the old epoch), each limited to that share. In a directory
 * keyspace, whose groups' owners only the coordinator knows, the whole query runs again.
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

  /**
   * One request of a query: a node, the key ranges it reads, the shares of nodes that could not
   * answer at earlier epochs, which it is limited to (every one of them), and the key its rows come
   * after in the keyspace's scan order (empty: from the first).
   */
  record Part(String node, List<KeySpans.Span> spans, List<MovingSet> within, ByteString after) {
    Part(String node, List<KeySpans.Span> spans, List<MovingSet> within) {
      this(node, spans, within, ByteString.EMPTY);
    }
  }

  /** What the nodes have answered so far. */
  private static final class Gathered {
    final List<List<List<JsonNode>>> answers = new ArrayList<>();
    final Map<String, String> missing = new TreeMap<>();
    long scanned;
    long bytes;

    void add(Answer answer) {
      answers.add(answer.rows());
      scanned += answer.scanned();
      bytes += answer.bytes();
    }
  }

  /**
   * Runs a query. A plain query (no aggregates, no ORDER BY) on a hash or range keyspace streams:
   * its rows reach the caller as the nodes send them.
   */
  public QueryResult run(String sql, QueryOptions options) {
    Query query = QueryParser.parse(sql);
    QueryPlan plan = plan(sql, query, routing.current());
    RoutingTable table = plan.table();
    List<Part> parts = parts(plan);
    if (!query.isAggregate() && query.orderBy().isEmpty() && !plan.keyspace().isDirectory()) {
      return new QueryResult(
          query.columns(),
          query.star(),
          plan,
          new StreamedQuery(this, routing, policy, query, sql, options, table, parts));
    }
    Gathered gathered = new Gathered();
    for (int attempt = 0; ; attempt++) {
      List<Map.Entry<Part, CompletableFuture<Answer>>> calls = new ArrayList<>();
      for (Part part : parts) {
        calls.add(Map.entry(part, ask(table, query, sql, part, options)));
      }
      List<Part> moved = new ArrayList<>();
      for (var call : calls) {
        Answer answer = call.getValue().join();
        ShardClusterException error = answer.error();
        if (error == null) {
          gathered.add(answer);
        } else if (asksAgain(error, table, call.getKey().node(), attempt)) {
          moved.add(call.getKey());
        } else if (error.code() == ErrorCode.UNAVAILABLE
            || error.code() == ErrorCode.DEADLINE_EXCEEDED) {
          gathered.missing.put(call.getKey().node(), error.getMessage());
        } else {
          throw error;
        }
      }
      if (moved.isEmpty()) {
        break;
      }
      RoutingTable next = routing.awaitNewer(table.epoch(), policy.backoffMillis(attempt));
      if (plan.keyspace().isDirectory()) {
        plan = plan(sql, query, next);
        parts = parts(plan);
        gathered = new Gathered();
      } else {
        parts = new ArrayList<>();
        for (Part part : moved) {
          parts.addAll(askAgain(query, part, table, next));
        }
      }
      table = next;
    }
    if (!gathered.missing.isEmpty() && !options.allowPartial()) {
      throw noAnswer(gathered.missing);
    }
    return new QueryResult(
        query.columns(),
        query.star(),
        QueryMerge.merge(query, gathered.answers),
        plan,
        List.copyOf(gathered.missing.keySet()),
        gathered.scanned,
        gathered.bytes);
  }

  /**
   * Whether a part that failed with the error on attempt {@code attempt} is asked again with a
   * newer routing table: its keys moved (WRONG_SHARD), or its node is a replica group whose leader
   * changed (NOT_LEADER) or is being elected (UNAVAILABLE), as single-key requests and scans retry,
   * until the retry policy's attempts run out.
   */
  boolean asksAgain(ShardClusterException error, RoutingTable table, String node, int attempt) {
    return switch (error.code()) {
      case WRONG_SHARD, NOT_LEADER -> policy.shouldRetry(error, attempt);
      case UNAVAILABLE -> table.replicated(node) && policy.shouldRetry(error, attempt, true);
      default -> false;
    };
  }

  /** The error of a query some nodes did not answer: node to its error. */
  static ShardClusterException noAnswer(Map<String, String> missing) {
    return new ShardClusterException(
        ErrorCode.UNAVAILABLE,
        "no answer from "
            + String.join(", ", missing.keySet())
            + " ("
            + missing.values().iterator().next()
            + "); --allow-partial returns the other nodes' rows");
  }

  private static List<Part> parts(QueryPlan plan) {
    List<Part> parts = new ArrayList<>();
    plan.nodes().forEach((node, spans) -> parts.add(new Part(node, spans, List.of())));
    return parts;
  }

  /**
   * The parts that replace one a node could not answer at {@code was}: the keys of its share there,
   * asked of their owners in {@code now}. In a range keyspace the key ranges narrow to the share.
   */
  List<Part> askAgain(Query query, Part part, RoutingTable was, RoutingTable now) {
    Keyspace keyspace = now.keyspace(query.keyspace());
    MovingSet share = was.keyspace(query.keyspace()).shareOf(part.node(), keyspace);
    List<KeySpans.Span> spans = part.spans();
    if (!share.keyRanges().isEmpty()) {
      List<KeySpans.Span> ranges = new ArrayList<>();
      for (KeyRange range : share.keyRanges()) {
        ranges.add(new KeySpans.Span(range.start(), range.end()));
      }
      spans = KeySpans.intersect(spans, ranges);
    }
    List<MovingSet> within = new ArrayList<>(part.within());
    within.add(share);
    Set<String> shareOwners = keyspace.ownersOf(share);
    Map<String, List<KeySpans.Span>> nodes = new TreeMap<>();
    for (KeySpans.Span span : spans) {
      for (String node : owners(now, keyspace, span)) {
        if (shareOwners.contains(node)) {
          nodes.computeIfAbsent(node, n -> new ArrayList<>()).add(span);
        }
      }
    }
    List<Part> parts = new ArrayList<>();
    nodes.forEach(
        (node, asked) -> parts.add(new Part(node, asked, List.copyOf(within), part.after())));
    return parts;
  }

  private static QueryRequest request(RoutingTable table, Query query, String sql, Part part) {
    QueryRequest.Builder request =
        QueryRequest.newBuilder().setKeyspace(query.keyspace()).setSql(sql).setEpoch(table.epoch());
    for (KeySpans.Span range : part.spans()) {
      if (!range.start().isEmpty() || !range.end().isEmpty()) {
        request.addRanges(KeyRangeProto.newBuilder().setStart(range.start()).setEnd(range.end()));
      }
    }
    part.within().forEach(share -> request.addWithin(RoutingTables.toProto(share)));
    return request.setAfter(part.after()).build();
  }

  /**
   * Opens a part's response stream, read as the caller pulls (the node's deadline covers the whole
   * stream); errors surface from the iterator.
   */
  Iterator<QueryResponse> open(
      RoutingTable table, Query query, String sql, Part part, QueryOptions options) {
    String address = table.address(part.node()).orElse("?");
    return ShardNodeGrpc.newBlockingStub(channels.channel(address))
        .withDeadlineAfter(options.shardTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .query(request(table, query, sql, part));
  }

  /**
   * A part's failure as the caller sees it. A node found unreachable is tried afresh next time, not
   * after gRPC's reconnect backoff (it may have restarted).
   */
  ShardClusterException failure(String address, Throwable t) {
    ShardClusterException error = StatusErrors.fromStatus(t);
    if (error.code() == ErrorCode.UNAVAILABLE) {
      channels.resetConnectBackoff(address);
    }
    return error;
  }

  private CompletableFuture<Answer> ask(
      RoutingTable table, Query query, String sql, Part part, QueryOptions options) {
    CompletableFuture<Answer> answer = new CompletableFuture<>();
    String address = table.address(part.node()).orElse("?");
    ShardNodeGrpc.newStub(channels.channel(address))
        .withDeadlineAfter(options.shardTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .query(
            request(table, query, sql, part),
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
                answer.complete(new Answer(List.of(), 0, 0, failure(address, t)));
              }

              @Override
              public void onCompleted() {
                answer.complete(new Answer(rows, scanned, bytes, null));
              }
            });
    return answer;
  }

  private record Answer(
      List<List<JsonNode>> rows, long scanned, long bytes, @Nullable ShardClusterException error) {}

  /** The nodes to ask, each with the key ranges it may own that the query can match. */
  private QueryPlan plan(String sql, Query query, RoutingTable table) {
    Keyspace keyspace = table.keyspace(query.keyspace());
    Map<String, List<KeySpans.Span>> nodes = new TreeMap<>();
    for (KeySpans.Span span : KeySpans.of(query.where())) {
      if (keyspace.isRange()) {
        // Each owner reads only the part of the span in its own ranges.
        RangeMap ranges = keyspace.ranges();
        for (int i = ranges.indexOf(span.start().toByteArray()); i < ranges.size(); i++) {
          KeyRange range = ranges.range(i);
          List<KeySpans.Span> part =
              KeySpans.intersect(
                  List.of(span), List.of(new KeySpans.Span(range.start(), range.end())));
          if (part.isEmpty()) {
            break;
          }
          nodes.computeIfAbsent(ranges.owner(i), n -> new ArrayList<>()).addAll(part);
        }
        continue;
      }
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
      ByteString groupEnd = KeyRange.afterPrefix(group.concat(keyspace.grouping().separator()));
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
