/**
 * The hinted-handoff store (Dynamo 2007, section 4.6): writes a substitute
 * node accepted on behalf of a failed owner wait here, durably, until the
 * owner is seen alive again, are replayed to it, and are deleted. This is the
 * only module of ringkv that imports `lmdb`.
 *
 * One LMDB environment per node, at `<dir>/hints.mdb`, with two named
 * databases:
 *
 * `hints` holds one entry per hint, keyed so that a range scan over one
 * owner's prefix returns its hints in insertion order; `meta` holds the next
 * sequence number. The byte layouts of both, and the checksum that guards
 * every value, are in `hint_record.ts`.
 *
 * Counters (count and bytes per owner, and totals) live in memory; they are
 * recomputed by one scan at open (self-healing, no counter to drift) and kept
 * inside the write-transaction callbacks afterwards. "Bytes" are LMDB key plus
 * value bytes; LMDB page overhead is not counted.
 *
 * Writes are asynchronous: `add`, `delete`, `expire` and `dropCorrupt` run
 * as lmdb-js `transaction()` callbacks, which lmdb-js batches with the other
 * writes of the same event turn into one commit, flushed to disk off the JS
 * thread. A node takes a hint for every write to a down peer, so one fsync
 * per hint on the actor thread (`transactionSync`) would stall the node
 * exactly when it is under stress. Reads (`iterate`, the counters) are
 * synchronous, as lmdb-js reads are; a write is visible to `iterate` once its
 * promise has resolved.
 *
 * Time is never read from the system clock: the constructor takes `now()`.
 * Expiry assumes that clock does not run backwards (true of the actor and
 * simulator clocks): then each owner's expired hints are a prefix of its range.
 *
 * Thread contract: safe to use from one thread only (the node's worker); one
 * `HintStore` per directory per process.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { assert } from '../src/core/assert.js';
import { CorruptionError, OverloadedError } from '../src/core/errors.js';
import {
  HINT_MAX_AGE_MS,
  HINT_STORE_MAX_BYTES,
  SCAN_PAGE_MAX_ENTRIES,
} from '../src/core/limits.js';
import {
  decodeBody,
  decodeSeqRecord,
  encodeBody,
  encodeSeqRecord,
  hintKey,
  ownerPrefix,
  ownerRange,
  parseHintKey,
  sealBody,
  verifiedCreatedMs,
  type Hint,
} from './hint_record.js';
import type { HintStorage } from './hint_storage.js';
import type { Version } from './version.js';

export type { Hint } from './hint_record.js';

/** How to open a hint store. */
export interface HintStoreOptions {
  /** Directory of this node's hint environment; created if missing. */
  dir: string;
  /** The clock, in ms (actor context or simulator); never `Date.now` directly. */
  now: () => number;
  /** Hints older than this are never returned and are purged. Default `HINT_MAX_AGE_MS`. */
  max_age_ms?: number;
  /** Key plus value bytes stored before `add` refuses. Default `HINT_STORE_MAX_BYTES`. */
  max_bytes?: number;
}

/** A page of one owner's live hints, in insertion order. */
export interface HintBatch {
  /** Up to `limit` unexpired hints. */
  hints: Hint[];
  /** Last id examined (returned or skipped): pass as `after_id` to continue; null when the owner's range is exhausted. */
  resume_after: number | null;
}

/** What one `expire()` call purged. */
export interface ExpireResult {
  /** Hints deleted because they were older than `max_age_ms`. */
  purged: number;
  /** True when the scan budget ran out: call again. */
  more: boolean;
}

/** Key of the persisted next sequence number in `meta`. */
const META_NEXT_SEQ = 'next_seq';

/** Per-owner counters. */
interface OwnerTally {
  /** Hints stored for the owner. */
  count: number;
  /** Key plus value bytes of those hints. */
  bytes: number;
}

