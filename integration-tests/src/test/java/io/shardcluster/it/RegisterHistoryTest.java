package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.shardcluster.it.RegisterHistory.Op;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The linearizability checker finds each kind of violation, and passes what is linearizable. */
class RegisterHistoryTest {
  private static Op write(long value, long from, long to) {
    return new Op(true, value, from, to, true);
  }

  private static Op unknownWrite(long value, long from) {
    return new Op(true, value, from, Long.MAX_VALUE, false);
  }

  private static Op read(long value, long from, long to) {
    return new Op(false, value, from, to, true);
  }

  @Test
  void linearizableHistory_concurrentReadsMaySeeEitherValue_passes() {
    assertThat(
            RegisterHistory.check(
                "k",
                List.of(
                    write(1, 0, 10),
                    read(0, 5, 6), // concurrent with the write: old value is fine
                    read(1, 7, 8), // concurrent too: new value is fine
                    read(1, 11, 12),
                    unknownWrite(2, 20),
                    read(1, 25, 26), // the failed write may not have happened
                    read(2, 30, 31)))) // or may have
        .isEmpty();
  }

  @Test
  void staleRead_afterAcknowledgedWrite_isFound() {
    assertThat(RegisterHistory.check("k", List.of(write(1, 0, 10), read(0, 11, 12))))
        .singleElement()
        .asString()
        .contains("stale read");
  }

  @Test
  void readFromTheFuture_isFound() {
    assertThat(RegisterHistory.check("k", List.of(read(1, 0, 5), write(1, 6, 10))))
        .singleElement()
        .asString()
        .contains("never written before it");
  }

  @Test
  void valuesGoingBackwards_betweenSequentialReads_isFound() {
    assertThat(
            RegisterHistory.check("k", List.of(write(1, 0, 100), read(1, 10, 20), read(0, 30, 40))))
        .singleElement()
        .asString()
        .contains("went backwards");
  }
}
