package io.shardcluster.query;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * The client's half of a query: merges the shards' answers into the result. Partial aggregates are
 * combined per group and finished; sorted shard rows are merged k-way, and LIMIT stops the merge.
 * Each result row holds the values of {@link Query#columns()}.
 */
public final class QueryMerge {
  private QueryMerge() {}

  /** The result rows from every shard's rows (as {@link ShardQuery#result()} makes them). */
  public static List<List<JsonNode>> merge(Query query, List<List<List<JsonNode>>> shards) {
    return query.isAggregate() ? finishAggregates(query, shards) : mergeRows(query, shards);
  }

  private static List<List<JsonNode>> mergeRows(Query query, List<List<List<JsonNode>>> shards) {
    int width = query.star() ? 2 : query.outputs().size();
    long limit = query.limit() < 0 ? Long.MAX_VALUE : query.limit();
    List<List<JsonNode>> result = new ArrayList<>();
    if (query.orderBy().isEmpty()) {
      for (List<List<JsonNode>> rows : shards) {
        for (List<JsonNode> row : rows) {
          if (result.size() >= limit) {
            return result;
          }
          result.add(row.subList(0, width));
        }
      }
      return result;
    }
    // Each shard's rows are sorted: merge them k-way, taking only as many as the limit.
    Comparator<List<JsonNode>> order = ShardQuery.plainOrder(query);
    PriorityQueue<Cursor> heads =
        new PriorityQueue<>((a, b) -> order.compare(a.current(), b.current()));
    for (List<List<JsonNode>> rows : shards) {
      if (!rows.isEmpty()) {
        heads.add(new Cursor(rows));
      }
    }
    while (!heads.isEmpty() && result.size() < limit) {
      Cursor head = heads.poll();
      result.add(head.current().subList(0, width));
      if (head.advance()) {
        heads.add(head);
      }
    }
    return result;
  }

  private static final class Cursor {
    private final List<List<JsonNode>> rows;
    private int index;

    Cursor(List<List<JsonNode>> rows) {
      this.rows = rows;
    }

    List<JsonNode> current() {
      return rows.get(index);
    }

    boolean advance() {
      return ++index < rows.size();
    }
  }

  private static List<List<JsonNode>> finishAggregates(
      Query query, List<List<List<JsonNode>>> shards) {
    int groupWidth = query.groupBy().size();
    List<Query.AggregateOutput> aggregates = query.aggregates();
    Map<List<String>, Aggregate.State[]> states = new LinkedHashMap<>();
    Map<List<String>, List<JsonNode>> groupValues = new LinkedHashMap<>();
    for (List<List<JsonNode>> rows : shards) {
      for (List<JsonNode> row : rows) {
        List<String> key = row.subList(0, groupWidth).stream().map(Values::toJson).toList();
        groupValues.putIfAbsent(key, row.subList(0, groupWidth));
        Aggregate.State[] group = states.computeIfAbsent(key, k -> Aggregate.states(aggregates));
        for (int i = 0; i < aggregates.size(); i++) {
          group[i].merge(row.get(groupWidth + i));
        }
      }
    }
    if (states.isEmpty() && groupWidth == 0) {
      // An aggregate over no rows still answers one row: COUNT 0, the others NULL.
      states.put(List.of(), Aggregate.states(aggregates));
      groupValues.put(List.of(), List.of());
    }
    // Each row: the selected columns, then the group values (which ORDER BY may name).
    List<String> names = new ArrayList<>(query.columns());
    query.groupBy().forEach(f -> names.add(f.path()));
    List<List<JsonNode>> rows = new ArrayList<>();
    for (var entry : states.entrySet()) {
      List<JsonNode> values = requireNonNull(groupValues.get(entry.getKey()));
      List<JsonNode> row = new ArrayList<>();
      int aggregate = 0;
      for (Query.Output output : query.outputs()) {
        if (output instanceof Query.FieldOutput field) {
          row.add(values.get(query.groupBy().indexOf(field.field())));
        } else {
          row.add(entry.getValue()[aggregate++].result());
        }
      }
      row.addAll(values);
      rows.add(row);
    }
    Comparator<List<JsonNode>> order = (unusedLeft, unusedRight) -> 0;
    for (Query.Order sort : query.orderBy()) {
      int index = names.indexOf(sort.column());
      Comparator<List<JsonNode>> key = Comparator.comparing(r -> r.get(index), Values.ORDER);
      order = order.thenComparing(sort.descending() ? key.reversed() : key);
    }
    rows.sort(order);
    int width = query.outputs().size();
    long limit = query.limit() < 0 ? Long.MAX_VALUE : query.limit();
    return rows.stream().limit(limit).map(r -> r.subList(0, width)).toList();
  }
}