/** A durable, bounded, per-owner-ordered store of hints. See the file header. */
export class HintStore implements HintStorage {
  /** The environment directory. */
  readonly dir: string;
  /** Age past which hints are dead. */
  readonly max_age_ms: number;
  /** Byte cap of the whole store. */
  readonly max_bytes: number;
  /** The injected clock. */
  private readonly now: () => number;
  /** The LMDB environment. */
  private readonly root: RootDatabase;
  /** Hint entries (binary keys and values). */
  private readonly hints: Database<Buffer, Buffer>;
  /** Store metadata (the next sequence number). */
  private readonly meta: Database<Buffer, string>;
  /** Counters per owner with at least one hint. */
  private readonly tallies = new Map<string, OwnerTally>();
  /** Sum of all tallies. */
  private total: OwnerTally = { count: 0, bytes: 0 };
  /** Sequence number the next add takes. */
  private next_seq = 0;
  /** Set by `close()`; every later call is a programmer error. */
  private closed = false;

  /** Open (or create) the store in `options.dir` and recount its contents. */
  constructor(options: HintStoreOptions) {
    this.dir = options.dir;
    this.now = options.now;
    this.max_age_ms = options.max_age_ms ?? HINT_MAX_AGE_MS;
    this.max_bytes = options.max_bytes ?? HINT_STORE_MAX_BYTES;
    assert(this.max_age_ms > 0 && this.max_bytes > 0, 'hint store bounds must be positive');
    mkdirSync(this.dir, { recursive: true });
    // noSubdir: the environment is the single file hints.mdb (plus its lock file) inside dir.
    this.root = open({ path: join(this.dir, 'hints.mdb'), noSubdir: true, maxDbs: 4 });
    this.hints = this.root.openDB<Buffer, Buffer>('hints', { keyEncoding: 'binary', encoding: 'binary' });
    this.meta = this.root.openDB<Buffer, string>('meta', { encoding: 'binary' });
    this.recount();
  }

  /**
   * Store a hint for `owner`; resolves to its id once committed and flushed.
   * Rejects with `OverloadedError` when the store is full (the coordinator then
   * fails the write over or counts one ack fewer), with `InvalidRequestError`
   * when the key or a version exceeds its limit.
   */
  async add(owner: string, key: Uint8Array, versions: readonly Version[]): Promise<number> {
    this.assertOpen();
    const prefix = ownerPrefix(owner);
    const created_ms = this.now();
    const body = encodeBody(created_ms, key, versions);
    let applied = false;
    let id = -1;
    const outcome = await this.runWrite(
      () => {
        const lmdb_key = hintKey(prefix, this.next_seq);
        const entry_bytes = lmdb_key.length + body.length;
        if (this.total.bytes + entry_bytes > this.max_bytes) return entry_bytes;
        id = this.next_seq;
        this.next_seq += 1;
        sealBody(lmdb_key, body);
        void this.hints.put(lmdb_key, Buffer.from(body.buffer, body.byteOffset, body.length));
        void this.meta.put(META_NEXT_SEQ, encodeSeqRecord(this.next_seq));
        this.tally(owner, 1, entry_bytes);
        applied = true;
        return 0;
      },
      () => {
        if (applied) this.tally(owner, -1, -(hintKey(prefix, id).length + body.length));
      },
    );
    if (outcome > 0) {
      throw new OverloadedError(
        `hint store ${this.dir} (${this.total.bytes} of ${this.max_bytes} bytes used, a hint of ${outcome} bytes ` +
          `for ${owner} does not fit; fail the write over to another replica or count it as not acknowledged, ` +
          'and let hint replay or expire() free space)',
      );
    }
    await this.root.flushed;
    assert(id >= 0, 'an accepted hint has an id');
    return id;
  }

  /**
   * Up to `limit` unexpired hints of `owner` with ids above `after_id`, in
   * insertion order, each checksum-verified (`CorruptionError` on mismatch).
   * Examines at most `SCAN_PAGE_MAX_ENTRIES` entries per call.
   */
  iterate(owner: string, limit: number, after_id = -1): HintBatch {
    this.assertOpen();
    assert(Number.isInteger(limit) && limit > 0 && limit <= SCAN_PAGE_MAX_ENTRIES, 'iterate limit in 1..SCAN_PAGE_MAX_ENTRIES');
    const prefix = ownerPrefix(owner);
    const now_ms = this.now();
    const hints: Hint[] = [];
    let last_id: number | null = null;
    let examined = 0;
    for (const { key, value } of this.hints.getRange(ownerRange(prefix, after_id + 1))) {
      const hint = this.decodeVerified(owner, key, value);
      last_id = hint.id;
      examined += 1;
      if (!this.isExpired(hint.created_ms, now_ms)) hints.push(hint);
      if (hints.length >= limit || examined >= SCAN_PAGE_MAX_ENTRIES) return { hints, resume_after: last_id };
    }
    return { hints, resume_after: null };
  }

