/**
 * An in-memory `HintStorage` with the semantics of the LMDB `HintStore`
 * (Dynamo 2007, section 4.6): per-owner insertion order, store-wide ids that
 * never repeat, a byte cap that refuses with `OverloadedError`, a maximum age
 * on an injected clock, the same counters, and the same bounded work per call.
 * It does no I/O. The deterministic simulator uses it: a test keeps one
 * instance per simulated node and hands the same object to the restarted
 * handoff actor, so hints survive a simulated crash as they survive a real
 * one on disk (the way `SimFileSystem` stands in for the disk).
 *
 * Bytes are counted exactly as the LMDB store counts them (its key plus its
 * encoded value, from `hint_record.ts`), so the cap bites at the same point
 * in both; `encodeBody` also gives the same `InvalidRequestError`s. There are
 * no stored bytes to rot, so `iterate` never throws `CorruptionError` and
 * `dropCorrupt` drops nothing.
 *
 * Writes apply at the call and resolve at once; `add` and `iterate` copy
 * their data, so neither the caller nor a reader can alter a stored hint.
 *
 * Thread contract: one thread only (the simulator's).
 */
import { assert } from '../src/core/assert.js';
import { OverloadedError } from '../src/core/errors.js';
import { HINT_MAX_AGE_MS, HINT_STORE_MAX_BYTES, SCAN_PAGE_MAX_ENTRIES } from '../src/core/limits.js';
import { encodeBody, hintKey, ownerPrefix, type Hint } from './hint_record.js';
import type { ExpireResult, HintBatch, HintStorage } from './hint_storage.js';
import type { Version } from './version.js';

/** How to build a memory hint store. */
export interface MemoryHintStoreOptions {
  /** The clock, in ms (actor context or simulator). */
  now: () => number;
  /** Hints older than this are never returned and are purged. Default `HINT_MAX_AGE_MS`. */
  max_age_ms?: number;
  /** Key plus value bytes stored before `add` refuses. Default `HINT_STORE_MAX_BYTES`. */
  max_bytes?: number;
}

/** One stored hint and the bytes it is counted for. */
interface Entry {
  /** The hint (owned by the store; copied out on read). */
  hint: Hint;
  /** Its key plus value bytes in the LMDB layout. */
  bytes: number;
}

/** The in-memory hint store. See the file header. */
export class MemoryHintStore implements HintStorage {
  /** Age past which hints are dead. */
  readonly max_age_ms: number;
  /** Byte cap of the whole store. */
  readonly max_bytes: number;
  /** The injected clock. */
  private readonly now: () => number;
  /** Hints per owner with at least one hint; each map is in id (= insertion) order. */
  private readonly byOwner = new Map<string, Map<number, Entry>>();
  /** Bytes stored per owner with at least one hint. */
  private readonly ownerBytes = new Map<string, number>();
  /** Hints stored in all. */
  private total_count = 0;
  /** Bytes stored in all. */
  private total_bytes = 0;
  /** Id the next add takes. */
  private next_seq = 0;
  /** Set by `close()`; every later call is a programmer error. */
  private closed = false;

  constructor(options: MemoryHintStoreOptions) {
    this.now = options.now;
    this.max_age_ms = options.max_age_ms ?? HINT_MAX_AGE_MS;
    this.max_bytes = options.max_bytes ?? HINT_STORE_MAX_BYTES;
    assert(this.max_age_ms > 0 && this.max_bytes > 0, 'hint store bounds must be positive');
  }

  async add(owner: string, key: Uint8Array, versions: readonly Version[]): Promise<number> {
    this.assertOpen();
    const created_ms = this.now();
    const body = encodeBody(created_ms, key, versions);
    const entry_bytes = hintKey(ownerPrefix(owner), this.next_seq).length + body.length;
    if (this.total_bytes + entry_bytes > this.max_bytes) {
      throw new OverloadedError(
        `memory hint store (${this.total_bytes} of ${this.max_bytes} bytes used, a hint of ${entry_bytes} bytes ` +
          `for ${owner} does not fit; fail the write over to another replica or count it as not acknowledged, ` +
          'and let hint replay or expire() free space)',
      );
    }
    const id = this.next_seq;
    this.next_seq += 1;
    const hint: Hint = { id, owner, key: new Uint8Array(key), versions: versions.map(copyVersion), created_ms };
    let entries = this.byOwner.get(owner);
    if (entries === undefined) {
      entries = new Map();
      this.byOwner.set(owner, entries);
    }
    entries.set(id, { hint, bytes: entry_bytes });
    this.tally(owner, 1, entry_bytes);
    return id;
  }

