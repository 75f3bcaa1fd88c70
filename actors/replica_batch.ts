/**
 * A replica's per-key work on its engine, shared by the lone messages and
 * the batches of a coordinator (issue 14): the reads of a `get-batch`, the
 * merges of a `merge-batch`, each with its own outcome; and the bounded
 * pages of a scan (`scan`, `tree-scan`).
 *
 * Thread contract: the replica actor's.
 */
import { toErrorRecord, type Outcome } from '../src/core/errors.js';
import { TRANSFER_PAGE_EXAMINE_MAX, TRANSFER_PAGE_MAX_KEYS } from '../src/core/limits.js';
import { inRanges, type RingRange } from '../src/core/ring_change.js';
import { treeDigestOf } from '../src/core/sibling_digest.js';
import { keyPosition } from '../src/core/tokens.js';
import { plantedDropOfMergedVersion } from '../src/core/planted_bugs.js';
import type { StorageEngine } from '../storage/engine.js';
import type { Version } from '../storage/version.js';
import type { MergeEntry } from './replica.js';
import { durableView } from './replica_mint.js';
import { damagedAnswer } from './table_health.js';

/** The `get` of each key; keys with a write waiting for its fsync (batch sync) wait for it, the others answer at once. */
export async function getMany(engine: StorageEngine, keys: readonly Uint8Array[], dir: string): Promise<Outcome<Version[]>[]> {
  const outcomes: Outcome<Version[]>[] = new Array(keys.length);
  let waits: Promise<void>[] | null = null;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const read = (): void => {
      try {
        outcomes[i] = { ok: readNow(engine, key) };
      } catch (err) {
        outcomes[i] = { error: toErrorRecord(err) };
      }
    };
    if (engine.whenDurable(key) === null) read();
    else (waits ??= []).push(durableView(engine, key, dir).then(read, (err: unknown) => void (outcomes[i] = { error: toErrorRecord(err) })));
  }
  if (waits !== null) await Promise.all(waits);
  return outcomes;
}

/**
 * What this replica holds of `key`, now. A table that may hold the key is
 * damaged: the answer may lack versions, so it is refused, typed
 * (`damagedAnswer`), and the coordinator counts it as no answer and repairs
 * the key here (read repair).
 */
export function readNow(engine: StorageEngine, key: Uint8Array): Version[] {
  let damaged: string | undefined;
  const versions = engine.get(key, (path) => (damaged = path));
  if (damaged !== undefined) throw damagedAnswer(damaged);
  return versions;
}

/**
 * Store every entry's versions, all handed to the engine on this turn (one
 * commit-log group); each entry's outcome once its versions are stored.
 */
export async function mergeMany(engine: StorageEngine, entries: readonly MergeEntry[]): Promise<Outcome<true>[]> {
  const outcomes: Outcome<true>[] = new Array(entries.length);
  const stores: Promise<void>[] = [];
  for (let i = 0; i < entries.length; i++) {
    const { key, versions } = entries[i]!;
    outcomes[i] = STORED;
    for (const version of versions) {
      // Test-only planted bug (src/core/planted_bugs.ts, off unless a test plants it): ack but drop some versions.
      if (plantedDropOfMergedVersion(version)) continue;
      stores.push(engine.put(key, version).catch((err: unknown) => void (outcomes[i] = { error: toErrorRecord(err) })));
    }
  }
  await Promise.all(stores);
  return outcomes;
}

/** A merge-batch entry stored (shared: outcomes are read, never changed). */
const STORED: Outcome<true> = { ok: true };

/** A page of a range scan. */
export interface ScanPage {
  entries: { key: Uint8Array; versions: Version[] }[];
  /** Where the next page starts, or null at the end of the range. */
  next: Uint8Array | null;
}

/** A `tree-scan` page: `followed` false when the replica does not follow that rebuild (start it again). */
export interface TreeScanPage extends ScanPage {
  followed: boolean;
}

/** A page of the (key, digest) pairs of the keys in some ring ranges (a transfer's listing, issue 16). */
export interface RangeDigestsPage {
  /** Keys in order, each with its sibling digest (`treeDigestOf`). */
  entries: [key: Uint8Array, digest: number][];
  /** Where the next page starts, or null when `to` (or the end) was reached: the page covers [from, next). */
  next: Uint8Array | null;
}

/**
 * One bounded page of the keys from `from` (inclusive) to `to` (exclusive)
 * whose ring position is in `ranges`, with their digests: at most
 * TRANSFER_PAGE_MAX_KEYS pairs, and at most TRANSFER_PAGE_EXAMINE_MAX keys
 * looked at, so a page is short whatever share of the store the ranges are.
 */
export function rangeDigestsPage(engine: StorageEngine, ranges: readonly RingRange[], from: Uint8Array | undefined, to: Uint8Array | undefined): RangeDigestsPage {
  const entries: RangeDigestsPage['entries'] = [];
  let examined = 0;
  for (const entry of engine.scan(from, to)) {
    if (entries.length === TRANSFER_PAGE_MAX_KEYS || examined === TRANSFER_PAGE_EXAMINE_MAX) return { entries, next: entry.key };
    examined++;
    if (!inRanges(ranges, keyPosition(entry.key))) continue;
    const digest = treeDigestOf(entry.versions);
    if (digest !== null) entries.push([entry.key, digest]);
  }
  return { entries, next: null };
}

/** One bounded page of a range scan. */
export function scanPage(engine: StorageEngine, from: Uint8Array | undefined, to: Uint8Array | undefined, limit: number): ScanPage {
  const entries: ScanPage['entries'] = [];
  for (const entry of engine.scan(from, to)) {
    if (entries.length === limit) return { entries, next: entry.key };
    entries.push({ key: entry.key, versions: [...entry.versions] });
  }
  return { entries, next: null };
}