  /** Delete delivered hints of `owner`; ids not present are ignored (delivery acks may repeat). Resolves to how many were deleted. */
  async delete(owner: string, ids: readonly number[]): Promise<number> {
    this.assertOpen();
    assert(ids.length <= SCAN_PAGE_MAX_ENTRIES, 'delete at most SCAN_PAGE_MAX_ENTRIES ids per call');
    // Checked before the transaction so that a bad id cannot abort it halfway through.
    for (const id of ids) assert(Number.isSafeInteger(id) && id >= 0, 'a hint id is a non-negative integer');
    const prefix = ownerPrefix(owner);
    let deleted = 0;
    let deleted_bytes = 0;
    await this.runWrite(
      () => {
        for (const id of ids) {
          const lmdb_key = hintKey(prefix, id);
          const stored = this.hints.getBinaryFast(lmdb_key);
          if (stored === undefined) continue;
          deleted_bytes += lmdb_key.length + stored.length;
          deleted += 1;
          void this.hints.remove(lmdb_key);
        }
        this.tally(owner, -deleted, -deleted_bytes);
      },
      () => this.tally(owner, deleted, deleted_bytes),
    );
    return deleted;
  }

  /**
   * Purge hints older than `max_age_ms`, owner by owner from the oldest,
   * stopping at each owner's first live (or unreadable) hint; examines at most
   * `SCAN_PAGE_MAX_ENTRIES` entries per call.
   */
  async expire(): Promise<ExpireResult> {
    this.assertOpen();
    const now_ms = this.now();
    const removed = new Map<string, OwnerTally>();
    let more = false;
    await this.runWrite(
      () => {
        let budget = SCAN_PAGE_MAX_ENTRIES;
        owners: for (const owner of [...this.tallies.keys()]) {
          const prefix = ownerPrefix(owner);
          const doomed: Buffer[] = [];
          for (const { key, value } of this.hints.getRange(ownerRange(prefix, 0))) {
            if (budget === 0) {
              more = true;
              this.removeAll(owner, doomed, removed);
              break owners;
            }
            budget -= 1;
            const created_ms = verifiedCreatedMs(key, value);
            if (created_ms === null || !this.isExpired(created_ms, now_ms)) break;
            doomed.push(Buffer.from(key));
          }
          this.removeAll(owner, doomed, removed);
        }
      },
      () => {
        for (const [owner, gone] of removed) this.tally(owner, gone.count, gone.bytes);
      },
    );
    let purged = 0;
    for (const gone of removed.values()) purged += gone.count;
    return { purged, more };
  }

  /**
   * Delete the hints of `owner` whose checksum fails (within one scan page),
   * after `iterate` threw `CorruptionError`; their data is lost here and left
   * to read repair and anti-entropy. Resolves to how many were dropped.
   */
  async dropCorrupt(owner: string): Promise<number> {
    this.assertOpen();
    const prefix = ownerPrefix(owner);
    const removed = new Map<string, OwnerTally>();
    await this.runWrite(
      () => {
        const doomed: Buffer[] = [];
        for (const { key, value } of this.hints.getRange({ ...ownerRange(prefix, 0), limit: SCAN_PAGE_MAX_ENTRIES })) {
          if (verifiedCreatedMs(key, value) === null) doomed.push(Buffer.from(key));
        }
        this.removeAll(owner, doomed, removed);
      },
      () => {
        for (const [name, gone] of removed) this.tally(name, gone.count, gone.bytes);
      },
    );
    return removed.get(owner)?.count ?? 0;
  }

  /** Hints stored for `owner` (expired ones count until purged). */
  count(owner: string): number {
    return this.tallies.get(owner)?.count ?? 0;
  }

  /** Key plus value bytes stored for `owner`. */
  bytes(owner: string): number {
    return this.tallies.get(owner)?.bytes ?? 0;
  }

  /** Hints stored for all owners. */
  totalCount(): number {
    return this.total.count;
  }

