package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CopyPacerTest {
  private static void requests(CopyPacer pacer, double millis) {
    for (int i = 0; i < 1000; i++) {
      pacer.record((long) (millis * TimeUnit.MILLISECONDS.toNanos(1)));
    }
  }

  @Test
  void slowsCopiesWhileTheForegroundP99IsAboveTwiceItsBaseline_andSpeedsUpAfter() {
    CopyPacer pacer = new CopyPacer(2.0);
    // Before the move: a p99 of 2 ms is the baseline.
    for (int i = 0; i < 10; i++) {
      requests(pacer, 2);
      pacer.tick();
    }
    assertThat(pacer.rate(64_000_000)).isEqualTo(64_000_000);

    try (CopyPacer.Copy copy = pacer.copying()) {
      requests(pacer, 3);
      pacer.tick();
      assertThat(pacer.fraction()).as("within 2x").isEqualTo(1.0);

      requests(pacer, 9);
      pacer.tick();
      assertThat(pacer.rate(64_000_000)).isEqualTo(32_000_000);
      assertThat(pacer.describe()).startsWith("slowed: foreground p99 9.");
      for (int i = 0; i < 20; i++) {
        requests(pacer, 9);
        pacer.tick();
      }
      assertThat(pacer.fraction()).as("never stops").isEqualTo(CopyPacer.MIN_FRACTION);

      requests(pacer, 2);
      pacer.tick();
      assertThat(pacer.fraction()).isEqualTo(CopyPacer.MIN_FRACTION * 1.25);
      assertThat(pacer.describe()).startsWith("speeding up");
      for (int i = 0; i < 30; i++) {
        requests(pacer, 2);
        pacer.tick();
      }
      assertThat(pacer.fraction()).isEqualTo(1.0);
    }
    // The baseline did not learn the copy's 9 ms.
    requests(pacer, 2);
    pacer.tick();
    assertThat(pacer.describe()).contains("p99 2.0");
  }

  @Test
  void aQuietNode_isNotSlowedForSubMillisecondNoise_andFactorZeroTurnsPacingOff() {
    CopyPacer pacer = new CopyPacer(2.0);
    requests(pacer, 0.05);
    pacer.tick();
    try (CopyPacer.Copy copy = pacer.copying()) {
      requests(pacer, 0.5);
      pacer.tick();
      assertThat(pacer.fraction()).isEqualTo(1.0);
    }
    CopyPacer off = new CopyPacer(0);
    try (CopyPacer.Copy copy = off.copying()) {
      requests(off, 500);
      off.tick();
      assertThat(off.fraction()).isEqualTo(1.0);
      assertThat(off.describe()).startsWith("pacing off");
    }
  }
}
