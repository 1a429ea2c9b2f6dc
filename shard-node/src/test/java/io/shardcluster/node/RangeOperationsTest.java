package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RangeOperationsTest {
  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void rateAndMedian_followTheRequests_notTheKeys() {
    RangeOperations operations = new RangeOperations();
    // Many distinct cold keys once each, one hot region many times: the load halves inside it.
    for (int i = 0; i < 100; i++) {
      operations.record("events", ByteString.EMPTY, bytes(String.format("a%03d", i)));
    }
    for (int i = 0; i < 10_000; i++) {
      operations.record("events", ByteString.EMPTY, bytes(String.format("z%03d", i % 100)));
    }
    operations.record("events", ByteString.copyFromUtf8("m"), bytes("m1"));

    Map<KeyCounts.RangeSlot, RangeOperations.Load> loads = operations.closeWindow(2.0);

    RangeOperations.Load first =
        loads.get(new KeyCounts.RangeSlot("events", ByteString.copyFrom(bytes(""))));
    assertThat(first.opsPerSec()).isEqualTo(5050.0);
    assertThat(new String(first.median(), StandardCharsets.UTF_8)).startsWith("z");
    RangeOperations.Load second =
        loads.get(new KeyCounts.RangeSlot("events", ByteString.copyFrom(bytes("m"))));
    assertThat(second.opsPerSec()).isEqualTo(0.5);
    assertThat(second.median()).isEqualTo(bytes("m1"));
  }

  @Test
  void closingAWindow_startsTheNextEmpty() {
    RangeOperations operations = new RangeOperations();
    operations.record("events", ByteString.EMPTY, bytes("k"));
    assertThat(operations.closeWindow(1.0)).hasSize(1);
    assertThat(operations.closeWindow(1.0)).isEmpty();
  }
}
