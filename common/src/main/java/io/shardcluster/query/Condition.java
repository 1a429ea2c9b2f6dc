package io.shardcluster.query;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * A WHERE condition, evaluated on one row with SQL's three-valued logic: {@code true}, {@code
 * false} or {@code null} (unknown, as when a field is NULL or missing). A row matches only when its
 * condition is {@code true}.
 */
public sealed interface Condition {
  /** True, false or null (unknown) for the row. */
  @Nullable Boolean test(Row row);

  /** The fields the condition reads. */
  Stream<Field> fields();

  /** Whether the row matches: the condition is true for it. */
  default boolean matches(Row row) {
    return Boolean.TRUE.equals(test(row));
  }

  /** A predicate on one field. */
  sealed interface OnField extends Condition {
    Field field();

    @Override
    default Stream<Field> fields() {
      return Stream.of(field());
    }
  }

  /** {@code =, !=, <, <=, >, >=}. */
  enum Op {
    EQ("="),
    NE("!="),
    LT("<"),
    LE("<="),
    GT(">"),
    GE(">=");

    final String symbol;

    Op(String symbol) {
      this.symbol = symbol;
    }

    boolean holds(int comparison) {
      return switch (this) {
        case EQ -> comparison == 0;
        case NE -> comparison != 0;
        case LT -> comparison < 0;
        case LE -> comparison <= 0;
        case GT -> comparison > 0;
        case GE -> comparison >= 0;
      };
    }

    /** The operator with its operands swapped: {@code 3 < x} is {@code x > 3}. */
    Op flipped() {
      return switch (this) {
        case LT -> GT;
        case LE -> GE;
        case GT -> LT;
        case GE -> LE;
        default -> this;
      };
    }
  }

  /** {@code field op value}. */
  record Compare(Field field, Op op, JsonNode value) implements OnField {
    @Override
    public @Nullable Boolean test(Row row) {
      Integer comparison = Values.compareSql(row.field(field), value);
      return comparison == null ? null : op.holds(comparison);
    }

    @Override
    public String toString() {
      return field + " " + op.symbol + " " + value;
    }
  }

  /** {@code field [NOT] IN (values)}. */
  record In(Field field, List<JsonNode> values, boolean not) implements OnField {
    @Override
    public @Nullable Boolean test(Row row) {
      JsonNode actual = row.field(field);
      if (Values.isNull(actual)) {
        return null;
      }
      boolean unknown = false;
      for (JsonNode value : values) {
        Integer comparison = Values.compareSql(actual, value);
        if (comparison == null) {
          unknown |= Values.isNull(value);
        } else if (comparison == 0) {
          return !not;
        }
      }
      return unknown ? null : not;
    }

    @Override
    public String toString() {
      return field
          + (not ? " NOT IN (" : " IN (")
          + values.stream().map(JsonNode::toString).collect(Collectors.joining(", "))
          + ")";
    }
  }

  /** {@code field [NOT] BETWEEN low AND high}. */
  record Between(Field field, JsonNode low, JsonNode high, boolean not) implements OnField {
    @Override
    public @Nullable Boolean test(Row row) {
      JsonNode actual = row.field(field);
      Boolean within =
          And.and(
              bool(Values.compareSql(actual, low), Op.GE),
              bool(Values.compareSql(actual, high), Op.LE));
      return not ? Not.not(within) : within;
    }

    private static @Nullable Boolean bool(@Nullable Integer comparison, Op op) {
      return comparison == null ? null : op.holds(comparison);
    }

    @Override
    public String toString() {
      return field + (not ? " NOT BETWEEN " : " BETWEEN ") + low + " AND " + high;
    }
  }

  /** {@code field IS [NOT] NULL}: never unknown. */
  record IsNull(Field field, boolean not) implements OnField {
    @Override
    public Boolean test(Row row) {
      return Values.isNull(row.field(field)) != not;
    }

    @Override
    public String toString() {
      return field + (not ? " IS NOT NULL" : " IS NULL");
    }
  }

  /** {@code field [NOT] LIKE 'pattern'}: {@code %} any run of characters, {@code _} any one. */
  record Like(Field field, String pattern, boolean not, Pattern regex) implements OnField {
    Like(Field field, String pattern, boolean not) {
      this(field, pattern, not, compile(pattern));
    }

    private static Pattern compile(String pattern) {
      StringBuilder regex = new StringBuilder();
      for (int i = 0; i < pattern.length(); i++) {
        char c = pattern.charAt(i);
        switch (c) {
          case '%' -> regex.append(".*");
          case '_' -> regex.append('.');
          default -> regex.append(Pattern.quote(String.valueOf(c)));
        }
      }
      return Pattern.compile(regex.toString(), Pattern.DOTALL);
    }

    /** The text before the first wildcard. */
    String prefix() {
      int wildcard = pattern.length();
      for (int i = 0; i < pattern.length(); i++) {
        if (pattern.charAt(i) == '%' || pattern.charAt(i) == '_') {
          wildcard = i;
          break;
        }
      }
      return pattern.substring(0, wildcard);
    }

    @Override
    public @Nullable Boolean test(Row row) {
      JsonNode actual = row.field(field);
      if (actual == null || !actual.isTextual()) {
        return null;
      }
      return regex.matcher(actual.textValue()).matches() != not;
    }

    @Override
    public String toString() {
      return field + (not ? " NOT LIKE '" : " LIKE '") + pattern + "'";
    }
  }

  /** {@code left AND right}. */
  record And(Condition left, Condition right) implements Condition {
    @Override
    public Stream<Field> fields() {
      return Stream.concat(left.fields(), right.fields());
    }

    @Override
    public @Nullable Boolean test(Row row) {
      Boolean first = left.test(row);
      return Boolean.FALSE.equals(first) ? Boolean.FALSE : and(first, right.test(row));
    }

    static @Nullable Boolean and(@Nullable Boolean a, @Nullable Boolean b) {
      if (Boolean.FALSE.equals(a) || Boolean.FALSE.equals(b)) {
        return false;
      }
      return (a == null || b == null) ? null : true;
    }

    @Override
    public String toString() {
      return "(" + left + " AND " + right + ")";
    }
  }

  /** {@code left OR right}. */
  record Or(Condition left, Condition right) implements Condition {
    @Override
    public Stream<Field> fields() {
      return Stream.concat(left.fields(), right.fields());
    }

    @Override
    public @Nullable Boolean test(Row row) {
      Boolean first = left.test(row);
      if (Boolean.TRUE.equals(first)) {
        return true;
      }
      Boolean second = right.test(row);
      if (Boolean.TRUE.equals(second)) {
        return true;
      }
      return (first == null || second == null) ? null : false;
    }

    @Override
    public String toString() {
      return "(" + left + " OR " + right + ")";
    }
  }

  /** {@code NOT condition}. */
  record Not(Condition condition) implements Condition {
    @Override
    public Stream<Field> fields() {
      return condition.fields();
    }

    @Override
    public @Nullable Boolean test(Row row) {
      return not(condition.test(row));
    }

    static @Nullable Boolean not(@Nullable Boolean value) {
      return value == null ? null : !value;
    }

    @Override
    public String toString() {
      return "NOT " + condition;
    }
  }
}
