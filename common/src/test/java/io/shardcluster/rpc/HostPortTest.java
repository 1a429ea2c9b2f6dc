package io.shardcluster.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.shardcluster.errors.ShardClusterException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HostPortTest {
  @Test
  void parse_hostAndPort() {
    assertThat(HostPort.parse("127.0.0.1:7400")).isEqualTo(new HostPort("127.0.0.1", 7400));
    assertThat(HostPort.parse("[::1]:7400").host()).isEqualTo("::1");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"", "localhost", "localhost:", ":7400", "localhost:abc", "localhost:70000", "h:0"})
  void parse_malformed_isInvalidArgumentNamingTheText(String text) {
    assertThatThrownBy(() -> HostPort.parse(text))
        .isInstanceOf(ShardClusterException.class)
        .hasMessageContaining("address");
  }

  @Test
  void limits_rejectEmptyAndOversized() {
    assertThatThrownBy(() -> Limits.checkKey(0)).hasMessage("key must not be empty");
    assertThatThrownBy(() -> Limits.checkKey(Limits.MAX_KEY_BYTES + 1))
        .hasMessageContaining("the limit is 4096 bytes");
    assertThatThrownBy(() -> Limits.checkValue(0)).hasMessage("value must not be empty");
    assertThatThrownBy(() -> Limits.checkValue(Limits.MAX_VALUE_BYTES + 1))
        .hasMessageContaining("limit");
  }
}
