/**
 * Test-only planted bugs: a switch the consistency campaign's own test turns
 * on to show that the checker can fail (issue 6, "The checker must be able to
 * fail"). A checker that never reports anything proves nothing; with a real
 * bug planted, a bounded campaign must report a violation.
 *
 * Not reachable from the public API (`src/index.ts` does not export this
 * module) nor from the CLIs (`src/cli.ts`, `src/simulation/sim_main.ts` never
 * import the setter). Every bug is off by default, and each actor consults it
 * in one commented line, so production code pays one boolean test.
 *
 * Thread contract: module state of one thread (the simulator runs every
 * simulated node on one thread, so one switch reaches all of them).
 */
import { decodeDvv } from '../core/dotted_version_vector.js';
import { hashString32 } from '../core/hash.js';
import { formatVersion } from '../core/version_id.js';
import type { StoredVersion } from '../../storage/version.js';

/** The bugs that can be planted. */
export type PlantedBug =
  /**
   * A replica acknowledges a `merge` but silently drops the versions whose
   * dot hashes into 1 in DROPPED_DOT_ONE_IN (1%). The choice depends on the dot
   * alone, so every replica drops the same version: an acknowledged write is
   * lost cluster-wide, as with a faulty write path that filters by mistake.
   */
  'replica-drops-merged-version';

/** One dot in this many is dropped by 'replica-drops-merged-version'. */
const DROPPED_DOT_ONE_IN = 100;

/** Which bugs are planted (all off unless a test turns one on). */
const planted = { replicaDropsMergedVersion: false };

/** Test-only: plant `bug` (or remove every bug with null). Never call outside tests. */
export function __plantBugForTests(bug: PlantedBug | null): void {
  planted.replicaDropsMergedVersion = bug === 'replica-drops-merged-version';
}

/** True when the planted replica bug is on and drops `version` (dotted version vectors only). */
export function plantedDropOfMergedVersion(version: StoredVersion): boolean {
  if (!planted.replicaDropsMergedVersion) return false;
  const dot = decodeDvv(version.clock).dot;
  return hashString32(formatVersion(dot)) % DROPPED_DOT_ONE_IN === 0;
}
