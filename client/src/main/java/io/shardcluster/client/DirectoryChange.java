package io.shardcluster.client;

import java.util.List;

/**
 * The outcome of placing a directory entry: set at once, or set by the commit of the migrations
 * that move the keys it covers to its node (one from each node that owned some).
 *
 * @param epoch the routing epoch after the change; while the migrations run, the epoch they started
 *     at
 * @param migrations the migrations that moved, or still move, the entry's keys; empty when no key
 *     changed owner
 */
public record DirectoryChange(long epoch, List<MigrationInfo> migrations) {
  public DirectoryChange {
    migrations = List.copyOf(migrations);
  }

  /** Whether the entry is in effect: set at once, or its migrations have committed. */
  public boolean inEffect() {
    return migrations.stream()
        .allMatch(m -> m.phase().equals("COMMITTED") || m.phase().equals("DONE"));
  }
}
