package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class KeyCountsTest {
  @Test
  void rangeSize_countsEveryKey_andItsMedianIsNearTheMiddleKey() {
    for (int n : new int[] {1, 2, 63, 64, 65, 100, 1000, 12345, 100_000}) {
      KeyCounts.RangeSize size = new KeyCounts.RangeSize();
      for (int i = 0; i < n; i++) {
        size.add(String.format("k%08d", i).getBytes(StandardCharsets.US_ASCII), 10);
      }
      int median =
          Integer.parseInt(new String(size.median(), StandardCharsets.US_ASCII).substring(1));
      assertThat(size.keys).isEqualTo(n);
      assertThat(size.bytes).isEqualTo(10L * n);
      assertThat(median).as("median of %d keys", n).isBetween(n / 2 - n / 16 - 1, n / 2 + n / 16);
    }
  }
}
