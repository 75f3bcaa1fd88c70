/**
 * The manifest: the one file that says which SSTables are live, which file
 * number comes next, and from which commit-log segment replay must start.
 * A table file exists on disk before the manifest names it and is removed only
 * after the manifest stops naming it, so the manifest alone defines the store.
 *
 * Every change is atomic (after LevelDB's CURRENT and Pebble's manifest
 * swap): the whole new state is written to `MANIFEST.tmp`, fsynced, renamed
 * over `MANIFEST`, and the directory fsynced. A crash at any point leaves
 * either the old or the new manifest, never a mix, so a crash mid-flush or
 * mid-compaction leaves a consistent table set (at worst an orphan table file,
 * which `orphanTables` finds).
 *
 * File layout (little-endian):
 *
 *   +-----------+------------+-----------------+---------+--------------+
 *   | u32 magic | u32 format | u32 payload len | payload | u32 checksum |
 *   +-----------+------------+-----------------+---------+--------------+
 *   checksum = checksum(every byte before it)
 *
 *   payload = u64 sequence | u64 next file number | u64 commit-log replay
 *             segment | u32 table count | table ...
 *   table   = u64 file number | u64 file bytes | u64 entry count |
 *             f64 min ts_ms | f64 max ts_ms |
 *             u16 min key len | min key | u16 max key len | max key
 *
 * Thread contract: one thread only; `apply` calls are serialized internally.
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError } from '../src/core/errors.js';
import { checksum } from '../src/core/hash.js';
import { KEY_MAX_BYTES, MANIFEST_TABLES_MAX } from '../src/core/limits.js';
import { joinPath, type FileSystem } from './fs.js';
import { compareKeys } from './key_order.js';
import { getU64, setU64, type SSTableMeta } from './sstable_format.js';

/** Name of the manifest file in the store directory. */
export const MANIFEST_FILE = 'MANIFEST';
/** Name of the manifest being written, renamed over `MANIFEST_FILE` once durable. */
export const MANIFEST_TEMP_FILE = 'MANIFEST.tmp';
/** SSTable file names end with this. */
export const SSTABLE_SUFFIX = '.sst';

/** "RKMF" as a little-endian u32. */
const MANIFEST_MAGIC = 0x464d4b52;
const MANIFEST_FORMAT_VERSION = 1;
const HEADER_BYTES = 12;
const TRAILER_BYTES = 4;

/** One live SSTable as the manifest records it. */
export interface ManifestTable {
  /** The file is `sstableFileName(file_number)` in the store directory. */
  file_number: number;
  file_bytes: number;
  entry_count: number;
  min_key: Uint8Array;
  max_key: Uint8Array;
  min_ts_ms: number;
  max_ts_ms: number;
}

/** The durable state of the store's table set. */
export interface ManifestState {
  /** Bumped on every manifest write. */
  sequence: number;
  /** File numbers below this were handed out; new tables take this one or higher. */
  next_file_number: number;
  /** Commit-log segments before this one are fully in SSTables: replay starts here. */
  commitlog_replay_from: number;
  /** Live tables, ascending by file number. */
  tables: readonly ManifestTable[];
}

/** A change applied atomically: tables added and removed, counters moved forward. */
export interface ManifestEdit {
  add?: readonly ManifestTable[];
  /** File numbers of tables no longer live (compaction inputs). */
  remove?: readonly number[];
  /** Raise the replay start (after a flush made older segments redundant). */
  commitlog_replay_from?: number;
}

/** The file name of SSTable `fileNumber` (zero-padded so names sort by number). */
export function sstableFileName(fileNumber: number): string {
  assert(Number.isSafeInteger(fileNumber) && fileNumber >= 0, 'file numbers are natural numbers');
  return `${String(fileNumber).padStart(8, '0')}${SSTABLE_SUFFIX}`;
}

/** The manifest record of a table the writer just finished as `fileNumber`. */
export function manifestTable(fileNumber: number, meta: SSTableMeta): ManifestTable {
  return {
    file_number: fileNumber,
    file_bytes: meta.file_bytes,
    entry_count: meta.entry_count,
    min_key: meta.min_key,
    max_key: meta.max_key,
    min_ts_ms: meta.min_ts_ms,
    max_ts_ms: meta.max_ts_ms,
  };
}

