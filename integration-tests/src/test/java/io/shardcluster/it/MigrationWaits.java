package io.shardcluster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.shardcluster.client.ShardClient;
import java.time.Duration;

/** Waits on migrations through the admin API, for in-process and multi-process clusters alike. */
final class MigrationWaits {
  private MigrationWaits() {}

  /** Waits until exactly {@code count} running migrations made for {@code reason} are in phase. */
  static void awaitPhase(ShardClient client, String reason, int count, String phase) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(
            () ->
                assertThat(client.admin().migrations(false))
                    .filteredOn(m -> m.reason().equals(reason))
                    .hasSize(count)
                    .allSatisfy(m -> assertThat(m.phase()).isEqualTo(phase)));
  }
}
