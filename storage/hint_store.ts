/**
 * The hinted-handoff store (Dynamo 2007, section 4.6): writes a substitute
 * node accepted on behalf of a failed owner wait here, durably, until the
 * owner is seen alive again, are replayed to it, and are deleted. This is the
 * only module of ringkv that imports `lmdb`.
 *
 * One LMDB environment per node, at `<dir>/hints.mdb`, with two named
 * databases:
 *
 * `hints`: one entry per hint. The LMDB key sorts a node's hints by owner,
 * then by a sequence number that grows across the whole store and survives
 * reopen, so a range scan over one owner's prefix returns its hints in
 * insertion order (LMDB compares keys bytewise; big-endian integers sort
 * numerically). The length prefix keeps "node-1" and "node-10" apart.
 *
 * ```
 *  key:  +------------+------------------+----------------------+
 *        | owner_len  | owner (UTF-8)    | seq (u64 BE)         |
 *        | u8, 1..255 | owner_len bytes  | 8 bytes, < 2^53      |
 *        +------------+------------------+----------------------+
 *
 *  value (compact binary, all integers big-endian):
 *    0   u32  checksum   xxh32 (src/core/hash.ts checksum) of key ‖ value[4..]
 *    4   u8   format     HINT_FORMAT_VERSION
 *    5   f64  created_ms  when the hint was added (the injected clock)
 *   13   u16  key_len, then key_len bytes of the data key
 *        u16  version_count (1..SIBLINGS_MAX), then per version:
 *             u16 clock_len, clock bytes,
 *             u8  kind (0 tombstone, 1 value),
 *             u32 value_len (0 for a tombstone), value bytes,
 *             f64 ts_ms
 * ```
 *
 * A compact hand-written layout rather than msgpack: it is small, it has no
 * shared-structure state to lose, and the checksum covers exact bytes. LMDB
 * keeps no checksums of its own, so the checksum (which also covers the LMDB
 * key, so a value found under the wrong key is caught too) is verified on
 * every read; a mismatch is a `CorruptionError`.
 *
 * `meta`: `next_seq` as u64 BE ‖ u32 checksum, written in the same
 * transaction as every add, so sequence numbers never repeat even after all
 * hints were delivered and deleted.
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
import { CorruptionError, InvalidRequestError, OverloadedError } from '../src/core/errors.js';
import { checksum } from '../src/core/hash.js';
import {
  CLOCK_MAX_BYTES,
  HINT_MAX_AGE_MS,
  HINT_STORE_MAX_BYTES,
  KEY_MAX_BYTES,
  SCAN_PAGE_MAX_ENTRIES,
  SIBLINGS_MAX,
  VALUE_MAX_BYTES,
} from '../src/core/limits.js';
import type { StoredVersion } from './version.js';

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

/** One stored hint: versions of `key` that `owner` should have received. */
export interface Hint {
  /** Store-wide sequence number; increasing in insertion order. */
  id: number;
  /** Node id of the intended owner. */
  owner: string;
  /** The data key. */
  key: Uint8Array;
  /** The versions to hand over, as the coordinator gave them. */
  versions: StoredVersion[];
  /** When the hint was added (injected clock, ms). */
  created_ms: number;
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

/** Version byte of the value layout above; bump it when the layout changes. */
const HINT_FORMAT_VERSION = 1;
/** Bytes of the fixed value header: checksum, format, created_ms. */
const VALUE_HEADER_BYTES = 13;
/** Bytes of a big-endian sequence number at the end of a key. */
const SEQ_BYTES = 8;
/** Longest owner id, in UTF-8 bytes: its length is one byte in the key. */
const OWNER_MAX_BYTES = 255;
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
export class HintStore {
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
  async add(owner: string, key: Uint8Array, versions: readonly StoredVersion[]): Promise<number> {
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

/** `owner_len ‖ owner`, the prefix shared by all of an owner's keys. */
function ownerPrefix(owner: string): Uint8Array {
  const bytes = new TextEncoder().encode(owner);
  assert(bytes.length > 0 && bytes.length <= OWNER_MAX_BYTES, 'owner id is 1..255 UTF-8 bytes');
  const prefix = new Uint8Array(1 + bytes.length);
  prefix[0] = bytes.length;
  prefix.set(bytes, 1);
  return prefix;
}

/** The LMDB key of hint `seq` under `prefix`. */
function hintKey(prefix: Uint8Array, seq: number): Buffer {
  assert(Number.isSafeInteger(seq) && seq >= 0, 'sequence numbers are safe non-negative integers');
  const key = Buffer.alloc(prefix.length + SEQ_BYTES);
  key.set(prefix, 0);
  key.writeBigUInt64BE(BigInt(seq), prefix.length);
  return key;
}

/** Range-scan bounds covering `prefix`'s keys from `from_seq` on (the end is exclusive). */
function ownerRange(prefix: Uint8Array, from_seq: number): { start: Buffer; end: Buffer } {
  const end = Buffer.alloc(prefix.length + SEQ_BYTES, 0xff);
  end.set(prefix, 0);
  return { start: hintKey(prefix, from_seq), end };
}

/** Split an LMDB key into owner and sequence; null when its shape is wrong. */
function parseHintKey(key: Uint8Array): { owner: string; seq: number } | null {
  const owner_len = key[0];
  if (owner_len === undefined || owner_len === 0 || key.length !== 1 + owner_len + SEQ_BYTES) return null;
  const view = new DataView(key.buffer, key.byteOffset, key.length);
  const seq = view.getBigUint64(1 + owner_len);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { owner: new TextDecoder().decode(key.subarray(1, 1 + owner_len)), seq: Number(seq) };
}

/** Checksum of `lmdb_key ‖ value[4..]`, the bytes the stored checksum covers. */
function entryChecksum(lmdb_key: Uint8Array, value: Uint8Array): number {
  const covered = new Uint8Array(lmdb_key.length + value.length - 4);
  covered.set(lmdb_key, 0);
  covered.set(value.subarray(4), lmdb_key.length);
  return checksum(covered);
}

/** Write the checksum into `body` now that its LMDB key is known. */
function sealBody(lmdb_key: Uint8Array, body: Uint8Array): void {
  new DataView(body.buffer, body.byteOffset, body.length).setUint32(0, entryChecksum(lmdb_key, body));
}

/** The hint's created_ms if its header and checksum hold, else null. */
function verifiedCreatedMs(lmdb_key: Uint8Array, value: Uint8Array): number | null {
  if (value.length < VALUE_HEADER_BYTES) return null;
  const view = new DataView(value.buffer, value.byteOffset, value.length);
  if (view.getUint32(0) !== entryChecksum(lmdb_key, value)) return null;
  if (view.getUint8(4) !== HINT_FORMAT_VERSION) return null;
  return view.getFloat64(5);
}

/** Encode everything but the checksum (left zero until `sealBody`). Validates sizes. */
function encodeBody(created_ms: number, key: Uint8Array, versions: readonly StoredVersion[]): Uint8Array {
  assert(Number.isFinite(created_ms), 'now() returns finite milliseconds');
  if (key.length > KEY_MAX_BYTES) throw new InvalidRequestError(`key of ${key.length} bytes exceeds ${KEY_MAX_BYTES}`);
  if (versions.length === 0 || versions.length > SIBLINGS_MAX) {
    throw new InvalidRequestError(`a hint carries 1..${SIBLINGS_MAX} versions, got ${versions.length}`);
  }
  let size = VALUE_HEADER_BYTES + 2 + key.length + 2;
  for (const version of versions) {
    if (version.clock.length > CLOCK_MAX_BYTES) {
      throw new InvalidRequestError(`clock of ${version.clock.length} bytes exceeds ${CLOCK_MAX_BYTES}`);
    }
    const value_len = version.value?.length ?? 0;
    if (value_len > VALUE_MAX_BYTES) throw new InvalidRequestError(`value of ${value_len} bytes exceeds ${VALUE_MAX_BYTES}`);
    size += 2 + version.clock.length + 1 + 4 + value_len + 8;
  }
  const body = new Uint8Array(size);
  const view = new DataView(body.buffer);
  view.setUint8(4, HINT_FORMAT_VERSION);
  view.setFloat64(5, created_ms);
  let at = VALUE_HEADER_BYTES;
  view.setUint16(at, key.length);
  body.set(key, at + 2);
  at += 2 + key.length;
  view.setUint16(at, versions.length);
  at += 2;
  for (const version of versions) {
    view.setUint16(at, version.clock.length);
    body.set(version.clock, at + 2);
    at += 2 + version.clock.length;
    view.setUint8(at, version.value === null ? 0 : 1);
    view.setUint32(at + 1, version.value?.length ?? 0);
    at += 5;
    if (version.value !== null) body.set(version.value, at);
    at += version.value?.length ?? 0;
    view.setFloat64(at, version.ts_ms);
    at += 8;
  }
  assert(at === size, 'encoded hint fills its buffer exactly');
  return body;
}

/** Decode a checksum-verified value; a structural mismatch is still corruption (pair check with `encodeBody`). */
function decodeBody(location: string, value: Uint8Array): Omit<Hint, 'id' | 'owner'> {
  const bytes = new Uint8Array(value.buffer, value.byteOffset, value.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const need = (at: number, n: number): void => {
    if (at + n > bytes.length) throw new CorruptionError(location, at, 'hint value shorter than its fields say');
  };
  let at = VALUE_HEADER_BYTES;
  need(at, 2);
  const key_len = view.getUint16(at);
  need(at + 2, key_len + 2);
  const key = bytes.slice(at + 2, at + 2 + key_len);
  at += 2 + key_len;
  const version_count = view.getUint16(at);
  at += 2;
  if (version_count === 0 || version_count > SIBLINGS_MAX) throw new CorruptionError(location, at, 'bad version count');
  const versions: StoredVersion[] = [];
  for (let i = 0; i < version_count; i++) {
    need(at, 2);
    const clock_len = view.getUint16(at);
    need(at + 2, clock_len + 5);
    const clock = bytes.slice(at + 2, at + 2 + clock_len);
    at += 2 + clock_len;
    const kind = view.getUint8(at);
    const value_len = view.getUint32(at + 1);
    at += 5;
    if (kind > 1 || (kind === 0 && value_len !== 0)) throw new CorruptionError(location, at, 'bad version kind');
    need(at, value_len + 8);
    const stored = kind === 0 ? null : bytes.slice(at, at + value_len);
    at += value_len;
    versions.push({ clock, value: stored, ts_ms: view.getFloat64(at) });
    at += 8;
  }
  if (at !== bytes.length) throw new CorruptionError(location, at, 'trailing bytes after the last version');
  return { key, versions, created_ms: view.getFloat64(5) };
}

/** `next_seq` as u64 BE ‖ checksum of those 8 bytes. */
function encodeSeqRecord(seq: number): Buffer {
  const record = Buffer.alloc(SEQ_BYTES + 4);
  record.writeBigUInt64BE(BigInt(seq), 0);
  record.writeUInt32BE(checksum(record.subarray(0, SEQ_BYTES)), SEQ_BYTES);
  return record;
}

/** Inverse of `encodeSeqRecord`, verifying its checksum. */
function decodeSeqRecord(location: string, record: Buffer): number {
  if (record.length !== SEQ_BYTES + 4 || record.readUInt32BE(SEQ_BYTES) !== checksum(record.subarray(0, SEQ_BYTES))) {
    throw new CorruptionError(location, -1, 'the next_seq record fails its checksum');
  }
  const seq = record.readBigUInt64BE(0);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptionError(location, -1, 'next_seq out of range');
  return Number(seq);
}
