/**
 * A k-way merge of sorted (key → versions) sources into one sorted stream,
 * reconciling each key's versions across sources. Used by range scans
 * (memtables + SSTables) and by compaction.
 *
 * Each source must yield strictly increasing keys (asserted). Sources are
 * few (memtables plus live tables), so a linear pass over the heads is
 * cheaper than a heap.
 */
import { assert } from '../src/core/assert.js';
import type { VersionOrder } from '../src/core/version_order.js';
import { compareKeys } from './key_order.js';
import { reconcile, type Version } from './version.js';

/** Told of two versions of `key` whose clocks name one write but different values (see `reconcile`). */
export type KeyedDotConflictHandler = (key: Uint8Array, a: Version, b: Version) => void;

/** One key with its versions. */
export interface KeyVersions {
  key: Uint8Array;
  versions: readonly Version[];
}

/** Merged entries in key order; `sourceEntries` counts how many sources held the key. */
export interface MergedEntry {
  key: Uint8Array;
  versions: Version[];
  sourceEntries: number;
  versionsIn: number;
}

/**
 * Merge sorted `sources`, reconciling versions of equal keys through `order`.
 * Versions in conflict (one dot, two values) are kept and given to `onConflict`.
 */
export function* mergeSorted(sources: Iterable<KeyVersions>[], order: VersionOrder, onConflict?: KeyedDotConflictHandler): Generator<MergedEntry> {
  const cursors = sources.map((source) => source[Symbol.iterator]());
  const heads: (KeyVersions | undefined)[] = cursors.map((cursor) => advance(cursor));
  try {
    for (;;) {
      let key: Uint8Array | undefined;
      for (const head of heads) if (head && (key === undefined || compareKeys(head.key, key) < 0)) key = head.key;
      if (key === undefined) return;
      const versions: Version[] = [];
      let sourceEntries = 0;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (!head || compareKeys(head.key, key) !== 0) continue;
        sourceEntries++;
        for (const v of head.versions) versions.push(v);
        const following = advance(cursors[i]!);
        assert(following === undefined || compareKeys(following.key, key) > 0, 'merge source is sorted and unique');
        heads[i] = following;
      }
      const report = onConflict === undefined ? undefined : (a: Version, b: Version): void => onConflict(key, a, b);
      const merged = sourceEntries === 1 && versions.length === 1 ? versions : reconcile(order, versions, report);
      yield { key, versions: merged, sourceEntries, versionsIn: versions.length };
    }
  } finally {
    for (const cursor of cursors) cursor.return?.();
  }
}

function advance(cursor: Iterator<KeyVersions>): KeyVersions | undefined {
  const step = cursor.next();
  return step.done ? undefined : step.value;
}
