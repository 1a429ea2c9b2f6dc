package io.shardcluster.routing;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.hash.HashFunction;
import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class KeyHashTest {
  // Expected values from the reference C implementation of MurmurHash3_x64_128 (seed 0), first
  // 64-bit word. "The quick brown fox..." is the widely published 6c1b07bc7bbc4be3... digest read
  // as a little-endian word.
  @ParameterizedTest
  @CsvSource({
    "'', 0000000000000000",
    "a, 85555565f6597889",
    "hello, cbd8a7b341bd9b02",
    "user:42, cd01081bf0aa3a68",
    "The quick brown fox jumps over the lazy dog, e34bbc7bbc071b6c",
    "0123456789abcdefX, cdebd2acb570d6f7",
  })
  void position_matchesReferenceVectors(String key, String expectedHex) {
    long position = KeyHash.position(key.getBytes(StandardCharsets.UTF_8));
    assertThat(Interval.hex(position)).isEqualTo(expectedHex);
  }

  @Test
  void position_agreesWithGuavasMurmur3_forRandomKeysOfEveryLength() {
    SplittableRandom random = new SplittableRandom(42);
    HashFunction guava = Hashing.murmur3_128(0);
    for (int length = 0; length <= 80; length++) {
      for (int sample = 0; sample < 50; sample++) {
        byte[] key = new byte[length];
        random.nextBytes(key);
        assertThat(KeyHash.position(key))
            .as("length %d", length)
            .isEqualTo(guava.hashBytes(key).asLong());
      }
    }
  }
}
