package io.shardcluster.query;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.math.BigDecimal;
import java.math.MathContext;

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
  static State[] states(java.util.List<Query.AggregateOutput> aggregates) {
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
    private BigDecimal sum;
    private JsonNode best;

    private State(Aggregate function) {
      this.function = function;
    }

    /** Adds one row's value (for COUNT(*), any non-null marker). */
    void add(JsonNode value) {
      if (Values.isNull(value)) {
        return;
      }
      switch (function) {
        case COUNT -> count++;
        case SUM, AVG -> {
          if (value.isNumber()) {
            sum = sum == null ? value.decimalValue() : sum.add(value.decimalValue());
            count++;
          }
        }
        case MIN -> best = best == null || Values.ORDER.compare(value, best) < 0 ? value : best;
        case MAX -> best = best == null || Values.ORDER.compare(value, best) > 0 ? value : best;
      }
    }

    /** The partial state, as shards send it. */
    JsonNode partial() {
      return switch (function) {
        case COUNT -> Values.NODES.numberNode(count);
        case SUM -> sum == null ? NullNode.getInstance() : Values.number(sum);
        case AVG -> {
          ArrayNode pair = Values.NODES.arrayNode();
          pair.add(sum == null ? NullNode.getInstance() : Values.number(sum));
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
            BigDecimal shardSum = partial.get(0).decimalValue();
            sum = sum == null ? shardSum : sum.add(shardSum);
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
        case SUM -> sum == null ? NullNode.getInstance() : Values.number(sum);
        case AVG ->
            sum == null
                ? NullNode.getInstance()
                : Values.NODES.numberNode(
                    sum.divide(BigDecimal.valueOf(count), MathContext.DECIMAL64).doubleValue());
        case MIN, MAX -> Values.nullToNode(best);
      };
    }
  }
}
