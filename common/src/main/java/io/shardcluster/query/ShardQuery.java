package io.shardcluster.query;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import org.jspecify.annotations.Nullable;

/**
 * The part of a query one shard runs over the rows it owns: the filter, then either the projection
 * (sorted, and cut to a top-k when the query has ORDER BY and LIMIT) or partial aggregates per
 * group. Its result rows are what the shard sends (a plain query without ORDER BY may send them as
 * it finds them, see {@link #streams()}):
 *
 * <ul>
 *   <li>plain queries: the selected values ({@code *}: the key and the document), then the ORDER BY
 *       fields' values;
 *   <li>aggregate queries: the GROUP BY values, then each aggregate's partial state.
 * </ul>
 */
public final class ShardQuery {
  private final Query query;
  private final @Nullable FieldReader fields;
  // Decided once from the query, not per row.
  private final @Nullable Condition where;
  private final boolean aggregating;
  private final boolean streams;
  private final List<Field> groupBy;
  // Rows of a plain query with ORDER BY and without LIMIT (sorted at the end); those of a
  // streaming query are in `found`, with their keys.
  private final List<List<JsonNode>> rows = new ArrayList<>();
  private final List<Found> found = new ArrayList<>();
  private final @Nullable PriorityQueue<List<JsonNode>> top;
  private final List<Query.AggregateOutput> aggregateOutputs;
  private final List<Field> orderFields;
  // By the group's one GROUP BY value, or by the list of them when there are several (a row then
  // looks its group up without making a list).
  private final Map<Object, Group> groups = new LinkedHashMap<>();
  // Without GROUP BY every row is in this one group (created by the first matching row).
  private @Nullable Group onlyGroup;
  private long scanned;
  private long matched;

  private record Group(List<JsonNode> values, Aggregate.State[] states) {}

  public ShardQuery(Query query) {
    this.query = query;
    this.fields = query.documentFields().map(FieldReader::new).orElse(null);
    this.where = query.where().orElse(null);
    this.aggregating = query.isAggregate();
    this.streams = !aggregating && query.orderBy().isEmpty();
    this.groupBy = query.groupBy();
    this.aggregateOutputs = query.aggregates();
    this.orderFields = query.orderBy().stream().map(o -> new Field(o.column())).toList();
    this.top =
        !aggregating && !query.orderBy().isEmpty() && query.limit() >= 0
            ? new PriorityQueue<>(plainOrder(query).reversed())
            : null;
  }

  /**
   * Offers one stored key and value; false once the shard needs no more (LIMIT reached without
   * ORDER BY). Of a document value, only the fields the query reads are parsed.
   */
  public boolean add(byte[] key, byte[] value) {
    return add(Row.of(key, value, fields));
  }

  /**
   * Whether the query reads values at all; if not (only {@code _key} and {@code COUNT(*)}), a shard
   * may offer each key with an empty value and skip reading values from storage.
   */
  public boolean readsValues() {
    return fields == null || !fields.isEmpty();
  }

  /** Offers one row. */
  boolean add(Row row) {
    scanned++;
    if (query.limit() == 0) {
      return false;
    }
    if (where != null && !where.matches(row)) {
      return true;
    }
    if (aggregating) {
      aggregate(row);
      return true;
    }
    List<JsonNode> projected = project(row);
    if (top != null) {
      top.add(projected);
      if (top.size() > query.limit()) {
        top.poll();
      }
      return true;
    }
    if (streams) {
      found.add(new Found(row.key(), projected));
    } else {
      rows.add(projected);
    }
    matched++;
    return !(query.orderBy().isEmpty() && query.limit() >= 0 && matched >= query.limit());
  }

  /**
   * Whether the shard may send rows as it finds them ({@link #takeRows()}): a plain query without
   * ORDER BY, whose rows need neither sorting nor cutting to a top-k.
   */
  public boolean streams() {
    return streams;
  }

  /** A row found by a streaming query, with its key. */
  public record Found(byte[] key, List<JsonNode> values) {}

  /** Of a query that {@link #streams()}: the rows found since the last call, to send now. */
  public List<Found> takeRows() {
    List<Found> taken = List.copyOf(found);
    found.clear();
    return taken;
  }

  /** Of a query that {@link #streams()}: how many rows wait to be taken. */
  public int pendingRows() {
    return found.size();
  }

  /** Rows read, matching or not. */
  public long scanned() {
    return scanned;
  }

  /** The rows to send (of a streaming query: those not taken yet), sorted when it has ORDER BY. */
  public List<List<JsonNode>> result() {
    if (aggregating) {
      List<List<JsonNode>> result = new ArrayList<>();
      for (Group group : groups.values()) {
        List<JsonNode> row = new ArrayList<>(group.values());
        for (Aggregate.State state : group.states()) {
          row.add(state.partial());
        }
        result.add(row);
      }
      return result;
    }
    if (streams) {
      return found.stream().map(Found::values).toList();
    }
    List<List<JsonNode>> result = new ArrayList<>(top != null ? top : rows);
    if (!query.orderBy().isEmpty()) {
      result.sort(plainOrder(query));
    }
    return result;
  }

  private List<JsonNode> project(Row row) {
    List<JsonNode> values = new ArrayList<>();
    if (query.star()) {
      values.add(row.field(new Field(Field.KEY)));
      values.add(Values.nullToNode(row.document()));
    } else {
      for (Query.Output output : query.outputs()) {
        values.add(Values.nullToNode(row.field(((Query.FieldOutput) output).field())));
      }
    }
    for (Field order : orderFields) {
      values.add(Values.nullToNode(row.field(order)));
    }
    return values;
  }

  private void aggregate(Row row) {
    Group group = groupOf(row);
    for (int i = 0; i < aggregateOutputs.size(); i++) {
      Query.AggregateOutput aggregate = aggregateOutputs.get(i);
      group.states()[i].add(
          aggregate.field().isEmpty() ? BooleanNode.TRUE : row.field(aggregate.field().get()));
    }
  }

  private Group groupOf(Row row) {
    if (groupBy.isEmpty()) {
      if (onlyGroup == null) {
        onlyGroup = new Group(List.of(), Aggregate.states(aggregateOutputs));
        groups.put(onlyGroup.values(), onlyGroup);
      }
      return onlyGroup;
    }
    if (groupBy.size() == 1) {
      JsonNode value = Values.nullToNode(row.field(groupBy.get(0)));
      Group group = groups.get(value);
      if (group == null) {
        group = new Group(List.of(value), Aggregate.states(aggregateOutputs));
        groups.put(value, group);
      }
      return group;
    }
    List<JsonNode> values = new ArrayList<>(groupBy.size());
    for (Field field : groupBy) {
      values.add(Values.nullToNode(row.field(field)));
    }
    return groups.computeIfAbsent(
        values, k -> new Group(values, Aggregate.states(aggregateOutputs)));
  }

  /** The order of a plain query's shard rows: by the ORDER BY values after the selected ones. */
  static Comparator<List<JsonNode>> plainOrder(Query query) {
    int first = query.star() ? 2 : query.outputs().size();
    Comparator<List<JsonNode>> order = (unusedLeft, unusedRight) -> 0;
    for (int i = 0; i < query.orderBy().size(); i++) {
      int index = first + i;
      Comparator<List<JsonNode>> key = Comparator.comparing(r -> r.get(index), Values.ORDER);
      order = order.thenComparing(query.orderBy().get(i).descending() ? key.reversed() : key);
    }
    return order;
  }
}
