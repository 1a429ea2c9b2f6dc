package io.shardcluster.client.internal;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.shardcluster.client.QueryOptions;
import io.shardcluster.client.QueryResult;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.QueryResponse;
import io.shardcluster.proto.v1.QueryRow;
import io.shardcluster.query.KeySpans;
import io.shardcluster.query.Query;
import io.shardcluster.query.Values;
import io.shardcluster.routing.KeyRange;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.routing.ScanOrder;
import io.shardcluster.rpc.RoutingCache;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The rows of a plain query (no aggregates, no ORDER BY) as the nodes send them. Every part's node
 * sends its rows with their keys, in key order; the parts are read in turn, a message at a time, so
 * gRPC flow control keeps each node at most a window ahead of the caller. If a part fails because
 * keys moved, the rows it sent stand, and its share after the last key it sent is asked again of
 * the share's new owners, each limited to it ({@link QueryRunner#askAgain}); so each key is read
 * exactly once, by the node that owned it at the epoch its part ran at.
 */
final class StreamedQuery implements QueryResult.Source {
  private final QueryRunner runner;
  private final RoutingCache routing;
  private final RetryPolicy policy;
  private final Query query;
  private final String sql;
  private final QueryOptions options;
  private final long limit;
  private final Deque<Stream> streams = new ArrayDeque<>();
  private final Map<String, String> missing = new TreeMap<>();
  private long scanned;
  private long bytes;
  private long emitted;
  private int attempt;
  private @Nullable List<JsonNode> next;
  private boolean closed;

  StreamedQuery(
      QueryRunner runner,
      RoutingCache routing,
      RetryPolicy policy,
      Query query,
      String sql,
      QueryOptions options,
      RoutingTable table,
      List<QueryRunner.Part> parts) {
    this.runner = runner;
    this.routing = routing;
    this.policy = policy;
    this.query = query;
    this.sql = sql;
    this.options = options;
    this.limit = query.limit() < 0 ? Long.MAX_VALUE : query.limit();
    parts.forEach(part -> streams.add(new Stream(table, part)));
  }

  /** One part's response stream and the rows of its current message. */
  private final class Stream {
    final RoutingTable table;
    final QueryRunner.Part part;
    final Context.CancellableContext context = Context.current().withCancellation();
    final Iterator<QueryResponse> responses;
    List<QueryRow> batch = List.of();
    int index;
    @Nullable ByteString lastKey;

    Stream(RoutingTable table, QueryRunner.Part part) {
      this.table = table;
      this.part = part;
      Context previous = context.attach();
      try {
        responses = runner.open(table, query, sql, part, options);
      } finally {
        context.detach(previous);
      }
    }
  }

  @Override
  public boolean hasNext() {
    while (next == null && !closed) {
      if (emitted >= limit) {
        close();
        break;
      }
      Stream stream = streams.peekFirst();
      if (stream == null) {
        closed = true;
        break;
      }
      if (stream.index < stream.batch.size()) {
        QueryRow row = stream.batch.get(stream.index++);
        stream.lastKey = row.getKey();
        List<JsonNode> values = new ArrayList<>(row.getValuesCount());
        row.getValuesList().forEach(value -> values.add(Values.fromJson(value)));
        // Without ORDER BY a node sends exactly the selected values.
        next = values;
        emitted++;
        continue;
      }
      streams.pollFirst();
      try {
        if (stream.responses.hasNext()) {
          QueryResponse response = stream.responses.next();
          bytes += response.getSerializedSize();
          scanned += response.getRowsScanned();
          stream.batch = response.getRowsList();
          stream.index = 0;
          // Its turn is over: the next part's rows come next.
          streams.addLast(stream);
        } else {
          stream.context.cancel(null);
        }
      } catch (RuntimeException e) {
        stream.context.cancel(null);
        failed(stream, runner.failure(stream.table.address(stream.part.node()).orElse("?"), e));
      }
    }
    return next != null;
  }

  /**
   * A part that failed: asked again where keys moved or its group's new leader serves, named where
   * its node did not answer.
   */
  private void failed(Stream stream, ShardClusterException error) {
    if (runner.asksAgain(error, stream.table, stream.part.node(), attempt)) {
      RoutingTable now = routing.awaitNewer(stream.table.epoch(), policy.backoffMillis(attempt));
      attempt++;
      QueryRunner.Part rest = stream.part;
      ByteString lastKey = stream.lastKey;
      if (lastKey != null) {
        // The rows up to the last key it sent (in the keyspace's scan order) stand: ask only for
        // the keys after it, by narrowing the ranges in key order, or by position.
        if (ScanOrder.isKeyOrder(stream.table.keyspace(query.keyspace()))) {
          List<KeySpans.Span> after =
              List.of(new KeySpans.Span(KeyRange.successor(lastKey), ByteString.EMPTY));
          rest =
              new QueryRunner.Part(
                  rest.node(), KeySpans.intersect(rest.spans(), after), rest.within());
        } else {
          rest = new QueryRunner.Part(rest.node(), rest.spans(), rest.within(), lastKey);
        }
      }
      for (QueryRunner.Part part : runner.askAgain(query, rest, stream.table, now)) {
        streams.addLast(new Stream(now, part));
      }
    } else if (error.code() == ErrorCode.UNAVAILABLE
        || error.code() == ErrorCode.DEADLINE_EXCEEDED) {
      missing.put(stream.part.node(), error.getMessage());
      if (!options.allowPartial()) {
        close();
        throw QueryRunner.noAnswer(missing);
      }
    } else {
      close();
      throw error;
    }
  }

  @Override
  public List<JsonNode> next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    // hasNext() found it.
    List<JsonNode> row = requireNonNull(next);
    next = null;
    return row;
  }

  @Override
  public List<String> missingNodes() {
    return List.copyOf(missing.keySet());
  }

  @Override
  public long rowsScanned() {
    return scanned;
  }

  @Override
  public long bytesReceived() {
    return bytes;
  }

  @Override
  public void close() {
    closed = true;
    streams.forEach(stream -> stream.context.cancel(null));
    streams.clear();
  }
}
