package io.shardcluster.node;

import io.shardcluster.proto.v1.MigrationSpec;

/** Comparisons of migration specs. */
final class MigrationSpecs {
  private MigrationSpecs() {}

  /**
   * Whether two specs describe the same move: the same keys of the same keyspace from the same
   * source to the same target. Addresses may differ (a node restarted on another port).
   */
  static boolean sameMove(MigrationSpec a, MigrationSpec b) {
    return a.getId().equals(b.getId())
        && a.getSource().equals(b.getSource())
        && a.getTarget().equals(b.getTarget())
        && a.getMoving().equals(b.getMoving());
  }
}
