package io.shardcluster.query;

// Over 500 lines: one grammar, each construct of the SQL subset mapped from JSqlParser's tree with
// its own error message.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.NullNode;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.rpc.DaemonThreads;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.sf.jsqlparser.JSQLParserException;
import net.sf.jsqlparser.expression.BooleanValue;
import net.sf.jsqlparser.expression.DoubleValue;
import net.sf.jsqlparser.expression.Expression;
import net.sf.jsqlparser.expression.Function;
import net.sf.jsqlparser.expression.LongValue;
import net.sf.jsqlparser.expression.NotExpression;
import net.sf.jsqlparser.expression.NullValue;
import net.sf.jsqlparser.expression.Parenthesis;
import net.sf.jsqlparser.expression.SignedExpression;
import net.sf.jsqlparser.expression.StringValue;
import net.sf.jsqlparser.expression.operators.conditional.AndExpression;
import net.sf.jsqlparser.expression.operators.conditional.OrExpression;
import net.sf.jsqlparser.expression.operators.relational.Between;
import net.sf.jsqlparser.expression.operators.relational.ComparisonOperator;
import net.sf.jsqlparser.expression.operators.relational.EqualsTo;
import net.sf.jsqlparser.expression.operators.relational.ExpressionList;
import net.sf.jsqlparser.expression.operators.relational.GreaterThan;
import net.sf.jsqlparser.expression.operators.relational.GreaterThanEquals;
import net.sf.jsqlparser.expression.operators.relational.InExpression;
import net.sf.jsqlparser.expression.operators.relational.IsNullExpression;
import net.sf.jsqlparser.expression.operators.relational.LikeExpression;
import net.sf.jsqlparser.expression.operators.relational.MinorThan;
import net.sf.jsqlparser.expression.operators.relational.MinorThanEquals;
import net.sf.jsqlparser.expression.operators.relational.NotEqualsTo;
import net.sf.jsqlparser.expression.operators.relational.ParenthesedExpressionList;
import net.sf.jsqlparser.parser.CCJSqlParserUtil;
import net.sf.jsqlparser.parser.ParseException;
import net.sf.jsqlparser.schema.Column;
import net.sf.jsqlparser.schema.Table;
import net.sf.jsqlparser.statement.Statement;
import net.sf.jsqlparser.statement.select.AllColumns;
import net.sf.jsqlparser.statement.select.OrderByElement;
import net.sf.jsqlparser.statement.select.PlainSelect;
import net.sf.jsqlparser.statement.select.SelectItem;
import org.jspecify.annotations.Nullable;

/**
 * Turns SQL text into a {@link Query}, with JSqlParser doing the parsing. Syntax errors name the
 * offending token and its column; valid SQL outside the supported subset is named as unsupported.
 */
public final class QueryParser {
  private static final Pattern UNEXPECTED =
      Pattern.compile(
          "Encountered unexpected token: (\"(?:[^\"]|\"\")*\")[\\s\\S]*?at line (\\d+), column (\\d+)");

  /**
   * The deepest nesting of parentheses a query may have. A query of the supported subset needs a
   * few levels, and JSqlParser's time grows steeply with them (measured warm: 5 levels about 1 ms,
   * 32 about 20 ms, 300 about 2 s, 1,000 about 45 s, which its timeout gives up on after 6 s while
   * its thread goes on parsing; deeper ones overflow its stack).
   */
  static final int MAX_NESTING = 32;

  private static final Pattern BACKTICKED = Pattern.compile("`[^`]*`");

  // What JSqlParser says when the query ended where it needed more.
  private static final Pattern AT_THE_END =
      Pattern.compile(
          "Encountered unexpected token:\\s*(?:<EOF>)?\\s*at line (\\d+), column (\\d+)");

  // JSqlParser's own entry point runs each parse on an executor thread, to give up on one that
  // takes too long (its default timeout, 6 s); left to itself it starts and stops a thread for
  // every parse, which was most of a parse's time (0.65-0.95 ms a query, 0.15-0.25 ms with these
  // shared threads). It is the fallback for what the simple grammar cannot parse, and the source
  // of every syntax error. These threads never hold up the JVM's exit.
  private static final ExecutorService PARSING =
      Executors.newCachedThreadPool(DaemonThreads.named("sql-parser"));

  private QueryParser() {}

