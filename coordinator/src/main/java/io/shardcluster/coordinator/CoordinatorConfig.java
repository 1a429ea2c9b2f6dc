package io.shardcluster.coordinator;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import io.shardcluster.server.Failpoints;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The coordinator's validated settings.
 *
 * @param host address to listen on
 * @param port port to listen on; 0 picks a free one
 * @param dataDir where metadata is persisted
 * @param vnodes fewest nodes a joining node takes ring pieces from
 * @param heartbeatTimeout silence after which a node is DOWN
 * @param maxMigrations migrations that copy data at the same time
 * @param handoverSteps migrations a joining node takes each donor's ranges of a hash keyspace in
 *     (see {@link HandoverSteps})
 * @param throttleBytesPerSec copy rate limit per migration; 0 for none
 * @param cutoverTimeout how long a migration's cutover may be held up (a node not answering, a
 *     member of its group not ready) before it is rolled back, lifting its fence
 * @param targetDownTimeout how long a migration's target may be DOWN before its cutover (the copy
 *     or catch-up cannot go on) before the migration is rolled back, freeing its copy slot
 * @param balancerEnabled whether the automatic balancer runs
 * @param balanceBy the load the balancer evens out: "keys" or "ops"
 * @param balanceThreshold the balancer starts when max/mean load exceeds 1 + this
 * @param balanceTarget ... and moves load until max/mean is at most 1 + this
 * @param balanceWindow how long the imbalance must last before the balancer acts
 * @param rangeSplitKeys a range of a range keyspace holding more keys is split at its median; 0
 *     turns automatic splits off
 * @param rangeSplitOps a range of a range keyspace taking more reads and writes per second is split
 *     at the key that halves them; 0 turns load splits off
 * @param recoverFromNodes with empty metadata: rebuild membership, routing and the epoch from what
 *     the nodes hold as they register (see {@link MetadataRecovery})
 * @param replaceAfter how long a member of a replica group may stay down before a spare (shard-node
 *     --spare) replaces it; zero: never (see {@link Repairs})
 * @param failpoints where to crash or pause, for tests
 */
public record CoordinatorConfig(
    String host,
    int port,
    Path dataDir,
    int vnodes,
    Duration heartbeatTimeout,
    int maxMigrations,
    int handoverSteps,
    long throttleBytesPerSec,
    Duration cutoverTimeout,
    Duration targetDownTimeout,
    boolean balancerEnabled,
    String balanceBy,
    double balanceThreshold,
    double balanceTarget,
    Duration balanceWindow,
    long rangeSplitKeys,
    double rangeSplitOps,
    boolean recoverFromNodes,
    Duration replaceAfter,
    Failpoints failpoints) {
  /** Default fewest donors of a joining node. */
  public static final int DEFAULT_VNODES = io.shardcluster.routing.TokenAllocator.DEFAULT_VNODES;

  /** Default size at which a range is split: 500,000 keys. */
  public static final long DEFAULT_RANGE_SPLIT_KEYS = 500_000;

  /** Default load at which a range is split: 5,000 reads and writes per second. */
  public static final double DEFAULT_RANGE_SPLIT_OPS = 5_000;

  /** Default number of migrations a joining node takes each donor's share in. */
  public static final int DEFAULT_HANDOVER_STEPS = 4;

  /** Default copy rate limit per migration: 64 MiB/s. */
  public static final long DEFAULT_THROTTLE = 64L << 20;

  /** Default time a cutover may be held up before it is rolled back: 10 seconds. */
  public static final Duration DEFAULT_CUTOVER_TIMEOUT = Duration.ofSeconds(10);

  /** Default time a migration's target may be DOWN before its cutover: 60 seconds. */
  public static final Duration DEFAULT_TARGET_DOWN_TIMEOUT = Duration.ofSeconds(60);

  /** Default time a replica may stay down before a spare replaces it: 5 minutes. */
  public static final Duration DEFAULT_REPLACE_AFTER = Duration.ofMinutes(5);

  public CoordinatorConfig {
    requireArgument(host != null && !host.isBlank(), "host must not be empty");
    requireArgument(port >= 0 && port <= 65535, "port must be 0-65535, got %s", port);
    requireArgument(dataDir != null, "data dir is required");
    requireArgument(vnodes >= 1 && vnodes <= 4096, "vnodes must be 1-4096, got %s", vnodes);
    requireArgument(
        heartbeatTimeout != null && heartbeatTimeout.toMillis() >= 100,
        "heartbeat timeout must be at least 100 ms");
    requireArgument(
        maxMigrations >= 1 && maxMigrations <= 64,
        "max migrations must be 1-64, got %s",
        maxMigrations);
    requireArgument(
        handoverSteps >= 1 && handoverSteps <= 64,
        "handover steps must be 1-64, got %s",
        handoverSteps);
    requireArgument(throttleBytesPerSec >= 0, "throttle must not be negative");
    requireArgument(
        cutoverTimeout != null && cutoverTimeout.toMillis() >= 100,
        "cutover timeout must be at least 100 ms");
    requireArgument(
        targetDownTimeout != null && targetDownTimeout.toMillis() >= 100,
        "target down timeout must be at least 100 ms");
    requireArgument(
        "keys".equals(balanceBy) || "ops".equals(balanceBy),
        "balance-by must be keys or ops, got '%s'",
        balanceBy);
    requireArgument(
        balanceThreshold > 0 && balanceThreshold < 10, "balance threshold must be in (0, 10)");
    requireArgument(
        balanceTarget > 0 && balanceTarget < balanceThreshold,
        "balance target must be positive and below the threshold");
    requireArgument(
        balanceWindow != null && !balanceWindow.isNegative(),
        "balance window must not be negative");
    requireArgument(rangeSplitKeys >= 0, "range split size must not be negative");
    requireArgument(rangeSplitOps >= 0, "range split load must not be negative");
    requireArgument(
        replaceAfter != null && (replaceAfter.isZero() || replaceAfter.toMillis() >= 1000),
        "replace-after must be 0 (never) or at least 1 s");
    requireArgument(failpoints != null, "failpoints must not be null");
  }

  /** These settings with joins moved in {@code steps} migrations per donor. */
  public CoordinatorConfig withHandoverSteps(int steps) {
    return new CoordinatorConfig(
        host,
        port,
        dataDir,
        vnodes,
        heartbeatTimeout,
        maxMigrations,
        steps,
        throttleBytesPerSec,
        cutoverTimeout,
        targetDownTimeout,
        balancerEnabled,
        balanceBy,
        balanceThreshold,
        balanceTarget,
        balanceWindow,
        rangeSplitKeys,
        rangeSplitOps,
        recoverFromNodes,
        replaceAfter,
        failpoints);
  }

  /** Settings for tests and embedding: defaults everywhere but the address and directory. */
  public static CoordinatorConfig defaults(String host, int port, Path dataDir) {
    return new CoordinatorConfig(
        host,
        port,
        dataDir,
        DEFAULT_VNODES,
        Duration.ofSeconds(3),
        4,
        DEFAULT_HANDOVER_STEPS,
        DEFAULT_THROTTLE,
        DEFAULT_CUTOVER_TIMEOUT,
        DEFAULT_TARGET_DOWN_TIMEOUT,
        true,
        "keys",
        0.2,
        0.05,
        Duration.ofSeconds(30),
        DEFAULT_RANGE_SPLIT_KEYS,
        DEFAULT_RANGE_SPLIT_OPS,
        false,
        DEFAULT_REPLACE_AFTER,
        Failpoints.none());
  }
}
