package io.shardcluster.shardctl;

import picocli.CommandLine.Option;

/**
 * The keys {@code load} writes and {@code verify} reads back, {@code PREFIX0..PREFIX(N-1)} with
 * values derived from each key: one set of options, so the two always describe the same keys.
 */
final class GeneratedKeys {
  @Option(names = "--count", required = true, description = "Number of keys.")
  long count;

  @Option(
      names = "--prefix",
      defaultValue = "key",
      description = "Key prefix (default: ${DEFAULT-VALUE}).")
  String prefix;

  @Option(
      names = "--value-size",
      defaultValue = "100",
      description = "Value size in bytes (default: ${DEFAULT-VALUE}).")
  int valueSize;
}
