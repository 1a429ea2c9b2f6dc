package io.shardcluster.query;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import net.sf.jsqlparser.parser.CCJSqlParserUtil;
import org.junit.jupiter.api.Test;

class QueryParserTest {
  @Test
  void parsesTheSupportedSubset() {
    Query query =
        QueryParser.parse(
            "SELECT g, COUNT(*) AS n, AVG(a.b) FROM users WHERE age >= 18 AND name LIKE 'a%'"
                + " GROUP BY g ORDER BY n DESC LIMIT 5");
    assertThat(query.keyspace()).isEqualTo("users");
    assertThat(query.columns()).containsExactly("g", "n", "AVG(a.b)");
    assertThat(query.groupBy()).containsExactly(new Field("g"));
    assertThat(query.orderBy()).containsExactly(new Query.Order("n", true));
    assertThat(query.limit()).isEqualTo(5);
    assertThat(query.where().orElseThrow().toString()).isEqualTo("(age >= 18 AND name LIKE 'a%')");
    assertThat(QueryParser.parse("SELECT * FROM t").columns()).containsExactly("_key", "*");
    assertThat(QueryParser.parse("SELECT x FROM t WHERE 3 < x").where().orElseThrow().toString())
        .isEqualTo("x > 3");
  }

  @Test
  void parsing_reusesItsThreads() {
    // JSqlParser left to itself starts (and stops) a thread for every parse: most of its time.
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    QueryParser.parse("SELECT * FROM t WHERE x = 1");
    long started = threads.getTotalStartedThreadCount();
    for (int i = 0; i < 100; i++) {
      QueryParser.parse("SELECT COUNT(*) FROM t WHERE x = " + i);
    }
    assertThat(threads.getTotalStartedThreadCount() - started).isLessThan(10);
  }

  @Test
  void theSupportedSubset_isReadOnTheCallersThread_asJSqlParserReadsIt() throws Exception {
    List<String> queries =
        List.of(
            "SELECT * FROM t WHERE _key = 'k1'",
            "SELECT a, b.c FROM t WHERE _key IN ('a', 'b') AND x BETWEEN -1 AND 2.5",
            "SELECT COUNT(*), SUM(x), AVG(x), MIN(y), MAX(y) FROM t",
            "SELECT g, COUNT(*) AS n FROM t WHERE NOT (a = 1 OR b != 'x') GROUP BY g"
                + " ORDER BY n DESC, g LIMIT 10",
            "SELECT x FROM t WHERE ((a IS NULL) OR (b IS NOT NULL AND c LIKE 'pre%'));",
            "SELECT `odd name` FROM \"key space\" WHERE \"a b\" = 'it''s' AND flag = true");
    for (String sql : queries) {
      assertThat(QueryParser.parseSimply(sql)).as(sql).isNotNull();
      assertThat(QueryParser.parseSimply(sql).toString())
          .as(sql)
          .isEqualTo(CCJSqlParserUtil.parse(sql).toString());
    }
    assertThat(QueryParser.parseSimply("SELECT * FROM t WHERE a = 1 garbage")).isNull();
  }

