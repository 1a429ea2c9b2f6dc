package io.shardcluster.query;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import io.shardcluster.routing.KeyRange;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The key ranges a condition can match, read from its predicates on {@code _key} ({@code =, IN, <,
 * <=, >, >=, BETWEEN, LIKE 'prefix%'}, through AND and OR): the pruning that lets a query ask only
 * the nodes owning those keys. Always a superset of the matching keys; any other predicate allows
 * every key.
 */
public final class KeySpans {
  private static final Comparator<ByteString> ORDER =
      ByteString.unsignedLexicographicalComparator();
  private static final Field KEY = new Field(Field.KEY);

  /** Keys in [start, end); an empty end is the end of the keyspace. */
  public record Span(ByteString start, ByteString end) {
    static final Span ALL = new Span(ByteString.EMPTY, ByteString.EMPTY);

    /** The span of exactly one key. */
    static Span point(ByteString key) {
      return new Span(key, KeyRange.successor(key));
    }

    /** Whether the span holds exactly one key. */
    public boolean isPoint() {
      return end.equals(KeyRange.successor(start));
    }

    boolean isEmpty() {
      return !end.isEmpty() && ORDER.compare(start, end) >= 0;
    }
  }

  private KeySpans() {}

  /** The spans, sorted and disjoint; one span of everything if the condition does not narrow. */
  public static List<Span> of(Optional<Condition> where) {
    return where.map(KeySpans::spans).orElse(List.of(Span.ALL));
  }

  private static List<Span> spans(Condition condition) {
    if (condition instanceof Condition.And and) {
      return intersect(spans(and.left()), spans(and.right()));
    }
    if (condition instanceof Condition.Or or) {
      List<Span> union = new ArrayList<>(spans(or.left()));
      union.addAll(spans(or.right()));
      return normalize(union);
    }
    if (condition instanceof Condition.Compare compare && isKey(compare.field())) {
      return compare.value().isTextual()
          ? compare(compare.op(), bytes(compare.value()))
          : List.of(Span.ALL);
    }
    if (condition instanceof Condition.In in
        && isKey(in.field())
        && !in.not()
        && in.values().stream().allMatch(JsonNode::isTextual)) {
      return normalize(in.values().stream().map(v -> Span.point(bytes(v))).toList());
    }
    if (condition instanceof Condition.Between between
        && isKey(between.field())
        && !between.not()
        && between.low().isTextual()
        && between.high().isTextual()) {
      return normalize(
          List.of(new Span(bytes(between.low()), KeyRange.successor(bytes(between.high())))));
    }
    if (condition instanceof Condition.Like like && isKey(like.field()) && !like.not()) {
      ByteString prefix = ByteString.copyFromUtf8(like.prefix());
      return prefix.isEmpty()
          ? List.of(Span.ALL)
          : List.of(new Span(prefix, KeyRange.afterPrefix(prefix)));
    }
    return List.of(Span.ALL);
  }

  private static List<Span> compare(Condition.Op op, ByteString key) {
    return switch (op) {
      case EQ -> List.of(Span.point(key));
      case GE -> List.of(new Span(key, ByteString.EMPTY));
      case GT -> List.of(new Span(KeyRange.successor(key), ByteString.EMPTY));
      case LT -> key.isEmpty() ? List.of() : List.of(new Span(ByteString.EMPTY, key));
      case LE -> List.of(new Span(ByteString.EMPTY, KeyRange.successor(key)));
      case NE -> List.of(Span.ALL);
    };
  }

  private static boolean isKey(Field field) {
    return field.equals(KEY);
  }

  private static ByteString bytes(JsonNode text) {
    return ByteString.copyFromUtf8(text.textValue());
  }

  /** The keys in both lists of spans, as sorted, disjoint spans. */
  public static List<Span> intersect(List<Span> a, List<Span> b) {
    List<Span> result = new ArrayList<>();
    for (Span x : a) {
      for (Span y : b) {
        ByteString start = ORDER.compare(x.start(), y.start()) >= 0 ? x.start() : y.start();
        ByteString end;
        if (x.end().isEmpty()) {
          end = y.end();
        } else if (y.end().isEmpty()) {
          end = x.end();
        } else {
          end = ORDER.compare(x.end(), y.end()) <= 0 ? x.end() : y.end();
        }
        result.add(new Span(start, end));
      }
    }
    return normalize(result);
  }

  /** Sorted, without empty spans, overlapping or touching ones joined. */
  private static List<Span> normalize(List<Span> spans) {
    List<Span> sorted = new ArrayList<>(spans.stream().filter(s -> !s.isEmpty()).toList());
    sorted.sort(Comparator.comparing(Span::start, ORDER));
    List<Span> result = new ArrayList<>();
    for (Span span : sorted) {
      Span last = result.isEmpty() ? null : result.get(result.size() - 1);
      if (last != null && (last.end().isEmpty() || ORDER.compare(span.start(), last.end()) <= 0)) {
        boolean longer =
            !last.end().isEmpty()
                && (span.end().isEmpty() || ORDER.compare(span.end(), last.end()) > 0);
        if (longer) {
          result.set(result.size() - 1, new Span(last.start(), span.end()));
        }
      } else {
        result.add(span);
      }
    }
    return result;
  }
}
