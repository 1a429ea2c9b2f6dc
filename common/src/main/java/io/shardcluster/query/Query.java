package io.shardcluster.query;

import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A parsed, checked query over one keyspace. The same query text is parsed by the client and by
 * every shard, so both sides agree on what is pushed down.
 *
 * @param keyspace the keyspace of FROM
 * @param star whether it selects whole documents ({@code SELECT *})
 * @param outputs the selected fields and aggregates, in order (empty with {@code *})
 * @param where the condition, if any
 * @param groupBy the grouping fields
 * @param orderBy the sort keys: fields, or for an aggregate query output names
 * @param limit the most rows to return; -1 for no limit
 */
public record Query(
    String keyspace,
    boolean star,
    List<Output> outputs,
    Optional<Condition> where,
    List<Field> groupBy,
    List<Order> orderBy,
    long limit) {

  /** Shared by every run of the same text, so its lists cannot change. */
  public Query {
    outputs = List.copyOf(outputs);
    groupBy = List.copyOf(groupBy);
    orderBy = List.copyOf(orderBy);
  }

  /** A selected column: a field or an aggregate, with the name it is shown under. */
  public sealed interface Output {
    String name();
  }

  /** A selected field. */
  public record FieldOutput(Field field, String name) implements Output {}

  /** A selected aggregate; {@code field} is empty for {@code COUNT(*)}. */
  public record AggregateOutput(Aggregate function, Optional<Field> field, String name)
      implements Output {}

  /** One ORDER BY key: a field of the documents, or (aggregate queries) an output's name. */
  public record Order(String column, boolean descending) {}

  /** Whether the query aggregates (has aggregates or GROUP BY): shards return partial groups. */
  public boolean isAggregate() {
    return !groupBy.isEmpty() || outputs.stream().anyMatch(o -> o instanceof AggregateOutput);
  }

  /** The selected aggregates, in order. */
  List<AggregateOutput> aggregates() {
    return outputs.stream()
        .filter(o -> o instanceof AggregateOutput)
        .map(o -> (AggregateOutput) o)
        .toList();
  }

  /**
   * The top-level document fields the query reads, so shards parse only those; empty for {@code
   * SELECT *}, which reads whole documents.
   */
  public Optional<Set<String>> documentFields() {
    if (star) {
      return Optional.empty();
    }
    Set<String> names = new HashSet<>();
    Consumer<Field> add =
        f -> {
          if (!f.isKey()) {
            names.add(f.parts().get(0));
          }
        };
    for (Output output : outputs) {
      if (output instanceof FieldOutput field) {
        add.accept(field.field());
      } else {
        ((AggregateOutput) output).field().ifPresent(add);
      }
    }
    where.ifPresent(c -> c.fields().forEach(add));
    groupBy.forEach(add);
    orderBy.forEach(o -> add.accept(new Field(o.column())));
    return Optional.of(names);
  }

  /** The column names of the result ({@code *}: the key, then each document's fields). */
  public List<String> columns() {
    return star ? List.of(Field.KEY, "*") : outputs.stream().map(Output::name).toList();
  }
}
