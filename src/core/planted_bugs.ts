/**
 * Test-only planted bugs: switches the consistency campaign's own tests turn
 * on to show that the campaign and the checker can fail (issue 6, "The
 * checker must be able to fail"; issue 12, "Prove the net"). A checker that
 * never reports anything proves nothing; with a real bug planted, a bounded
 * campaign must report a violation.
 *
 * It lives in src/core (module state only: no I/O, no clock) so that every
 * layer that hosts a defect (core, storage, actors) can consult it while
 * arrows still point down. Not reachable from the public API (`src/index.ts`
 * does not export it) nor from the CLIs (`src/cli/cli.ts` and
 * `src/simulation/sim_main.ts` never import the setter). Every bug is off by
 * default, and each place consults it in one commented line, so production
 * code pays one Set lookup on an empty set.
 *
 * Thread contract: module state of one thread (the simulator runs every
 * simulated node on one thread, so one switch reaches all of them).
 */
import { decodeDvv } from './dotted_version_vector.js';
import { hashString32 } from './hash.js';
import { formatVersion } from './version_id.js';
import type { Version } from './sibling_set.js';

/** The bugs that can be planted; each restores one defect the campaign must catch. */
export type PlantedBug =
  /**
   * A replica acknowledges a `merge` (or stores a `mint`) but silently drops the versions whose
   * dot hashes into 1 in DROPPED_DOT_ONE_IN (1%). The choice depends on the dot
   * alone, so every replica drops the same version: an acknowledged write is
   * lost cluster-wide, as with a faulty write path that filters by mistake.
   */
  | 'replica-drops-merged-version'
  /**
   * Dots minted as before issue 12: the counter is one above what the node
   * holds for the key (no leased floor), and a node that crashed under
   * periodic sync resumes its old epoch. A node that forgot a write mints its
   * dot again for another value.
   */
  | 'dot-reuse'
  /** Under batch sync, gets and mints see a write before its commit-log group is on disk. */
  | 'visible-before-fsync'
  /**
   * Compaction purges a tombstone once its grace has passed, confirmed or
   * not, as before issue 12: an owner that missed the delete brings the old
   * value back through read repair once the others have purged it.
   */
  | 'timer-only-purge'
  /**
   * Merges ignore value digests, as before issue 12: two copies of one dot
   * naming different values compare 'equal' and a reconcile keeps one of
   * them silently (dotted_version_vector.ts `digestsDiffer`), nothing is
   * reported and the other write is gone.
   */
  | 'silent-same-dot-merge'
  /**
   * A coordinator confirms a tombstone as soon as every owner acknowledged
   * it, as in the first cut of issue 12, without asking each owner to hold
   * it durably (`hold-tombstone`): under periodic sync an owner that crashes
   * in the sync window loses it while the others purge theirs, and its old
   * value comes back.
   */
  | 'unsynced-tombstone-confirm';

/** One dot in this many is dropped by 'replica-drops-merged-version'. */
const DROPPED_DOT_ONE_IN = 100;

/** Which bugs are planted (none unless a test plants one). */
const planted = new Set<PlantedBug>();

/**
 * Test-only: plant `bugs` (one, or several that only show together, e.g. a
 * silent same-dot merge needs repeated dots to act on), replacing what was
 * planted; null removes every bug. Never call outside tests and benchmarks.
 */
export function __plantBugForTests(bugs: PlantedBug | readonly PlantedBug[] | null): void {
  planted.clear();
  if (bugs === null) return;
  for (const bug of typeof bugs === 'string' ? [bugs] : bugs) planted.add(bug);
}

/** True when `bug` is planted (always false outside the tests that plant it). */
export function isPlanted(bug: PlantedBug): boolean {
  return planted.size > 0 && planted.has(bug);
}

/** True when the planted replica bug is on and drops `version` (dotted version vectors only). */
export function plantedDropOfMergedVersion(version: Version): boolean {
  if (!isPlanted('replica-drops-merged-version')) return false;
  const dot = decodeDvv(version.clock).dot;
  return hashString32(formatVersion(dot)) % DROPPED_DOT_ONE_IN === 0;
}