/** The live manifest of one store directory. */
export class Manifest {
  private state: ManifestState;
  /** Highest file number handed out by `allocateFileNumber` plus one. */
  private allocated: number;
  /** Tail of the serialized `apply` chain. */
  private writing: Promise<unknown> = Promise.resolve();
  /** Set when a write failed midway: disk and memory may disagree, so the store must reopen. */
  private failure: unknown = undefined;

  private constructor(
    private readonly fs: FileSystem,
    /** Directory holding the manifest and the table files. */
    readonly dir: string,
    initial: ManifestState,
    /** True when no manifest existed (a new store). */
    readonly created: boolean,
  ) {
    this.state = initial;
    this.allocated = initial.next_file_number;
  }

  /** Load the manifest of `dir` (an empty state if there is none); corrupt → `CorruptionError`. */
  static async open(fs: FileSystem, dir: string): Promise<Manifest> {
    await fs.mkdirp(dir);
    // A leftover temp file is a write that never committed: the old manifest stands.
    await fs.remove(joinPath(dir, MANIFEST_TEMP_FILE));
    const path = joinPath(dir, MANIFEST_FILE);
    if (!(await fs.exists(path))) {
      return new Manifest(fs, dir, { sequence: 0, next_file_number: 1, commitlog_replay_from: 0, tables: [] }, true);
    }
    return new Manifest(fs, dir, decodeManifest(await fs.readFile(path), path), false);
  }

  /** The current durable state. */
  get current(): ManifestState {
    return this.state;
  }

  /** The error of a write that failed midway (the store must reopen), or undefined. */
  get failedWith(): unknown {
    return this.failure;
  }

  /** Path of table `fileNumber` in this store. */
  tablePath(fileNumber: number): string {
    return joinPath(this.dir, sstableFileName(fileNumber));
  }

  /** A fresh file number for a new table; it becomes durable with the next `apply`. */
  allocateFileNumber(): number {
    return this.allocated++;
  }

