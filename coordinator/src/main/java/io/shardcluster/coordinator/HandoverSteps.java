package io.shardcluster.coordinator;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import io.shardcluster.routing.PositionRange;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Cuts the position ranges one node hands to another into steps of about equal share, each moved by
 * a migration of its own (its own copy, fence, epoch and cleanup), so that a joining node takes its
 * traffic a piece at a time rather than a quarter of it in one cold step. Since nodes store hash
 * keyspaces in position order, a step's copy reads only its own ranges: the steps together read
 * each moving key once, as one migration would.
 */
final class HandoverSteps {
  private HandoverSteps() {}

  /**
   * The ranges in at most {@code steps} groups of about equal share, each sorted by start; ranges
   * are halved (largest first) while there are fewer ranges than steps.
   */
  static List<List<PositionRange>> split(List<PositionRange> ranges, int steps) {
    requireArgument(steps >= 1, "handover steps must be at least 1, got %s", steps);
    if (steps == 1 || ranges.isEmpty()) {
      return List.of(ranges);
    }
    List<PositionRange> pieces = new ArrayList<>(ranges);
    while (pieces.size() < steps) {
      PositionRange largest =
          pieces.stream().max(Comparator.comparingDouble(PositionRange::fraction)).orElseThrow();
      boolean whole = largest.start() == 0 && largest.end() == 0;
      // Unsigned, with end 0 standing for 2^64.
      long width = largest.end() - largest.start();
      if (!whole && Long.compareUnsigned(width, 2) < 0) {
        break;
      }
      long middle = whole ? Long.MIN_VALUE : largest.start() + (width >>> 1);
      pieces.remove(largest);
      pieces.add(new PositionRange(largest.start(), middle));
      pieces.add(new PositionRange(middle, largest.end()));
    }
    pieces.sort(Comparator.comparing(PositionRange::start, Long::compareUnsigned));
    // Deal the pieces out in position order, closing a step once it holds its share.
    double total = pieces.stream().mapToDouble(PositionRange::fraction).sum();
    List<List<PositionRange>> split = new ArrayList<>();
    List<PositionRange> step = new ArrayList<>();
    double taken = 0;
    for (int i = 0; i < pieces.size(); i++) {
      PositionRange piece = pieces.get(i);
      step.add(piece);
      taken += piece.fraction();
      int remainingPieces = pieces.size() - i - 1;
      int remainingSteps = steps - split.size() - 1;
      boolean shareReached = taken >= total * (split.size() + 1) / steps;
      if (remainingSteps > 0 && (shareReached || remainingPieces == remainingSteps)) {
        split.add(step);
        step = new ArrayList<>();
      }
    }
    if (!step.isEmpty()) {
      split.add(step);
    }
    return split;
  }
}