  /** Key plus value bytes stored for all owners; `add` refuses past `max_bytes`. */
  totalBytes(): number {
    return this.total.bytes;
  }

  /** Owners with at least one stored hint, sorted. */
  owners(): string[] {
    return [...this.tallies.keys()].sort();
  }

  /** Wait for pending writes and close the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.flushed;
    await this.root.close();
  }

  // -------------------------------------------------------------------------
  // Helpers
  // -------------------------------------------------------------------------

  /**
   * Run `body` as an lmdb-js async transaction callback (it runs inside the
   * write transaction, so its reads see earlier writes and its counter updates
   * happen in commit order). If the commit then fails, `undo` reverts the
   * counters before the error propagates.
   */
  private async runWrite<T>(body: () => T, undo: () => void): Promise<T> {
    let ran = false;
    try {
      return await this.hints.transaction(() => {
        ran = true;
        return body();
      });
    } catch (err) {
      if (ran) undo();
      throw err;
    }
  }

  /** Delete `keys` of `owner` inside the current write transaction and record what went. */
  private removeAll(owner: string, keys: readonly Buffer[], removed: Map<string, OwnerTally>): void {
    if (keys.length === 0) return;
    let bytes = 0;
    for (const key of keys) {
      const stored = this.hints.getBinaryFast(key);
      assert(stored !== undefined, 'a key just scanned is present');
      bytes += key.length + stored.length;
      void this.hints.remove(key);
    }
    this.tally(owner, -keys.length, -bytes);
    const prior = removed.get(owner) ?? { count: 0, bytes: 0 };
    removed.set(owner, { count: prior.count + keys.length, bytes: prior.bytes + bytes });
  }

  /** Scan every entry once: rebuild the counters and the next sequence number. */
  private recount(): void {
    this.tallies.clear();
    this.total = { count: 0, bytes: 0 };
    let max_seq = -1;
    // Unbounded by a page limit on purpose: the entries are bounded by max_bytes, and counters must be exact.
    for (const { key, value } of this.hints.getRange({})) {
      const parsed = parseHintKey(key);
      if (parsed === null) throw new CorruptionError(this.dir, -1, `malformed hint key of ${key.length} bytes`);
      this.tally(parsed.owner, 1, key.length + value.length);
      max_seq = Math.max(max_seq, parsed.seq);
    }
    const record = this.meta.getBinary(META_NEXT_SEQ);
    const persisted = record === undefined ? 0 : decodeSeqRecord(this.dir, record);
    this.next_seq = Math.max(persisted, max_seq + 1);
  }

  /** Apply a counter delta for `owner`, dropping owners that reach zero. */
  private tally(owner: string, count: number, bytes: number): void {
    const prior = this.tallies.get(owner) ?? { count: 0, bytes: 0 };
    const next = { count: prior.count + count, bytes: prior.bytes + bytes };
    assert(next.count >= 0 && next.bytes >= 0, 'hint counters never go negative');
    assert((next.count === 0) === (next.bytes === 0), 'no hints means no bytes');
    if (next.count === 0) this.tallies.delete(owner);
    else this.tallies.set(owner, next);
    this.total = { count: this.total.count + count, bytes: this.total.bytes + bytes };
  }

  /** Decode one entry of `owner`, verifying key shape and checksum. */
  private decodeVerified(owner: string, key: Buffer, value: Buffer): Hint {
    const parsed = parseHintKey(key);
    assert(parsed !== null && parsed.owner === owner, 'a range scan stays within the owner prefix');
    if (verifiedCreatedMs(key, value) === null) {
      throw new CorruptionError(this.dir, -1, `hint ${parsed.seq} for ${owner} fails its checksum (drop it with dropCorrupt)`);
    }
    return { id: parsed.seq, owner, ...decodeBody(this.dir, value) };
  }

  /** Whether a hint created at `created_ms` is past the maximum age at `now_ms`. */
  private isExpired(created_ms: number, now_ms: number): boolean {
    return now_ms - created_ms > this.max_age_ms;
  }

  private assertOpen(): void {
    assert(!this.closed, 'hint store used after close()');
  }
}

// ---------------------------------------------------------------------------
// Byte layout
// ---------------------------------------------------------------------------
