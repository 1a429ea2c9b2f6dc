package io.shardcluster.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A query's rows with what it took to get them. A plain query (no aggregates, no ORDER BY) on a
 * hash or range keyspace is <em>streamed</em>: iterating reads its rows as the nodes send them, so
 * the client holds a few messages, not the result; other queries arrive whole (groups, a top-k).
 * Read a streamed result once. Asking for {@link #rows()} or for the figures ({@link
 * #missingNodes()}, {@link #rowsScanned()}, {@link #bytesReceived()}, {@link #isComplete()}) before
 * iterating reads the rest first and keeps it; after iterating, they are final. Close the result to
 * stop the nodes early.
 */
public final class QueryResult implements Iterable<List<JsonNode>>, AutoCloseable {
  /** Where the rows come from: the nodes, as they answer. For the query runner. */
  public interface Source extends Iterator<List<JsonNode>>, AutoCloseable {
    /** Nodes that did not answer so far (only with allow-partial). */
    List<String> missingNodes();

    /** Rows the nodes read so far, matching or not. */
    long rowsScanned();

    /** Bytes the nodes sent so far. */
    long bytesReceived();

    @Override
    void close();
  }

  private final List<String> columns;
  private final boolean star;
  private final QueryPlan plan;
  private final Source source;
  // Rows read from the source and kept (rows() or a figure asked before iterating).
  private final List<List<JsonNode>> kept = new ArrayList<>();
  private boolean drained;
  private boolean iterated;

  /**
   * A result whose rows are all here.
   *
   * @param columns the column names ({@code SELECT *}: {@code _key} and {@code *}, the document)
   * @param star whether the query selected whole documents
   * @param rows each row's values, in column order
   * @param plan the nodes asked and what they did
   * @param missingNodes nodes that did not answer (only with allow-partial)
   * @param rowsScanned rows the nodes read, matching or not
   * @param bytesReceived bytes the nodes sent for it
   */
  public QueryResult(
      List<String> columns,
      boolean star,
      List<List<JsonNode>> rows,
      QueryPlan plan,
      List<String> missingNodes,
      long rowsScanned,
      long bytesReceived) {
    this(columns, star, plan, new Whole(rows, missingNodes, rowsScanned, bytesReceived));
  }

  /** A result whose rows come from the source as they are read. */
  public QueryResult(List<String> columns, boolean star, QueryPlan plan, Source source) {
    this.columns = List.copyOf(columns);
    this.star = star;
    this.plan = plan;
    this.source = source;
  }

  /** The column names ({@code SELECT *}: {@code _key} and {@code *}, the document). */
  public List<String> columns() {
    return columns;
  }

  /** Whether the query selected whole documents. */
  public boolean star() {
    return star;
  }

  /** The nodes asked first and what they did. */
  public QueryPlan plan() {
    return plan;
  }

  /** Every row, read and kept; not after the rows were iterated. */
  public List<List<JsonNode>> rows() {
    if (iterated) {
      throw new IllegalStateException("the rows of this result were already read by iterating");
    }
    drain();
    return List.copyOf(kept);
  }

  /** Nodes that did not answer (only with allow-partial). */
  public List<String> missingNodes() {
    finish();
    return source.missingNodes();
  }

  /** Whether every node asked answered. */
  public boolean isComplete() {
    return missingNodes().isEmpty();
  }

  /** Rows the nodes read, matching or not. */
  public long rowsScanned() {
    finish();
    return source.rowsScanned();
  }

  /** Bytes the nodes sent for the query. */
  public long bytesReceived() {
    finish();
    return source.bytesReceived();
  }

  /** The rows: those kept, then the rest as the nodes send them. Once for a streamed result. */
  @Override
  public Iterator<List<JsonNode>> iterator() {
    if (iterated) {
      throw new IllegalStateException("a query result can be iterated once");
    }
    iterated = true;
    Iterator<List<JsonNode>> keptRows = kept.iterator();
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return keptRows.hasNext() || source.hasNext();
      }

      @Override
      public List<JsonNode> next() {
        if (keptRows.hasNext()) {
          return keptRows.next();
        }
        return source.next();
      }
    };
  }

  /** The rows as a stream (once); closing the stream closes the result. */
  public Stream<List<JsonNode>> stream() {
    return StreamSupport.stream(
            Spliterators.spliteratorUnknownSize(iterator(), Spliterator.ORDERED), false)
        .onClose(this::close);
  }

  /** A row as a JSON object: column to value; {@code SELECT *}: {@code _key} and the fields. */
  public ObjectNode toObject(List<JsonNode> row) {
    ObjectNode object = JsonNodeFactory.instance.objectNode();
    if (star) {
      object.set(columns.get(0), row.get(0));
      if (row.get(1).isObject()) {
        object.setAll((ObjectNode) row.get(1));
      }
      return object;
    }
    for (int i = 0; i < columns.size(); i++) {
      object.set(columns.get(i), row.get(i));
    }
    return object;
  }

  /** Stops the nodes still sending rows. */
  @Override
  public void close() {
    source.close();
  }

  private void drain() {
    if (!drained) {
      source.forEachRemaining(kept::add);
      drained = true;
    }
  }

  /** Makes the figures final: reads the rest unless the rows were iterated (then they were). */
  private void finish() {
    if (!iterated) {
      drain();
    }
  }

  /** All rows at hand. */
  private static final class Whole implements Source {
    private final Iterator<List<JsonNode>> rows;
    private final List<String> missingNodes;
    private final long rowsScanned;
    private final long bytesReceived;

    Whole(List<List<JsonNode>> rows, List<String> missing, long scanned, long bytes) {
      this.rows = List.copyOf(rows).iterator();
      this.missingNodes = List.copyOf(missing);
      this.rowsScanned = scanned;
      this.bytesReceived = bytes;
    }

    @Override
    public boolean hasNext() {
      return rows.hasNext();
    }

    @Override
    public List<JsonNode> next() {
      if (!rows.hasNext()) {
        throw new NoSuchElementException();
      }
      return rows.next();
    }

    @Override
    public List<String> missingNodes() {
      return missingNodes;
    }

    @Override
    public long rowsScanned() {
      return rowsScanned;
    }

    @Override
    public long bytesReceived() {
      return bytesReceived;
    }

    @Override
    public void close() {}
  }
}
