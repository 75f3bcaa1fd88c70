/**
 * The hint-storage seam (Dynamo 2007, section 4.6): what the hinted-handoff
 * actor needs from a store of hints, so that the same actor runs on the
 * durable LMDB store (`hint_store.ts`, real runtime) and on the in-memory
 * store (`memory_hint_store.ts`, the deterministic simulator and unit tests).
 * `test/storage/memory_hint_store.test.ts` runs one table of behavioural
 * cases against both, so they cannot drift apart.
 *
 * The contract every implementation keeps:
 *   - hints of one owner come back in insertion order (ids grow with every
 *     add, store-wide, and never repeat);
 *   - `add` is durable once its promise resolves, and then visible to
 *     `iterate`; a refused add changes nothing;
 *   - the store is bounded by a byte cap (key plus value bytes in the LMDB
 *     layout of `hint_record.ts`, so both stores count the same bytes);
 *   - time comes from an injected `now()`, never the system clock; hints
 *     older than the maximum age are never returned and `expire` purges them;
 *   - every call does bounded work (at most `SCAN_PAGE_MAX_ENTRIES` entries);
 *   - any call after `close()` is a programmer error (an assertion).
 *
 * Thread contract: an implementation is used from one thread only.
 */
import type { ExpireResult, HintBatch } from './hint_store.js';
import type { Version } from './version.js';

export type { ExpireResult, HintBatch } from './hint_store.js';
export type { Hint } from './hint_record.js';

/** A bounded, per-owner-ordered store of hints for owners that were down. */
export interface HintStorage {
  /** Hints older than this (ms since they were stored) are never returned and are purged. */
  readonly max_age_ms: number;

  /**
   * Store a hint for `owner`; resolves to its id once it is durable. Rejects
   * with `OverloadedError` (naming the byte cap and what to do) when it does
   * not fit, with `InvalidRequestError` when the key or a version exceeds its
   * limit or `versions` is empty. A rejected add stores nothing.
   */
  add(owner: string, key: Uint8Array, versions: readonly Version[]): Promise<number>;

  /**
   * Up to `limit` (1..SCAN_PAGE_MAX_ENTRIES) unexpired hints of `owner` with
   * ids above `after_id`, in insertion order; examines at most
   * `SCAN_PAGE_MAX_ENTRIES` entries. Throws `CorruptionError` when a stored
   * hint fails verification (then call `dropCorrupt`).
   */
  iterate(owner: string, limit: number, after_id?: number): HintBatch;

  /**
   * Delete delivered hints of `owner` (at most SCAN_PAGE_MAX_ENTRIES ids);
   * ids not present, or of another owner, are ignored. Resolves to how many
   * were deleted.
   */
  delete(owner: string, ids: readonly number[]): Promise<number>;

  /**
   * Purge hints older than the maximum age, owner by owner from each one's
   * oldest, examining at most `SCAN_PAGE_MAX_ENTRIES` entries; `more` says
   * the budget ran out and another call has work to do.
   */
  expire(): Promise<ExpireResult>;

  /**
   * Delete `owner`'s hints that fail verification (within one scan page).
   * Resolves to how many were dropped; their data is left to read repair and
   * anti-entropy.
   */
  dropCorrupt(owner: string): Promise<number>;

  /** Hints stored for `owner` (expired ones included until purged). */
  count(owner: string): number;

  /** Key plus value bytes stored for `owner`. */
  bytes(owner: string): number;

  /** Hints stored for all owners. */
  totalCount(): number;

  /** Key plus value bytes stored for all owners; `add` refuses past the cap. */
  totalBytes(): number;

  /** Owners with at least one stored hint, sorted. */
  owners(): string[];

  /** Finish pending writes and release the store; idempotent. */
  close(): Promise<void>;
}
