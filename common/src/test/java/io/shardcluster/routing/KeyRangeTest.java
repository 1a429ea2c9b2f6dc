package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;

class KeyRangeTest {
  private static KeyRange keys(String start, String end) {
    return new KeyRange(ByteString.copyFromUtf8(start), ByteString.copyFromUtf8(end));
  }

  @Test
  void containsARange_onlyWhenEveryKeyOfItIsInside() {
    KeyRange fToM = keys("f", "m");
    assertThat(fToM.contains(fToM)).isTrue();
    assertThat(fToM.contains(keys("g", "j"))).isTrue();
    assertThat(fToM.contains(keys("e", "j"))).isFalse();
    assertThat(fToM.contains(keys("g", "n"))).isFalse();
    // An empty end is the end of the keyspace.
    assertThat(fToM.contains(keys("g", ""))).isFalse();
    assertThat(keys("f", "").contains(keys("x", ""))).isTrue();
    assertThat(keys("f", "").contains(keys("x", "y"))).isTrue();
  }
}
