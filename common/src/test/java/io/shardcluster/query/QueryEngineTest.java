package io.shardcluster.query;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The shard and client halves of queries, over documents spread across three shards, against a
 * plain in-memory evaluation of each query written out by hand in Java.
 */
class QueryEngineTest {
  private static final int SHARDS = 3;

  /** A test document: fields may be missing (null here) and x is sometimes a string. */
  private record Doc(String key, String g, Object x, Double y, Boolean flag, String nested) {
    String json() {
      if (g == null
          && x == null
          && y == null
          && flag == null
          && nested == null
          && key.endsWith("7")) {
        return "plain bytes";
      }
      List<String> fields = new ArrayList<>();
      if (g != null) {
        fields.add("\"g\":\"" + g + "\"");
      }
      if (x != null) {
        fields.add("\"x\":" + (x instanceof String s ? "\"" + s + "\"" : x));
      }
      if (y != null) {
        fields.add("\"y\":" + y);
      }
      if (flag != null) {
        fields.add("\"flag\":" + flag);
      }
      if (nested != null) {
        fields.add("\"a\":{\"b\":\"" + nested + "\"}");
      }
      return "{" + String.join(",", fields) + "}";
    }

    boolean isDocument() {
      return json().startsWith("{");
    }

    Long xNumber() {
      return isDocument() && x instanceof Long n ? n : null;
    }
  }

  private final List<Doc> docs = documents(600);
  private final List<List<byte[][]>> shards = spread(docs);