  @Test
  void aQueryParsedLately_isNotParsedAgain() {
    String sql = "SELECT g, COUNT(*) FROM cached WHERE x > 1 GROUP BY g";
    Query first = QueryParser.parse(sql);
    assertThat(QueryParser.parse(sql)).isSameAs(first);
    assertThat(QueryParser.parse(sql + " ")).isNotSameAs(first).isEqualTo(first);
    assertThatThrownBy(() -> first.outputs().clear())
        .isInstanceOf(UnsupportedOperationException.class);
    // Errors are found again each time; long texts and the least recently used are not kept.
    assertThat(code("SELECT * FROM cached WHERE")).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code("SELECT * FROM cached WHERE")).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    String longText = "SELECT * FROM cached WHERE _key = '" + "k".repeat(5000) + "'";
    assertThat(QueryParser.parse(longText)).isNotSameAs(QueryParser.parse(longText));
    for (int i = 0; i < 600; i++) {
      QueryParser.parse("SELECT * FROM cached WHERE _key = 'k" + i + "'");
    }
    assertThat(QueryParser.parse(sql)).isNotSameAs(first).isEqualTo(first);
  }

  @Test
  void parentheses_nestAtMostThirtyTwoDeep() {
    String deepest =
        "(".repeat(QueryParser.MAX_NESTING) + "a = 1" + ")".repeat(QueryParser.MAX_NESTING);
    assertThat(QueryParser.parse("SELECT * FROM t WHERE " + deepest).where()).isPresent();
    assertThat(error("SELECT * FROM t WHERE (" + deepest + ")"))
        .isEqualTo("the query nests parentheses 33 deep; at most 32 are allowed");
    // Deep enough to overflow JSqlParser's stack, or to keep a thread busy for minutes.
    String abusive = "SELECT * FROM t WHERE " + "(".repeat(5000) + "a = 1" + ")".repeat(5000);
    assertThat(code(abusive)).isEqualTo(ErrorCode.INVALID_ARGUMENT);
  }

  @Test
  void syntaxErrors_pointAtTheToken() {
    assertThat(error("SELECT * FROM t WHERE age >= AND x = 1"))
        .isEqualTo("syntax error at column 27: unexpected \">=\"");
    assertThat(error("SELEC x FROM t")).isEqualTo("syntax error at column 1: unexpected \"SELEC\"");
    assertThat(error("SELECT g, COUNT(* FROM t"))
        .isEqualTo("syntax error at column 16: \"(\" is never closed");
    assertThat(error("SELECT * FROM t\nWHERE a IN (1, 2"))
        .isEqualTo("syntax error at line 2, column 12: \"(\" is never closed");
    assertThat(error("SELECT * FROM t WHERE a = 1)"))
        .isEqualTo("syntax error at column 28: \")\" closes nothing");
    assertThat(error("SELECT * FROM t WHERE a = '(' AND b =")).contains("ends too soon");
    assertThat(error("SELECT `a(` FROM t WHERE")).contains("ends too soon");
    assertThat(error("SELECT * FROM t WHERE (a = 1 OR"))
        .isEqualTo("syntax error at column 30: the query ends too soon, after \"OR\"");
    assertThat(code("SELECT * FROM t WHERE")).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(error("SELECT * FROM t WHERE"))
        .isEqualTo("syntax error at column 17: the query ends too soon, after \"WHERE\"");
    assertThat(error("SELECT x FROM t\nWHERE age > ;"))
        .isEqualTo("syntax error at line 2, column 11: the query ends too soon, after \">\"");
    assertThat(error("SELECT x FROM t ORDER BY"))
        .isEqualTo("syntax error at column 24: the query ends too soon");
    assertThat(error("SELECT x FROM t LIMIT"))
        .isEqualTo("syntax error at column 21: the query ends too soon");
    assertThat(error("SELECT * FORM users"))
        .isEqualTo("syntax error at column 15: unexpected \"users\"");
    assertThat(error("SELECT x FROM t WHERE age > 1 AND"))
        .isEqualTo("syntax error at column 31: the query ends too soon, after \"AND\"");
    assertThat(error("SELECT x FROM t WHERE age > > 3"))
        .isEqualTo("syntax error at column 27: unexpected \">\"");
    assertThat(code("")).isEqualTo(ErrorCode.INVALID_ARGUMENT);
  }

  @Test
  void badQueries_areNamed() {
    assertThat(error("SELECT MEDIAN(x) FROM t")).startsWith("unknown function 'MEDIAN'");
    assertThat(error("SELECT g, SUM(x) FROM t"))
        .startsWith("field 'g' must be in GROUP BY or inside an aggregate");
    assertThat(error("SELECT x FROM t LIMIT -1")).isEqualTo("LIMIT must not be negative");
    assertThat(error("SELECT * FROM t GROUP BY g")).startsWith("SELECT * cannot be grouped");
    assertThat(error("SELECT g, COUNT(*) FROM t GROUP BY g ORDER BY x"))
        .startsWith("ORDER BY x must name a GROUP BY field or a selected aggregate");
    assertThat(error("SELECT SUM(*) FROM t")).isEqualTo("SUM(*) is not defined; name a field");
    assertThat(error("SELECT x, x FROM t")).startsWith("two columns are named 'x'");
  }

  @Test
  void unsupportedSql_isNamedAsUnsupported() {
    for (String sql :
        List.of(
            "SELECT a FROM t JOIN u ON t.a = u.a",
            "SELECT DISTINCT a FROM t",
            "SELECT g, COUNT(*) FROM t GROUP BY g HAVING COUNT(*) > 1",
            "SELECT a FROM t LIMIT 5 OFFSET 2",
            "DELETE FROM t",
            "SELECT a + 1 FROM t",
            "SELECT a FROM t WHERE a = b")) {
      assertThat(code(sql)).as(sql).isEqualTo(ErrorCode.UNIMPLEMENTED);
      assertThat(error(sql)).as(sql).startsWith("unsupported: ");
    }
  }

  private static String error(String sql) {
    return thrown(sql).getMessage();
  }

  private static ErrorCode code(String sql) {
    return thrown(sql).code();
  }

  private static ShardClusterException thrown(String sql) {
    try {
      QueryParser.parse(sql);
    } catch (ShardClusterException e) {
      return e;
    }
    throw new AssertionError("parsed: " + sql);
  }
}
