package io.shardcluster.query;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The aggregate functions, each as a state that shards fill from rows and the client combines from
 * the shards' partial states (AVG travels as its sum and count).
 */
public enum Aggregate {
  COUNT,
  SUM,
  AVG,
  MIN,
  MAX;

  /** Fresh states of the selected aggregates, in order. */
  static State[] states(List<Query.AggregateOutput> aggregates) {
    State[] states = new State[aggregates.size()];
    for (int i = 0; i < states.length; i++) {
      states[i] = new State(aggregates.get(i).function());
    }
    return states;
  }

  /** One group's running value of one aggregate. */
  static final class State {
    private final Aggregate function;
    private long count;
    // A sum is exact: whole numbers add up in a long while they fit, the rest as a decimal.
    private boolean summed;
    private long wholeSum;
    private @Nullable BigDecimal decimalSum;
    private @Nullable JsonNode best;

    private State(Aggregate function) {
      this.function = function;
    }

    /** Adds one row's value (for COUNT(*), any non-null marker). */
    void add(@Nullable JsonNode value) {
      if (value == null || Values.isNull(value)) {
        return;
      }
      switch (function) {
        case COUNT -> count++;
        case SUM, AVG -> {
          if (value.isNumber()) {
            addToSum(value);
            count++;
          }
        }
        case MIN -> best = best == null || Values.ORDER.compare(value, best) < 0 ? value : best;
        case MAX -> best = best == null || Values.ORDER.compare(value, best) > 0 ? value : best;
      }
    }

    private void addToSum(JsonNode number) {
      summed = true;
      if (number.isIntegralNumber() && number.canConvertToLong()) {
        long whole = number.longValue();
        long total = wholeSum + whole;
        // No overflow unless both operands have the sign the result lacks.
        if (((wholeSum ^ total) & (whole ^ total)) >= 0) {
          wholeSum = total;
          return;
        }
      }
      BigDecimal value = number.decimalValue();
      decimalSum = decimalSum == null ? value : decimalSum.add(value);
    }

    /** The exact sum of the numbers added; call only when {@code summed}. */
    private BigDecimal sum() {
      BigDecimal whole = BigDecimal.valueOf(wholeSum);
      return decimalSum == null ? whole : decimalSum.add(whole);
    }

    /** The partial state, as shards send it. */
    JsonNode partial() {
      return switch (function) {
        case COUNT -> Values.NODES.numberNode(count);
        case SUM -> summed ? Values.number(sum()) : NullNode.getInstance();
        case AVG -> {
          ArrayNode pair = Values.NODES.arrayNode();
          pair.add(summed ? Values.number(sum()) : NullNode.getInstance());
          pair.add(count);
          yield pair;
        }
        case MIN, MAX -> Values.nullToNode(best);
      };
    }

    /** Combines a partial state from a shard. */
    void merge(JsonNode partial) {
      switch (function) {
        case COUNT -> count += partial.longValue();
        case SUM -> add(partial);
        case AVG -> {
          if (!Values.isNull(partial.get(0))) {
            addToSum(partial.get(0));
            count += partial.get(1).longValue();
          }
        }
        case MIN, MAX -> add(partial);
      }
    }

    /** The final value. */
    JsonNode result() {
      return switch (function) {
        case COUNT -> Values.NODES.numberNode(count);
        case SUM -> summed ? Values.number(sum()) : NullNode.getInstance();
        case AVG ->
            summed
                ? Values.NODES.numberNode(
                    sum().divide(BigDecimal.valueOf(count), MathContext.DECIMAL64).doubleValue())
                : NullNode.getInstance();
        case MIN, MAX -> Values.nullToNode(best);
      };
    }
  }
}