  private static List<Doc> documents(int count) {
    Random random = new Random(42);
    List<Doc> docs = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String g = random.nextInt(10) == 0 ? null : "g" + random.nextInt(7);
      Object x =
          switch (random.nextInt(12)) {
            case 0 -> null;
            case 1 -> "s" + random.nextInt(5);
            default -> (long) random.nextInt(200) - 50;
          };
      Double y = random.nextInt(8) == 0 ? null : Math.round(random.nextDouble() * 1000) / 10.0;
      Boolean flag = random.nextInt(5) == 0 ? null : random.nextBoolean();
      String nested = random.nextInt(3) == 0 ? null : "n" + random.nextInt(4);
      if (i % 50 == 7) {
        docs.add(
            new Doc(String.format("k%04d", i).replaceAll(".$", "7"), null, null, null, null, null));
      } else {
        docs.add(new Doc(String.format("k%04d", i), g, x, y, flag, nested));
      }
    }
    return docs.stream()
        .collect(Collectors.toMap(Doc::key, d -> d, (a, b) -> a, TreeMap::new))
        .values()
        .stream()
        .toList();
  }

  private static List<List<byte[][]>> spread(List<Doc> docs) {
    List<List<byte[][]>> shards = new ArrayList<>();
    for (int i = 0; i < SHARDS; i++) {
      shards.add(new ArrayList<>());
    }
    for (Doc doc : docs) {
      shards
          .get(Math.floorMod(doc.key().hashCode(), SHARDS))
          .add(
              new byte[][] {
                doc.key().getBytes(StandardCharsets.UTF_8),
                doc.json().getBytes(StandardCharsets.UTF_8)
              });
    }
    return shards;
  }

  private List<List<Object>> run(String sql) {
    Query query = QueryParser.parse(sql);
    List<List<List<JsonNode>>> answers = new ArrayList<>();
    for (List<byte[][]> rows : shards) {
      ShardQuery part = new ShardQuery(query);
      // As a node does: a streaming query's rows leave in batches (here of 7) while it reads.
      List<List<JsonNode>> sent = new ArrayList<>();
      for (byte[][] row : rows) {
        boolean more = part.add(row[0], row[1]);
        if (part.streams() && part.pendingRows() >= 7) {
          part.takeRows().forEach(found -> sent.add(found.values()));
        }
        if (!more) {
          break;
        }
      }
      if (part.streams()) {
        part.takeRows().forEach(found -> sent.add(found.values()));
      } else {
        sent.addAll(part.result());
      }
      // What the shard sends travels as JSON text.
      answers.add(
          sent.stream()
              .map(r -> r.stream().map(v -> Values.fromJson(Values.toJson(v))).toList())
              .toList());
    }
    return QueryMerge.merge(query, answers).stream()
        .map(r -> r.stream().map(QueryEngineTest::plain).toList())
        .toList();
  }

  private static Object plain(JsonNode value) {
    if (value == null || value.isNull()) {
      return null;
    }
    if (value.isIntegralNumber()) {
      return value.longValue();
    }
    if (value.isNumber()) {
      return value.doubleValue();
    }
    if (value.isBoolean()) {
      return value.booleanValue();
    }
    return value.isTextual() ? value.textValue() : value.toString();
  }

  private Stream<Doc> documentsOnly() {
    return docs.stream().filter(Doc::isDocument);
  }

  private static List<Object> row(Object... values) {
    return Arrays.asList(values);
  }

  @Test
  void filtersAndProjections() {
    assertThat(run("SELECT _key, x FROM t WHERE x > 100"))
        .containsExactlyInAnyOrderElementsOf(
            documentsOnly()
                .filter(d -> d.xNumber() != null && d.xNumber() > 100)
                .map(d -> row(d.key(), d.x()))
                .toList());
    assertThat(run("SELECT _key FROM t WHERE g = 'g3' AND (flag = true OR y <= 10.5)"))
        .containsExactlyInAnyOrderElementsOf(
            documentsOnly()
                .filter(
                    d ->
                        "g3".equals(d.g())
                            && (Boolean.TRUE.equals(d.flag()) || (d.y() != null && d.y() <= 10.5)))
                .map(d -> row(d.key()))
                .toList());
    assertThat(run("SELECT _key FROM t WHERE x IN (1, 2, 3, 's1') AND NOT g = 'g1'"))
        .containsExactlyInAnyOrderElementsOf(
            documentsOnly()
                .filter(
                    d ->
                        d.x() != null
                            && List.of(1L, 2L, 3L, "s1").contains(d.x())
                            && d.g() != null
                            && !d.g().equals("g1"))
                .map(d -> row(d.key()))
                .toList());
    assertThat(run("SELECT _key, a.b FROM t WHERE x BETWEEN -10 AND 10 AND a.b IS NOT NULL"))
        .containsExactlyInAnyOrderElementsOf(
            documentsOnly()
                .filter(
                    d ->
                        d.xNumber() != null
                            && d.xNumber() >= -10
                            && d.xNumber() <= 10
                            && d.nested() != null)
                .map(d -> row(d.key(), d.nested()))
                .toList());
    assertThat(run("SELECT _key FROM t WHERE g IS NULL"))
        .containsExactlyInAnyOrderElementsOf(
            docs.stream().filter(d -> d.g() == null).map(d -> row(d.key())).toList());
    assertThat(run("SELECT _key FROM t WHERE _key LIKE 'k01%' AND x != 5"))
        .containsExactlyInAnyOrderElementsOf(
            documentsOnly()
                .filter(d -> d.key().startsWith("k01") && d.xNumber() != null && d.xNumber() != 5)
                .map(d -> row(d.key()))
                .toList());
    // A string never compares with a number: neither x < 0 nor NOT x < 0 holds for x = 's1'.
    assertThat(run("SELECT _key FROM t WHERE NOT x < 0"))
        .containsExactlyInAnyOrderElementsOf(
            documentsOnly()
                .filter(d -> d.xNumber() != null && d.xNumber() >= 0)
                .map(d -> row(d.key()))
                .toList());
  }

  @Test
  void everyAggregate_withAndWithoutGroups() {
    List<Long> numbers = documentsOnly().map(Doc::xNumber).filter(Objects::nonNull).toList();
    List<List<Object>> average = run("SELECT AVG(x) FROM t");
    assertThat((Double) average.get(0).get(0))
        .isCloseTo(
            numbers.stream().mapToLong(Long::longValue).average().orElseThrow(),
            org.assertj.core.data.Offset.offset(1e-9));
    assertThat(run("SELECT COUNT(*), COUNT(x), SUM(x), MIN(x), MAX(y) FROM t"))
        .containsExactly(
            row(
                (long) docs.size(),
                documentsOnly().filter(d -> d.x() != null).count(),
                numbers.stream().mapToLong(Long::longValue).sum(),
                // MIN over mixed kinds orders numbers before strings.
                numbers.stream().min(Long::compare).orElseThrow(),
                documentsOnly()
                    .map(Doc::y)
                    .filter(Objects::nonNull)
                    .max(Double::compare)
                    .orElseThrow()));

    Function<Doc, String> group = Doc::g;
    Map<String, List<Doc>> byGroup =
        documentsOnly()
            .collect(
                Collectors.groupingBy(
                    d -> String.valueOf(group.apply(d)), TreeMap::new, Collectors.toList()));
    List<List<Object>> expected = new ArrayList<>();
    byGroup.forEach(
        (g, members) -> {
          List<Long> xs = members.stream().map(Doc::xNumber).filter(Objects::nonNull).toList();
          expected.add(
              row(
                  g.equals("null") ? null : g,
                  (long) members.size(),
                  xs.isEmpty() ? null : xs.stream().mapToLong(Long::longValue).sum()));
        });
    // Documents without g form the NULL group, which sorts first.
    assertThat(
            run("SELECT g, COUNT(*) AS n, SUM(x) FROM t WHERE _key >= 'k' GROUP BY g ORDER BY g"))
        .containsExactlyElementsOf(
            expected.stream()
                .sorted(
                    Comparator.comparing(
                        r -> (String) r.get(0), Comparator.nullsFirst(Comparator.naturalOrder())))
                .toList()
                .stream()
                .map(r -> adjustPlainGroup(r))
                .toList());

    assertThat(run("SELECT g, COUNT(*) AS n FROM t GROUP BY g ORDER BY n DESC, g LIMIT 3"))
        .hasSize(3)
        .isSortedAccordingTo(Comparator.comparing((List<Object> r) -> (Long) r.get(1)).reversed());
    assertThat(run("SELECT COUNT(*) FROM t WHERE x > 100000")).containsExactly(row(0L));
    assertThat(run("SELECT SUM(x), MIN(x) FROM t WHERE x > 100000"))
        .containsExactly(row(null, null));
  }

  // Plain byte values belong to the NULL group too: they have no g.
  private List<Object> adjustPlainGroup(List<Object> r) {
    if (r.get(0) != null) {
      return r;
    }
    long plain = docs.stream().filter(d -> !d.isDocument()).count();
    return row(null, (Long) r.get(1) + plain, r.get(2));
  }

  @Test
  void orderByWithLimit_isATopKMergedAcrossShards() {
    Predicate<Doc> positive = d -> d.xNumber() != null && d.xNumber() > 0;
    List<List<Object>> expected =
        documentsOnly()
            .filter(positive)
            .sorted(Comparator.comparing(Doc::xNumber).reversed().thenComparing(Doc::key))
            .limit(10)
            .map(d -> row(d.key(), d.x()))
            .toList();
    assertThat(run("SELECT _key, x FROM t WHERE x > 0 ORDER BY x DESC, _key LIMIT 10"))
        .containsExactlyElementsOf(expected);
    assertThat(run("SELECT _key FROM t ORDER BY _key LIMIT 5"))
        .containsExactlyElementsOf(docs.stream().limit(5).map(d -> row(d.key())).toList());
    // Without ORDER BY, LIMIT caps the rows.
    assertThat(run("SELECT * FROM t LIMIT 7")).hasSize(7);
    assertThat(run("SELECT _key FROM t LIMIT 0")).isEmpty();
  }

  @Test
  void aggregateShardRows_areOnePerGroupPerShard() {
    Query query = QueryParser.parse("SELECT g, SUM(x) FROM t GROUP BY g");
    for (List<byte[][]> rows : shards) {
      ShardQuery part = new ShardQuery(query);
      rows.forEach(row -> part.add(row[0], row[1]));
      assertThat(part.result()).hasSizeLessThanOrEqualTo(8);
      assertThat(part.scanned()).isEqualTo(rows.size());
    }
  }

  @Test
  void plainQueriesWithoutOrderBy_stream_andTheRestWaitForTheirResult() {
    assertThat(new ShardQuery(QueryParser.parse("SELECT * FROM t WHERE x > 1")).streams()).isTrue();
    assertThat(new ShardQuery(QueryParser.parse("SELECT _key FROM t LIMIT 3")).streams()).isTrue();
    assertThat(new ShardQuery(QueryParser.parse("SELECT _key FROM t ORDER BY x")).streams())
        .isFalse();
    assertThat(new ShardQuery(QueryParser.parse("SELECT COUNT(*) FROM t")).streams()).isFalse();
    // A LIMIT counts the rows already taken: the shard stops after three in all.
    ShardQuery part = new ShardQuery(QueryParser.parse("SELECT _key FROM t LIMIT 3"));
    List<byte[][]> rows = shards.get(0);
    assertThat(part.add(rows.get(0)[0], rows.get(0)[1])).isTrue();
    assertThat(part.add(rows.get(1)[0], rows.get(1)[1])).isTrue();
    assertThat(part.takeRows()).hasSize(2);
    assertThat(part.pendingRows()).isZero();
    assertThat(part.add(rows.get(2)[0], rows.get(2)[1])).isFalse();
    assertThat(part.takeRows()).hasSize(1);
  }

  @Test
  void onlyQueriesThatReadFields_needValues() {
    assertThat(new ShardQuery(QueryParser.parse("SELECT COUNT(*) FROM t")).readsValues()).isFalse();
    assertThat(
            new ShardQuery(QueryParser.parse("SELECT _key FROM t WHERE _key > 'k' ORDER BY _key"))
                .readsValues())
        .isFalse();
    assertThat(new ShardQuery(QueryParser.parse("SELECT * FROM t")).readsValues()).isTrue();
    assertThat(new ShardQuery(QueryParser.parse("SELECT COUNT(x) FROM t")).readsValues()).isTrue();
    assertThat(new ShardQuery(QueryParser.parse("SELECT _key FROM t WHERE a.b = 1")).readsValues())
        .isTrue();
    // Without values, COUNT(*) and key queries still answer.
    assertThat(run("SELECT COUNT(*) FROM t WHERE _key < 'k0100'"))
        .containsExactly(row(docs.stream().filter(d -> d.key().compareTo("k0100") < 0).count()));
  }

  @Test
  void sums_stayExactPastTheRangeOfALong() {
    ShardQuery part = new ShardQuery(QueryParser.parse("SELECT SUM(x), AVG(x) FROM t"));
    for (String x : List.of("9223372036854775807", "9223372036854775807", "0.5", "-3")) {
      part.add(
          "k".getBytes(StandardCharsets.UTF_8),
          ("{\"x\":" + x + "}").getBytes(StandardCharsets.UTF_8));
    }
    List<List<JsonNode>> result =
        QueryMerge.merge(QueryParser.parse("SELECT SUM(x), AVG(x) FROM t"), List.of(part.result()));
    assertThat(result.get(0).get(0).decimalValue())
        .isEqualByComparingTo(new java.math.BigDecimal("18446744073709551611.5"));
    assertThat(result.get(0).get(1).doubleValue())
        .isCloseTo(0x1p62, org.assertj.core.data.Offset.offset(1e6));
  }
}