  /** Apply `edit` durably (write, fsync, rename, fsync dir); resolves with the new state. */
  apply(edit: ManifestEdit): Promise<ManifestState> {
    const run = this.writing.then(() => this.applyNow(edit));
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** `.sst` files in the directory that no live table names (left by a crash): safe to remove. */
  async orphanTables(): Promise<string[]> {
    const live = new Set(this.state.tables.map((t) => sstableFileName(t.file_number)));
    const names = await this.fs.list(this.dir);
    return names.filter((n) => n.endsWith(SSTABLE_SUFFIX) && !live.has(n)).map((n) => joinPath(this.dir, n));
  }

  private async applyNow(edit: ManifestEdit): Promise<ManifestState> {
    if (this.failure !== undefined) throw this.failure;
    const next = nextState(this.state, edit, this.allocated);
    const bytes = encodeManifest(next);
    const tempPath = joinPath(this.dir, MANIFEST_TEMP_FILE);
    try {
      const handle = await this.fs.open(tempPath, 'create');
      try {
        await handle.append(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.fs.rename(tempPath, joinPath(this.dir, MANIFEST_FILE));
      await this.fs.syncDir(this.dir);
    } catch (err) {
      this.failure = err;
      throw err;
    }
    this.state = next;
    return next;
  }
}

/** The state after `edit`; a malformed edit is a programmer error. */
function nextState(state: ManifestState, edit: ManifestEdit, allocated: number): ManifestState {
  const live = new Map(state.tables.map((t) => [t.file_number, t]));
  for (const n of edit.remove ?? []) {
    assert(live.delete(n), `removed table ${n} is live`);
  }
  for (const t of edit.add ?? []) {
    assert(t.file_number < allocated, `added table ${t.file_number} was allocated`);
    assert(!live.has(t.file_number) && !state.tables.some((s) => s.file_number === t.file_number), 'added table is new');
    assert(compareKeys(t.min_key, t.max_key) <= 0, 'table min key ≤ max key');
    live.set(t.file_number, t);
  }
  assert(live.size <= MANIFEST_TABLES_MAX, 'live tables within MANIFEST_TABLES_MAX');
  const replayFrom = edit.commitlog_replay_from ?? state.commitlog_replay_from;
  assert(replayFrom >= state.commitlog_replay_from, 'commit-log replay start only moves forward');
  return {
    sequence: state.sequence + 1,
    next_file_number: allocated,
    commitlog_replay_from: replayFrom,
    tables: [...live.values()].sort((a, b) => a.file_number - b.file_number),
  };
}

/** Encode a state in the layout at the top of this file. */
export function encodeManifest(state: ManifestState): Uint8Array {
  let size = HEADER_BYTES + 28 + TRAILER_BYTES;
  for (const t of state.tables) size += 40 + 2 + t.min_key.length + 2 + t.max_key.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, MANIFEST_MAGIC, true);
  view.setUint32(4, MANIFEST_FORMAT_VERSION, true);
  view.setUint32(8, size - HEADER_BYTES - TRAILER_BYTES, true);
  setU64(view, 12, state.sequence);
  setU64(view, 20, state.next_file_number);
  setU64(view, 28, state.commitlog_replay_from);
  view.setUint32(36, state.tables.length, true);
  let at = 40;
  for (const t of state.tables) {
    setU64(view, at, t.file_number);
    setU64(view, at + 8, t.file_bytes);
    setU64(view, at + 16, t.entry_count);
    view.setFloat64(at + 24, t.min_ts_ms, true);
    view.setFloat64(at + 32, t.max_ts_ms, true);
    at += 40;
    for (const key of [t.min_key, t.max_key]) {
      view.setUint16(at, key.length, true);
      out.set(key, at + 2);
      at += 2 + key.length;
    }
  }
  assert(at === size - TRAILER_BYTES, 'manifest size computed exactly');
  view.setUint32(at, checksum(out.subarray(0, at)), true);
  return out;
}

/** Decode and verify a manifest read from `path`; any mismatch is corruption. */
export function decodeManifest(bytes: Uint8Array, path: string): ManifestState {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (offset: number, detail: string): never => {
    throw new CorruptionError(path, offset, `manifest: ${detail}`);
  };
  if (bytes.length < HEADER_BYTES + 28 + TRAILER_BYTES) fail(0, `only ${bytes.length} bytes`);
  if (view.getUint32(0, true) !== MANIFEST_MAGIC) fail(0, 'bad magic');
  const end = bytes.length - TRAILER_BYTES;
  if (checksum(bytes.subarray(0, end)) !== view.getUint32(end, true)) fail(end, 'checksum mismatch');
  if (view.getUint32(4, true) !== MANIFEST_FORMAT_VERSION) fail(4, `unknown format ${view.getUint32(4, true)}`);
  if (view.getUint32(8, true) !== end - HEADER_BYTES) fail(8, 'payload length does not match the file');
  const state = { sequence: getU64(view, 12), next_file_number: getU64(view, 20), commitlog_replay_from: getU64(view, 28) };
  const count = view.getUint32(36, true);
  if (count > MANIFEST_TABLES_MAX) fail(36, `${count} tables, over MANIFEST_TABLES_MAX`);
  const tables: ManifestTable[] = [];
  let at = 40;
  const readKey = (): Uint8Array => {
    if (at + 2 > end) fail(at, 'key length past end');
    const length = view.getUint16(at, true);
    if (length > KEY_MAX_BYTES || at + 2 + length > end) fail(at, `bad key length ${length}`);
    const key = bytes.slice(at + 2, at + 2 + length);
    at += 2 + length;
    return key;
  };
  for (let i = 0; i < count; i++) {
    if (at + 40 > end) fail(at, `table ${i} past end`);
    const start = at;
    const file_number = getU64(view, at);
    const file_bytes = getU64(view, at + 8);
    const entry_count = getU64(view, at + 16);
    const min_ts_ms = view.getFloat64(at + 24, true);
    const max_ts_ms = view.getFloat64(at + 32, true);
    at += 40;
    const min_key = readKey();
    const max_key = readKey();
    const prev = tables[tables.length - 1];
    if (file_number >= state.next_file_number || (prev !== undefined && prev.file_number >= file_number)) {
      fail(start, `table ${i} has file number ${file_number} out of order`);
    }
    tables.push({ file_number, file_bytes, entry_count, min_key, max_key, min_ts_ms, max_ts_ms });
  }
  if (at !== end) fail(at, 'trailing bytes');
  return { ...state, tables };
}
