package io.shardcluster.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A query's rows with what it took to get them. The rows are held at the client (bounded by the
 * result: groups, LIMIT rows or the matches, never the rows the nodes read). Closing releases them.
 *
 * @param columns the column names ({@code SELECT *}: {@code _key} and {@code *}, the document)
 * @param star whether the query selected whole documents
 * @param rows each row's values, in column order
 * @param plan the nodes asked and what they did
 * @param missingNodes nodes that did not answer (only with allow-partial)
 * @param rowsScanned rows the nodes read, matching or not
 * @param bytesReceived bytes the nodes sent for it
 */
public record QueryResult(
    List<String> columns,
    boolean star,
    List<List<JsonNode>> rows,
    QueryPlan plan,
    List<String> missingNodes,
    long rowsScanned,
    long bytesReceived)
    implements Iterable<List<JsonNode>>, AutoCloseable {

  /** Whether every node asked answered. */
  public boolean isComplete() {
    return missingNodes.isEmpty();
  }

  @Override
  public Iterator<List<JsonNode>> iterator() {
    return rows.iterator();
  }

  /** The rows as a stream. */
  public Stream<List<JsonNode>> stream() {
    return rows.stream();
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

  @Override
  public void close() {}
}
