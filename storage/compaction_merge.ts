/**
 * The compaction merge: a k-way merge of sorted SSTable scans into one new
 * table. For each key it unions the versions of every input, drops versions
 * dominated by another (through the `VersionOrder`), and purges a tombstone
 * only when all four hold:
 *
 *  - it is purgeable: every owner of the key is known to hold it (Riak's
 *    delete mode, issue 12). A timer alone is not enough: an owner that was
 *    down through the delete, or whose hint was lost, still holds the value
 *    the tombstone shadows and would bring it back through read repair once
 *    the tombstone is gone everywhere else. `requireConfirmation` false
 *    restores the timer-only rule (the planted bug 'timer-only-purge'), and
 *  - it is older than the grace period (Cassandra's gc_grace; the grace is
 *    at least the hint TTL, so no hint written before the delete, which
 *    would carry a value the tombstone shadows, can still be replayed), and
 *  - no table outside this compaction may hold the key (checked with their
 *    bloom filters), because purging the tombstone there would resurrect an
 *    older value it shadows, and
 *  - it does not shadow anything kept in this output (a purged tombstone
 *    must not let a dominated value come back).
 *
 * Never loses a live version: a value version leaves only when another
 * version dominates it. Two versions in conflict (one dot, two values; issue
 * 12) are both kept, counted and given to `rules.onConflict`. The property
 * test in test/storage/compaction.test.ts checks this against a model.
 */
import { assert } from '../src/core/assert.js';
import { hashPair } from '../src/core/hash.js';
import { SIBLINGS_STORED_MAX } from '../src/core/limits.js';
import type { VersionOrder } from '../src/core/version_order.js';
import { mergeSorted, type KeyedDotConflictHandler } from './merge_iterator.js';
import type { SSTableEntry } from './sstable_reader.js';
import type { Version } from './version.js';

/** Rules for one merge. */
export interface MergeRules {
  order: VersionOrder;
  /** The merge's notion of now (from the actor clock, passed in the task). */
  now_ms: number;
  /** Tombstones younger than this are kept. */
  tombstoneGrace_ms: number;
  /** True: only purgeable tombstones may be purged. False only with the planted bug 'timer-only-purge'. */
  requireConfirmation: boolean;
  /** True when a table outside the compaction may hold `key`. */
  mayExistElsewhere(key: Uint8Array, pair: readonly [number, number]): boolean;
  /** Told of each pair of versions in conflict (both are kept). */
  onConflict?: KeyedDotConflictHandler;
  /** A cleanup's filter: keys it refuses are not written out (`CompactionTask.keep`). */
  keep?: (key: Uint8Array) => boolean;
}

/** Where merged entries go (an SSTableWriter, or a model in tests). */
export interface MergeSink {
  append(key: Uint8Array, versions: readonly Version[]): Promise<void>;
}

/** What a merge did. */
export interface MergeStats {
  keysIn: number;
  keysOut: number;
  versionsIn: number;
  versionsOut: number;
  tombstonesPurged: number;
  /** Pairs of versions in conflict met (one dot, two values): each is an invariant violation. */
  dotConflicts: number;
}

/** Merge sorted `inputs` into `sink` in key order. */
export async function mergeTables(inputs: Iterable<SSTableEntry>[], sink: MergeSink, rules: MergeRules): Promise<MergeStats> {
  const stats: MergeStats = { keysIn: 0, keysOut: 0, versionsIn: 0, versionsOut: 0, tombstonesPurged: 0, dotConflicts: 0 };
  const onConflict: KeyedDotConflictHandler = (key, a, b) => {
    stats.dotConflicts++;
    rules.onConflict?.(key, a, b);
  };
  for (const entry of mergeSorted(inputs, rules.order, onConflict)) {
    stats.keysIn += entry.sourceEntries;
    stats.versionsIn += entry.versionsIn;
    if (rules.keep !== undefined && !rules.keep(entry.key)) continue; // not replicated here any more: cleaned up
    const kept = purgeTombstones(entry.key, entry.versions, rules, stats);
    if (kept.length === 0) continue;
    assert(kept.length <= SIBLINGS_STORED_MAX, 'merged siblings stay within SIBLINGS_STORED_MAX');
    stats.keysOut++;
    stats.versionsOut += kept.length;
    await sink.append(entry.key, kept);
  }
  return stats;
}

/** Drop tombstones that are safe to forget (see the file comment). */
function purgeTombstones(key: Uint8Array, versions: Version[], rules: MergeRules, stats: MergeStats): Version[] {
  const cutoff = rules.now_ms - rules.tombstoneGrace_ms;
  const purged = (v: Version): boolean => v.value === null && v.ts_ms < cutoff && (v.purgeable === true || !rules.requireConfirmation);
  if (!versions.some(purged)) return versions;
  if (rules.mayExistElsewhere(key, hashPair(key))) return versions;
  // After reconcile, no kept version is dominated by a kept tombstone, so a
  // purged tombstone cannot let anything in this output come back.
  const kept = versions.filter((v) => !purged(v));
  stats.tombstonesPurged += versions.length - kept.length;
  return kept;
}