  iterate(owner: string, limit: number, after_id = -1): HintBatch {
    this.assertOpen();
    assert(Number.isInteger(limit) && limit > 0 && limit <= SCAN_PAGE_MAX_ENTRIES, 'iterate limit in 1..SCAN_PAGE_MAX_ENTRIES');
    ownerPrefix(owner); // The same owner-id check as the LMDB store.
    const now_ms = this.now();
    const hints: Hint[] = [];
    let examined = 0;
    for (const { hint } of this.byOwner.get(owner)?.values() ?? []) {
      if (hint.id <= after_id) continue; // LMDB seeks past these; a map skips them.
      examined += 1;
      if (!this.isExpired(hint.created_ms, now_ms)) hints.push(copyHint(hint));
      if (hints.length >= limit || examined >= SCAN_PAGE_MAX_ENTRIES) return { hints, resume_after: hint.id };
    }
    return { hints, resume_after: null };
  }

  async delete(owner: string, ids: readonly number[]): Promise<number> {
    this.assertOpen();
    assert(ids.length <= SCAN_PAGE_MAX_ENTRIES, 'delete at most SCAN_PAGE_MAX_ENTRIES ids per call');
    for (const id of ids) assert(Number.isSafeInteger(id) && id >= 0, 'a hint id is a non-negative integer');
    const entries = this.byOwner.get(owner);
    let deleted = 0;
    for (const id of ids) {
      const entry = entries?.get(id);
      if (entries === undefined || entry === undefined) continue;
      entries.delete(id);
      this.tally(owner, -1, -entry.bytes);
      deleted += 1;
    }
    return deleted;
  }

  async expire(): Promise<ExpireResult> {
    this.assertOpen();
    const now_ms = this.now();
    let budget = SCAN_PAGE_MAX_ENTRIES;
    let purged = 0;
    for (const owner of this.owners()) {
      const entries = this.byOwner.get(owner);
      assert(entries !== undefined, 'owners() lists owners with hints');
      for (const [id, entry] of entries) {
        if (budget === 0) return { purged, more: true };
        budget -= 1;
        if (!this.isExpired(entry.hint.created_ms, now_ms)) break;
        entries.delete(id);
        this.tally(owner, -1, -entry.bytes);
        purged += 1;
      }
    }
    return { purged, more: false };
  }

  async dropCorrupt(owner: string): Promise<number> {
    this.assertOpen();
    ownerPrefix(owner);
    return 0; // Nothing stored here can fail a checksum: there are no stored bytes.
  }

  count(owner: string): number {
    return this.byOwner.get(owner)?.size ?? 0;
  }

  bytes(owner: string): number {
    return this.ownerBytes.get(owner) ?? 0;
  }

  totalCount(): number {
    return this.total_count;
  }

  totalBytes(): number {
    return this.total_bytes;
  }

  owners(): string[] {
    return [...this.byOwner.keys()].sort();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // -------------------------------------------------------------------------
  // Helpers
  // -------------------------------------------------------------------------

  /** Apply a counter delta for `owner`, dropping owners that reach zero hints. */
  private tally(owner: string, count: number, bytes: number): void {
    const next_bytes = (this.ownerBytes.get(owner) ?? 0) + bytes;
    const next_count = this.count(owner);
    assert(next_count >= 0 && next_bytes >= 0, 'hint counters never go negative');
    assert((next_count === 0) === (next_bytes === 0), 'no hints means no bytes');
    if (next_count === 0) {
      this.byOwner.delete(owner);
      this.ownerBytes.delete(owner);
    } else this.ownerBytes.set(owner, next_bytes);
    this.total_count += count;
    this.total_bytes += bytes;
    assert(this.total_count >= 0 && this.total_bytes >= 0 && this.total_bytes <= this.max_bytes, 'totals stay within 0..cap');
  }

  /** Whether a hint created at `created_ms` is past the maximum age at `now_ms`. */
  private isExpired(created_ms: number, now_ms: number): boolean {
    return now_ms - created_ms > this.max_age_ms;
  }

  private assertOpen(): void {
    assert(!this.closed, 'hint store used after close()');
  }
}

/** A deep copy of one version. */
function copyVersion(version: Version): Version {
  // new Uint8Array(x) copies into a plain Uint8Array (a Buffer's slice would stay a Buffer), as the LMDB store decodes.
  return { clock: new Uint8Array(version.clock), value: version.value === null ? null : new Uint8Array(version.value), ts_ms: version.ts_ms };
}

/** A deep copy of one hint. */
function copyHint(hint: Hint): Hint {
  return { ...hint, key: new Uint8Array(hint.key), versions: hint.versions.map(copyVersion) };
}
