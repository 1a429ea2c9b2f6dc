package io.shardcluster.client;

import io.shardcluster.rpc.Limits;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A migration as the coordinator reports it: a set of keys moving from one node to another.
 *
 * @param id the migration id, such as {@code m000012}
 * @param source the node the keys leave
 * @param target the node the keys go to
 * @param what the keys: ring ranges (and their share of the ring) and directory entries
 * @param share fraction of the ring's positions moving
 * @param phase PLANNED, COPYING, CATCHING_UP, CUTOVER, COMMITTED, DONE or CANCELLED
 * @param paused whether an operator paused it
 * @param reason why it exists, such as {@code join node-4}
 * @param attempt which try of its move it is: 1, or more when a join, drain or directory change
 *     tries again a move that a failure rolled back (at most {@link #MAX_ATTEMPTS})
 * @param keysCopied keys copied from the snapshot so far
 * @param bytesCopied bytes copied from the snapshot so far
 * @param changesApplied logged changes applied on the target so far
 * @param estimatedKeys the source's estimate of the keys moving
 * @param keysPerSec recent copy rate, keys and changes
 * @param bytesPerSec recent copy rate
 * @param etaSeconds seconds left at that rate; negative when unknown
 * @param lastError the last error while the coordinator retries, or empty
 * @param createdMillis when it was planned, epoch milliseconds
 * @param committedMillis when the new ownership was committed, or 0
 * @param finishedMillis when it ended, or 0
 * @param rolledBackByFailure whether a failure rolled it back (a cutover held up too long, a target
 *     DOWN too long, checksums that disagree, one of its nodes removed by force), not an operator
 * @param superseded for a directory change a failure rolled back: whether a later change of the
 *     same entry was made at once since (without migrations), its keyspace was dropped, or the
 *     coordinator found nothing left to change (the change in effect, its entry gone), so it is not
 *     tried again
 * @param group for a migration of a change whose migrations commit together (a prefix the ring
 *     spreads over several nodes): the id of the first of them; empty otherwise
 * @param latestOfEntry for a directory change: whether it is of the latest round of changes of its
 *     entry or group, which is what the coordinator tries again if a failure rolled it back (only a
 *     later change of the same entry or group answers it)
 * @param copyRateLimit while its keys are copied: the source's current rate limit in bytes/s (0:
 *     none, or not copying)
 * @param pace while its keys are copied: why the source copies at that rate (it slows down while
 *     its own requests' p99 is above its bound); empty otherwise
 */
public record MigrationInfo(
    String id,
    String source,
    String target,
    String what,
    double share,
    String phase,
    boolean paused,
    String reason,
    int attempt,
    long keysCopied,
    long bytesCopied,
    long changesApplied,
    long estimatedKeys,
    double keysPerSec,
    double bytesPerSec,
    double etaSeconds,
    String lastError,
    long createdMillis,
    long committedMillis,
    long finishedMillis,
    boolean rolledBackByFailure,
    boolean superseded,
    String group,
    boolean latestOfEntry,
    long copyRateLimit,
    String pace) {
  /**
   * How many times the coordinator tries the moves of a join, a drain or a directory change that
   * failures roll back, the first try included.
   */
  public static final int MAX_ATTEMPTS = Limits.MAX_MIGRATION_ATTEMPTS;

  /**
   * The directory changes ({@code directory set}, {@code move} or {@code remove}) among these
   * migrations that a failure rolled back and nothing answered since: each the latest change of its
   * entry or group, not superseded by a change of it made at once. One migration for each change
   * (of one whose migrations commit together, the last), oldest first.
   */
  public static List<MigrationInfo> rolledBackDirectoryChanges(List<MigrationInfo> migrations) {
    Map<String, MigrationInfo> byChange = new TreeMap<>();
    migrations.stream()
        .filter(m -> m.reason().startsWith("directory ") && m.latestOfEntry())
        .filter(m -> m.rolledBackByFailure() && !m.superseded())
        .forEach(
            m ->
                byChange.merge(
                    m.group().isEmpty() ? m.id() : m.group(),
                    m,
                    (a, b) -> a.id().compareTo(b.id()) >= 0 ? a : b));
    return byChange.values().stream()
        .sorted(
            Comparator.comparingLong(MigrationInfo::createdMillis).thenComparing(MigrationInfo::id))
        .toList();
  }

  /** Whether the coordinator tries its move again: a failure rolled it back and tries are left. */
  public boolean triedAgain() {
    return rolledBackByFailure && !superseded && attempt < MAX_ATTEMPTS;
  }

  /** Its id with its reason and what it moves: {@code m000012 (directory set: prefix hot:)}. */
  public String label() {
    return id + " (" + reason + ": " + what + ")";
  }

  /** Whether it has ended (DONE or CANCELLED). */
  public boolean ended() {
    return phase.equals("DONE") || phase.equals("CANCELLED");
  }
}