  // Queries parsed lately, by their text, most recently used last: the same text again (an
  // application's or a dashboard's repeated query, each node's part of it) is not parsed again,
  // which is most of a small query's time. Long texts (large IN lists) are not kept.
  private static final int CACHED_QUERIES = 512;
  private static final int CACHED_TEXT_CHARS = 4096;
  private static final Map<String, Query> PARSED =
      Collections.synchronizedMap(
          new LinkedHashMap<>(64, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Query> eldest) {
              return size() > CACHED_QUERIES;
            }
          });

  /** Parses and checks one query; INVALID_ARGUMENT or UNIMPLEMENTED errors if it is not valid. */
  public static Query parse(String sql) {
    if (sql == null || sql.isBlank()) {
      throw ShardClusterException.invalidArgument("the query is empty");
    }
    Query cached = PARSED.get(sql);
    if (cached != null) {
      return cached;
    }
    int nesting = CCJSqlParserUtil.getNestingDepth(sql);
    if (nesting > MAX_NESTING) {
      throw ShardClusterException.invalidArgument(
          "the query nests parentheses "
              + nesting
              + " deep; at most "
              + MAX_NESTING
              + " are allowed");
    }
    Query query = parseText(sql);
    if (sql.length() <= CACHED_TEXT_CHARS) {
      PARSED.put(sql, query);
    }
    return query;
  }

  private static Query parseText(String sql) {
    Statement statement = parseSimply(sql);
    if (statement == null) {
      try {
        statement = CCJSqlParserUtil.parse(sql, PARSING, null);
      } catch (JSQLParserException e) {
        throw ShardClusterException.invalidArgument(syntaxError(sql, e));
      }
    }
    if (!(statement instanceof PlainSelect select)) {
      throw unsupported("only SELECT is supported");
    }
    return new QueryParser.Builder(select).build();
  }

  /**
   * The statement as JSqlParser's simple grammar reads it, on the caller's thread; null if that
   * grammar cannot read it. Queries of the supported subset normally fit that grammar, the one
   * JSqlParser tries first itself: this only skips the hand-over to a parsing thread and back
   * (about half of a small query's parse). Anything else, a syntax error included, goes the whole
   * way, which names the error. Texts nested deeper than {@link #MAX_NESTING} never get here.
   */
  static @Nullable Statement parseSimply(String sql) {
    try {
      return CCJSqlParserUtil.newParser(sql).withAllowComplexParsing(false).Statement();
    } catch (ParseException | RuntimeException e) {
      return null;
    }
  }

  /** Keywords that something must follow. */
  private static final Set<String> LEADING_KEYWORDS =
      Set.of(
          "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "GROUP", "ORDER", "BY", "LIMIT", "IN",
          "BETWEEN", "LIKE", "IS", "AS");

  /** Whether a query may end with the quoted token: a name, a value, a closing parenthesis. */
  private static boolean canEndAQuery(String quoted) {
    String token = quoted.substring(1, quoted.length() - 1);
    if (LEADING_KEYWORDS.contains(token.toUpperCase(Locale.ROOT))) {
      return false;
    }
    return !token.matches("[=<>!,(+\\-/%]+");
  }

  /** Whether the quoted token at the line and column is the end of the query (bar a semicolon). */
  private static boolean isLastToken(String sql, int line, int column, String quoted) {
    int offset = 0;
    for (int l = 1; l < line; l++) {
      offset = sql.indexOf('\n', offset) + 1;
      if (offset == 0) {
        return false;
      }
    }
    int end = offset + column - 1 + (quoted.length() - 2);
    return end <= sql.length() && sql.substring(end).replace(";", "").isBlank();
  }

  private static String where(int line, int column) {
    return line == 1 ? "column " + column : "line " + line + ", column " + column;
  }

  private static String syntaxError(String sql, JSQLParserException e) {
    String message = String.valueOf(e.getMessage());
    Matcher matcher = UNEXPECTED.matcher(message);
    if (matcher.find()) {
      int line = Integer.parseInt(matcher.group(2));
      int column = Integer.parseInt(matcher.group(3));
      String token = matcher.group(1);
      String where = where(line, column);
      // A query cut short fails at its last token, which is then not what is wrong.
      if (isLastToken(sql, line, column, token) && !canEndAQuery(token)) {
        return "syntax error at " + where + ": the query ends too soon, after " + token;
      }
      return unbalanced(sql).orElse("syntax error at " + where + ": unexpected " + token);
    }
    Matcher end = AT_THE_END.matcher(message);
    if (end.find()) {
      String where = where(Integer.parseInt(end.group(1)), Integer.parseInt(end.group(2)));
      return unbalanced(sql).orElse("syntax error at " + where + ": the query ends too soon");
    }
    String first = message.replaceFirst("^[\\w.]+Exception: ", "");
    return "syntax error: " + first.lines().findFirst().orElse(first).trim();
  }

  /**
   * A parenthesis left open or closed once too often, named plainly: JSqlParser blames it on some
   * other token (often the one before it, as {@code unexpected "("}).
   */
  private static Optional<String> unbalanced(String sql) {
    // JSqlParser's check skips quoted text and names, but not names in backticks.
    Matcher names = BACKTICKED.matcher(sql);
    StringBuilder masked = new StringBuilder(sql.length());
    while (names.find()) {
      names.appendReplacement(masked, "`" + " ".repeat(names.group().length() - 2) + "`");
    }
    names.appendTail(masked);
    int at = CCJSqlParserUtil.getUnbalancedPosition(masked.toString());
    if (at < 0) {
      return Optional.empty();
    }
    int line = 1 + (int) sql.substring(0, at).chars().filter(c -> c == '\n').count();
    int column = at - sql.lastIndexOf('\n', at - 1);
    char bracket = sql.charAt(at);
    return Optional.of(
        "syntax error at "
            + where(line, column)
            + ": \""
            + bracket
            + (")]}".indexOf(bracket) >= 0 ? "\" closes nothing" : "\" is never closed"));
  }

  private static ShardClusterException unsupported(String what) {
    return new ShardClusterException(ErrorCode.UNIMPLEMENTED, "unsupported: " + what);
  }

  private static ShardClusterException invalid(String what) {
    return ShardClusterException.invalidArgument(what);
  }

  private static final class Builder {
    private final PlainSelect select;

    Builder(PlainSelect select) {
      this.select = select;
    }

    Query build() {
      if (select.getJoins() != null && !select.getJoins().isEmpty()) {
        throw unsupported("JOIN (a query reads one keyspace)");
      }
      if (select.getDistinct() != null) {
        throw unsupported("DISTINCT (use GROUP BY)");
      }
      if (select.getHaving() != null) {
        throw unsupported("HAVING");
      }
      if (select.getOffset() != null
          || (select.getLimit() != null && select.getLimit().getOffset() != null)) {
        throw unsupported("OFFSET");
      }
      if (!(select.getFromItem() instanceof Table table)) {
        throw select.getFromItem() == null
            ? invalid("the query needs FROM keyspace")
            : unsupported("FROM must name one keyspace");
      }
      String keyspace = unquote(table.getFullyQualifiedName());

      boolean star = false;
      List<Query.Output> outputs = new ArrayList<>();
      Set<String> names = new HashSet<>();
      for (SelectItem<?> item : select.getSelectItems()) {
        Expression expression = item.getExpression();
        if (expression instanceof AllColumns) {
          if (select.getSelectItems().size() > 1) {
            throw unsupported("* together with other columns");
          }
          star = true;
          continue;
        }
        String alias = item.getAlias() == null ? null : unquote(item.getAlias().getName());
        Query.Output output = output(expression, alias);
        if (!names.add(output.name())) {
          throw invalid("two columns are named '" + output.name() + "'; give one an alias");
        }
        outputs.add(output);
      }

      List<Field> groupBy = new ArrayList<>();
      if (select.getGroupBy() != null) {
        for (Object expression : select.getGroupBy().getGroupByExpressionList()) {
          groupBy.add(field((Expression) expression, "GROUP BY"));
        }
      }
      Optional<Condition> where =
          select.getWhere() == null ? Optional.empty() : Optional.of(condition(select.getWhere()));

      List<Query.Order> orderBy = new ArrayList<>();
      if (select.getOrderByElements() != null) {
        for (OrderByElement element : select.getOrderByElements()) {
          orderBy.add(new Query.Order(orderColumn(element.getExpression()), !element.isAsc()));
        }
      }
      long limit = -1;
      if (select.getLimit() != null) {
        Expression count = select.getLimit().getRowCount();
        if (count instanceof SignedExpression signed && signed.getSign() == '-') {
          throw invalid("LIMIT must not be negative");
        }
        if (!(count instanceof LongValue value)) {
          throw invalid("LIMIT takes a whole number");
        }
        limit = value.getValue();
      }
      Query query = new Query(keyspace, star, outputs, where, groupBy, orderBy, limit);
      check(query);
      return query;
    }

    /** Aggregates and bare fields mix only through GROUP BY; ORDER BY names what exists. */
    private static void check(Query query) {
      if (query.star() && query.isAggregate()) {
        throw invalid("SELECT * cannot be grouped; name the GROUP BY fields and aggregates");
      }
      if (query.isAggregate()) {
        for (Query.Output output : query.outputs()) {
          if (output instanceof Query.FieldOutput field
              && !query.groupBy().contains(field.field())) {
            throw invalid(
                "field '"
                    + field.field()
                    + "' must be in GROUP BY or inside an aggregate such as COUNT or MAX");
          }
        }
        Set<String> names = new HashSet<>(query.columns());
        query.groupBy().forEach(f -> names.add(f.path()));
        for (Query.Order order : query.orderBy()) {
          if (!names.contains(order.column())) {
            throw invalid(
                "ORDER BY "
                    + order.column()
                    + " must name a GROUP BY field or a selected aggregate in an aggregate query");
          }
        }
      }
    }

    private Query.Output output(Expression expression, @Nullable String alias) {
      if (expression instanceof Function function) {
        Aggregate aggregate = aggregate(function);
        Optional<Field> field = aggregateField(function, aggregate);
        String name =
            alias != null ? alias : aggregate + "(" + field.map(Field::path).orElse("*") + ")";
        return new Query.AggregateOutput(aggregate, field, name);
      }
      Field field = field(expression, "SELECT");
      return new Query.FieldOutput(field, alias != null ? alias : field.path());
    }

    private static Aggregate aggregate(Function function) {
      String name = function.getName().toUpperCase(Locale.ROOT);
      try {
        return Aggregate.valueOf(name);
      } catch (IllegalArgumentException e) {
        throw invalid(
            "unknown function '" + function.getName() + "' (use COUNT, SUM, AVG, MIN or MAX)");
      }
    }

    private static Optional<Field> aggregateField(Function function, Aggregate aggregate) {
      if (function.isDistinct()) {
        throw unsupported(aggregate + "(DISTINCT ...)");
      }
      ExpressionList<?> parameters = function.getParameters();
      boolean all =
          function.isAllColumns()
              || (parameters != null
                  && parameters.size() == 1
                  && parameters.get(0) instanceof AllColumns);
      if (all) {
        if (aggregate != Aggregate.COUNT) {
          throw invalid(aggregate + "(*) is not defined; name a field");
        }
        return Optional.empty();
      }
      if (parameters == null || parameters.size() != 1) {
        throw invalid(aggregate + " takes one field");
      }
      return Optional.of(field(parameters.get(0), aggregate + "()"));
    }

    private String orderColumn(Expression expression) {
      if (expression instanceof Function function) {
        Aggregate aggregate = aggregate(function);
        return aggregate
            + "("
            + aggregateField(function, aggregate).map(Field::path).orElse("*")
            + ")";
      }
      String name = field(expression, "ORDER BY").path();
      // An alias of a selected field orders by that field.
      for (SelectItem<?> item : select.getSelectItems()) {
        if (item.getAlias() != null
            && unquote(item.getAlias().getName()).equals(name)
            && item.getExpression() instanceof Column column) {
          return unquote(column.getFullyQualifiedName());
        }
      }
      return name;
    }

    private static Field field(Expression expression, String clause) {
      if (expression instanceof Column column) {
        return new Field(unquote(column.getFullyQualifiedName()));
      }
      throw unsupported(clause + " " + expression + " (only fields, _key and aggregates)");
    }

    private Condition condition(Expression expression) {
      Expression e = unwrap(expression);
      if (e instanceof AndExpression and) {
        return new Condition.And(
            condition(and.getLeftExpression()), condition(and.getRightExpression()));
      }
      if (e instanceof OrExpression or) {
        return new Condition.Or(
            condition(or.getLeftExpression()), condition(or.getRightExpression()));
      }
      if (e instanceof NotExpression not) {
        return new Condition.Not(condition(not.getExpression()));
      }
      if (e instanceof ComparisonOperator comparison) {
        Condition.Op op = op(comparison);
        Expression left = unwrap(comparison.getLeftExpression());
        Expression right = unwrap(comparison.getRightExpression());
        if (left instanceof Column) {
          return new Condition.Compare(field(left, "WHERE"), op, literal(right));
        }
        if (right instanceof Column) {
          return new Condition.Compare(field(right, "WHERE"), op.flipped(), literal(left));
        }
        throw unsupported("WHERE " + e + " (compare a field with a value)");
      }
      if (e instanceof InExpression in) {
        Expression values = in.getRightExpression();
        if (!(values instanceof ExpressionList<?> list)) {
          throw unsupported("IN " + values + " (list the values)");
        }
        List<JsonNode> literals = new ArrayList<>();
        for (Expression value : list) {
          literals.add(literal(value));
        }
        return new Condition.In(field(in.getLeftExpression(), "WHERE"), literals, in.isNot());
      }
      if (e instanceof Between between) {
        return new Condition.Between(
            field(between.getLeftExpression(), "WHERE"),
            literal(between.getBetweenExpressionStart()),
            literal(between.getBetweenExpressionEnd()),
            between.isNot());
      }
      if (e instanceof IsNullExpression isNull) {
        return new Condition.IsNull(field(isNull.getLeftExpression(), "WHERE"), isNull.isNot());
      }
      if (e instanceof LikeExpression like) {
        if (like.getLikeKeyWord() != LikeExpression.KeyWord.LIKE || like.getEscape() != null) {
          throw unsupported(like.getLikeKeyWord() + " (only LIKE without ESCAPE)");
        }
        JsonNode pattern = literal(like.getRightExpression());
        if (!pattern.isTextual()) {
          throw invalid("LIKE takes a string pattern");
        }
        return new Condition.Like(
            field(like.getLeftExpression(), "WHERE"), pattern.textValue(), like.isNot());
      }
      if (e instanceof Column column && isBoolean(column)) {
        throw unsupported("WHERE " + e + " (compare a field: flag = true)");
      }
      throw unsupported("WHERE " + e);
    }

    private static Condition.Op op(ComparisonOperator comparison) {
      if (comparison instanceof EqualsTo) {
        return Condition.Op.EQ;
      }
      if (comparison instanceof NotEqualsTo) {
        return Condition.Op.NE;
      }
      if (comparison instanceof MinorThan) {
        return Condition.Op.LT;
      }
      if (comparison instanceof MinorThanEquals) {
        return Condition.Op.LE;
      }
      if (comparison instanceof GreaterThan) {
        return Condition.Op.GT;
      }
      if (comparison instanceof GreaterThanEquals) {
        return Condition.Op.GE;
      }
      throw unsupported("operator " + comparison.getStringExpression());
    }

    // JSqlParser 5 marks Parenthesis for removal but still parses some nested expressions into it.
    @SuppressWarnings("removal")
    private static Expression unwrap(Expression expression) {
      Expression e = expression;
      while (true) {
        if (e instanceof ParenthesedExpressionList<?> list && list.size() == 1) {
          e = list.get(0);
        } else if (e instanceof Parenthesis parenthesis) {
          e = parenthesis.getExpression();
        } else {
          return e;
        }
      }
    }

    private static boolean isBoolean(Column column) {
      String name = column.getFullyQualifiedName().toLowerCase(Locale.ROOT);
      return name.equals("true") || name.equals("false");
    }

    private static JsonNode literal(Expression expression) {
      Expression e = unwrap(expression);
      if (e instanceof StringValue string) {
        return Values.NODES.textNode(string.getValue().replace("''", "'"));
      }
      if (e instanceof LongValue number) {
        return Values.number(new BigDecimal(number.getStringValue()));
      }
      if (e instanceof DoubleValue number) {
        return Values.number(BigDecimal.valueOf(number.getValue()));
      }
      if (e instanceof SignedExpression signed && signed.getSign() == '-') {
        JsonNode value = literal(signed.getExpression());
        if (value.isNumber()) {
          return Values.number(value.decimalValue().negate());
        }
      }
      if (e instanceof BooleanValue bool) {
        return BooleanNode.valueOf(bool.getValue());
      }
      if (e instanceof NullValue) {
        return NullNode.getInstance();
      }
      if (e instanceof Column column && isBoolean(column)) {
        return BooleanNode.valueOf(column.getFullyQualifiedName().equalsIgnoreCase("true"));
      }
      throw unsupported(
          "value " + e + " (use a number, a 'string', true, false or NULL; fields on one side)");
    }

    private static String unquote(String name) {
      if (name.length() >= 2
          && ((name.startsWith("\"") && name.endsWith("\""))
              || (name.startsWith("`") && name.endsWith("`")))) {
        return name.substring(1, name.length() - 1);
      }
      return name.replace("\"", "").replace("`", "");
    }
  }
}
