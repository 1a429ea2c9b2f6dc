package io.shardcluster.client;

import java.util.Optional;

/**
 * The outcome of placing a directory entry: set at once, or set by the commit of a migration that
 * moves the keys it covers to its node.
 *
 * @param epoch the routing epoch after the change; while a migration runs, the epoch it started at
 * @param migration the migration moving the entry's keys, if any
 */
public record DirectoryChange(long epoch, Optional<MigrationInfo> migration) {}
