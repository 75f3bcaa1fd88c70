/**
 * One node's LSM storage engine, following Cassandra's write and read paths.
 *
 * Write: the mutation goes into the memtable (reconciled with the versions
 * already there) and is appended to the commit log; the write is
 * acknowledged when the log says so (after fsync in `batch` mode). Group
 * commit happens in the log: every append issued while a write is in flight
 * goes out in the next single write + fsync. Past `memtableFlushBytes` the
 * memtable is frozen, the log rolls to a new segment in the same step, and
 * the frozen memtable is flushed to an SSTable in the background; once the
 * manifest records the table, the log segments it covered are deleted.
 *
 * Read: memtable → immutable memtables → SSTables newest first, each table
 * consulted only when its bloom filter admits the key (one hash per read
 * serves every filter). All versions found are reconciled: a version
 * dominated by another is dropped, concurrent ones are all returned.
 *
 * Directory layout: `<dir>/MANIFEST`, `<dir>/NNNNNNNN.sst`,
 * `<dir>/commitlog/NNNN...log`.
 *
 * Thread contract: one thread (the node's) owns an engine. Compaction merges
 * run elsewhere (a `CompactionExecutor`); the engine only hands out tasks and
 * swaps results in (`beginCompaction` / `finishCompaction`).
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError, InvalidRequestError, OverloadedError } from '../src/core/errors.js';
import { hashPair } from '../src/core/hash.js';
import {
  BLOOM_FP_RATE_DEFAULT,
  CLOCK_MAX_BYTES,
  IMMUTABLE_MEMTABLES_MAX,
  KEY_MAX_BYTES,
  MEMTABLE_FLUSH_BYTES,
  SSTABLE_BLOCK_CACHE_BYTES,
  TOMBSTONE_GRACE_MS,
  VALUE_MAX_BYTES,
} from '../src/core/limits.js';
import { isPlanted } from '../src/core/planted_bugs.js';
import type { VersionOrder } from '../src/core/version_order.js';
import { BloomFilter } from './bloom.js';
import { CommitLog, RECORD_HEADER_BYTES, type CommitLogTimers, type RecoveryReport, type SyncMode } from './commit_log.js';
import type { CompactionResult, CompactionTask } from './compaction_task.js';
import type { TableSize } from './compaction_policy.js';
import { joinPath, type FileSystem } from './fs.js';
import { KeyTails } from './key_tails.js';
import { Manifest, manifestTable } from './manifest.js';
import { Memtable } from './memtable.js';
import { mergeSorted, type KeyVersions } from './merge_iterator.js';
import { decodeMutation, encodeMutation } from './mutation.js';
import { BlockCache } from './block_cache.js';
import type { SSTableMeta } from './sstable_format.js';
import { SSTableReader } from './sstable_reader.js';
import { SSTableWriter } from './sstable_writer.js';
import { TableSet, type LiveTable } from './table_set.js';
import { reconcile, type DotConflictHandler, type StoredVersion } from './version.js';

/** How to open an engine. */
export interface EngineOptions {
  fs: FileSystem;
  /** Directory of this node's data. */
  dir: string;
  /** How versions' clocks relate (from src/core). */
  order: VersionOrder;
  /** The node's clock (ms); from the actor context, virtual in the simulator. */
  now: () => number;
  /** Timers for periodic commit-log sync (actor timers in a node). */
  timers?: CommitLogTimers;
  /** `batch` (default): acknowledge after fsync. `periodic`: fsync every `periodicSync_ms`. */
  syncMode?: SyncMode;
  periodicSync_ms?: number;
  memtableFlushBytes?: number;
  commitLogSegmentBytes?: number;
  bloomFpRate?: number;
  /** Bytes of verified data blocks cached for reads. */
  blockCacheBytes?: number;
  /** Tombstones younger than this are never purged (in a cluster at least the hint TTL: node_plan.ts checks). */
  tombstoneGrace_ms?: number;
  /** Told when something happens that may call for a compaction (a flush). */
  onTablesChanged?: () => void;
  /** Told of background failures (flush, file deletion): the engine stays read-only-safe. */
  onError?: (what: string, err: unknown) => void;
  /**
   * Told once, during `open`, that commit-log recovery cut off a corrupt tail
   * (`RecoveryReport.corruptTail`): records that may have been acknowledged
   * are gone from this node. Log it at error level; `recovery` keeps it.
   */
  onDataLoss?: (message: string, fields: Record<string, unknown>) => void;
  /**
   * Told of two versions of `key` whose clocks name one write but different
   * values (`Causality` 'conflict', issue 12): an invariant violation. Both
   * are kept as siblings. Called from writes, reads, scans and compactions
   * each time they reconcile the pair, so a conflict still stored is told
   * again: it stands until a write that saw it supersedes both.
   */
  onDotConflict?: (key: Uint8Array, a: StoredVersion, b: StoredVersion) => void;
}

/** Counters for metrics and the storage benchmark. */
export interface EngineStats {
  puts: number;
  gets: number;
  /** Bytes of keys, clocks and values written by users. */
  userBytes: number;
  commitLogBytes: number;
  flushes: number;
  flushBytes: number;
  compactions: number;
  compactionBytesIn: number;
  compactionBytesOut: number;
  tablesConsulted: number;
  bloomNegatives: number;
}

/** A node's storage engine. */
export class StorageEngine {
  readonly stats: EngineStats = {
    puts: 0, gets: 0, userBytes: 0, commitLogBytes: 0, flushes: 0, flushBytes: 0,
    compactions: 0, compactionBytesIn: 0, compactionBytesOut: 0, tablesConsulted: 0, bloomNegatives: 0,
  };
  private memtable: Memtable;
  /** Frozen memtables being flushed, newest first. */
  private immutables: Memtable[] = [];
  /** Tail of the flush chain: flushes finish in freeze order so replay starts only move forward. */
  private flushTail: Promise<void> = Promise.resolve();
  /** Tables handed to a compaction and not yet swapped back. */
  private readonly compacting = new Set<number>();
  /**
   * The tables each running compaction reads (inputs and the `others` whose
   * bloom filters guard tombstone purges), by output path. Held like a scan's
   * snapshot so that a concurrent compaction retiring one of the `others`
   * does not delete its file before this compaction has opened it.
   */
  private readonly compactionReads = new Map<string, LiveTable[]>();
  private closed = false;
  /** Keys of puts waiting for flushes (bounded by the callers' in-flight writes). */
  private readonly waitingKeys: Uint8Array[] = [];
  /** Set when a flush failed: the engine must be reopened (recovery replays the log). */
  private flushFailure: Error | undefined;
  /**
   * Batch sync only: per key, its latest write whose commit-log group is not
   * yet on disk. `whenDurable` hands it out so that nothing is read, or
   * minted upon, before it is durable. Bounded by the writes in flight
   * (entries leave when they sync).
   */
  private readonly pendingDurable = new KeyTails();

  private constructor(
    private readonly options: Required<Omit<EngineOptions, 'timers' | 'onTablesChanged' | 'onError' | 'onDataLoss' | 'onDotConflict'>> & EngineOptions,
    private readonly manifest: Manifest,
    private readonly log: CommitLog,
    private readonly tables: TableSet,
    private readonly cache: BlockCache,
    recovered: Memtable,
  ) {
    this.memtable = recovered;
  }

  /**
   * What commit-log recovery found at open: a torn tail (unacknowledged
   * appends), or a corrupt tail whose records, some perhaps acknowledged,
   * are gone from this node (the replica then mints under a new dot epoch).
   */
  get recovery(): Readonly<RecoveryReport> {
    return this.log.recovery;
  }

  /** Open (or create) the store in `options.dir`, recovering from the commit log. */
  static async open(options: EngineOptions): Promise<StorageEngine> {
    const full = {
      syncMode: 'batch' as SyncMode,
      periodicSync_ms: 100,
      memtableFlushBytes: MEMTABLE_FLUSH_BYTES,
      commitLogSegmentBytes: 32 * 1024 * 1024,
      bloomFpRate: BLOOM_FP_RATE_DEFAULT,
      blockCacheBytes: SSTABLE_BLOCK_CACHE_BYTES,
      tombstoneGrace_ms: TOMBSTONE_GRACE_MS,
      ...options,
    };
    const { fs, dir } = full;
    const manifest = await Manifest.open(fs, dir);
    for (const orphan of await manifest.orphanTables()) await fs.remove(orphan);
    const cache = new BlockCache(full.blockCacheBytes);
    const tables = new TableSet(fs, (path, err) => full.onError?.(`delete ${path}`, err));
    const opened = [];
    for (const table of manifest.current.tables) {
      opened.push({ fileNumber: table.file_number, reader: await SSTableReader.open(fs, manifest.tablePath(table.file_number), { cache }) });
    }
    tables.add(opened);
    const memtable = new Memtable(full.order);
    const replayFrom = manifest.current.commitlog_replay_from;
    const logDir = joinPath(dir, 'commitlog');
    const log = await CommitLog.open(
      fs,
      logDir,
      { syncMode: full.syncMode, periodicSync_ms: full.periodicSync_ms, segmentBytes: full.commitLogSegmentBytes, ...(full.timers ? { timers: full.timers } : {}) },
      (payload, position) => {
        // Segments before the replay start are already in SSTables (their deletion may not have been durable).
        if (position.segmentId < replayFrom) return;
        const mutation = decodeMutation(payload, joinPath(logDir, `segment ${position.segmentId}`));
        // What was accepted is restored: the sibling bound was checked at admission.
        memtable.put(mutation.key, [mutation.version], { enforceSiblingLimit: false });
      },
    );
    const newest = log.segmentIds().at(-1) ?? 0;
    if (newest < replayFrom) {
      // Segment ids only grow; ids below the replay start mean the log directory was lost or replaced,
      // and every new write would be skipped by the next replay. Refuse loudly.
      await log.close();
      await tables.closeAll();
      throw new CorruptionError(logDir, -1, `the newest commit-log segment is ${newest} but the manifest replays from ${replayFrom}: segments are missing`);
    }
    const dropped = log.recovery.corruptTail;
    if (dropped !== null) {
      full.onDataLoss?.('commit log: a corrupt tail of the last segment was cut off at open', {
        path: dropped.path,
        offset: dropped.offset,
        dropped_bytes: dropped.droppedBytes,
        meaning: 'records after this point on this replica are gone (some may have been acknowledged); other replicas and read repair restore them',
      });
    }
    const engine = new StorageEngine(full, manifest, log, tables, cache, memtable);
    if (memtable.isFull(full.memtableFlushBytes)) void engine.switchMemtable();
    return engine;
  }

  /**
   * Store one version of `key`. Resolves when the write is durable per the
   * sync mode; `get` sees the version at once, so callers that must not see
   * it before it is durable wait on `whenDurable` first. Not an async
   * function: without backpressure a put returns the commit log's promise
   * itself, so no extra promise or microtask per write.
   */
  put(key: Uint8Array, version: StoredVersion): Promise<void> {
    try {
      assert(!this.closed, 'put on an open engine');
      validate(key, version);
      if (this.immutables.length >= IMMUTABLE_MEMTABLES_MAX || this.flushFailure !== undefined) return this.putAfterFlushes(key, version);
      return this.putNow(key, version);
    } catch (err) {
      // Same contract as before: every failure is a rejection, never a synchronous throw.
      return Promise.reject(err);
    }
  }

  /**
   * `put` when flushes fell behind: the writer waits for them rather than grow
   * memory. While it waits its key counts as unflushed, so that a compaction
   * begun meanwhile does not purge a tombstone this older write would then
   * come back from under.
   */
  private async putAfterFlushes(key: Uint8Array, version: StoredVersion): Promise<void> {
    this.waitingKeys.push(key);
    try {
      return await this.putAfterFlushesWaiting(key, version);
    } finally {
      this.waitingKeys.splice(this.waitingKeys.indexOf(key), 1);
    }
  }

  private async putAfterFlushesWaiting(key: Uint8Array, version: StoredVersion): Promise<void> {
    // Each wait ends with a flush finished or failed, so the loop makes progress.
    while (this.immutables.length >= IMMUTABLE_MEMTABLES_MAX) {
      if (this.flushFailure !== undefined) throw this.flushFailure;
      await this.flushTail;
    }
    if (this.flushFailure !== undefined) throw this.flushFailure;
    assert(!this.closed, 'put on an open engine');
    return this.putNow(key, version);
  }

  /**
   * Apply a validated write to the memtable and hand it to the commit log;
   * returns the log's promise. Nothing is applied unless the log can take
   * the record: a refused write must not become visible, or durable through
   * a later flush.
   *
   * SIBLINGS_MAX is enforced per memtable here: checking the key's versions
   * in every frozen memtable and table on each put cost about a third of the
   * write throughput. The coordinator reads a key's siblings before it writes
   * (dotted version vectors need them) and bounds them there; below it,
   * replay and compaction accept up to SIBLINGS_STORED_MAX so that recovery
   * never fails on what was accepted.
   */
  private putNow(key: Uint8Array, version: StoredVersion): Promise<void> {
    const payload = encodeMutation(key, version);
    this.log.checkAppendable(payload.length);
    this.memtable.put(key, [version], { onConflict: this.dotConflictsOf(key) });
    this.stats.puts++;
    this.stats.userBytes += key.length + version.clock.length + (version.value?.length ?? 0);
    this.stats.commitLogBytes += payload.length + RECORD_HEADER_BYTES;
    const durable = this.log.append(payload);
    if (this.options.syncMode === 'batch') this.pendingDurable.track(key, durable);
    if (this.memtable.isFull(this.options.memtableFlushBytes)) void this.switchMemtable();
    return durable;
  }

  /**
   * Batch sync: a promise that settles once no write of `key` waits for its
   * fsync, or null when none does (the common case, and always under periodic
   * sync, whose writes are visible once written). The memtable holds a write
   * before its group is on disk, so that a flush never misses a logged
   * record; readers that must not see it before then (replica gets and
   * mints: "visibility follows durability") wait on this first, and again
   * while a newer write of the key is pending.
   */
  whenDurable(key: Uint8Array): Promise<void> | null {
    return this.pendingDurable.tail(key);
  }

  /**
   * Resolves once every commit-log record appended so far is on disk, in
   * either sync mode (under batch sync at once when none waits). Every
   * version `get` returned before the call is then durable: older ones are in
   * synced segments or SSTables. Replicas use it before vouching that they
   * hold a tombstone (issue 12: a purge must not outlive a copy a crash takes back).
   */
  syncLog(): Promise<void> {
    assert(!this.closed, 'syncLog on an open engine');
    return this.log.sync();
  }

  /** Every live version of `key`, reconciled; [] when the key is unknown. Tombstones included. */
  get(key: Uint8Array): StoredVersion[] {
    this.stats.gets++;
    return this.versionsOf(key);
  }

  /** The read path of `get`, without counting it. */
  private versionsOf(key: Uint8Array): StoredVersion[] {
    const found: StoredVersion[] = [];
    const fresh = this.memtable.get(key);
    if (fresh) for (const v of fresh) found.push(v);
    for (const frozen of this.immutables) {
      const versions = frozen.get(key);
      if (versions) for (const v of versions) found.push(v);
    }
    const tables = this.tables.tables;
    if (tables.length > 0) {
      const pair = hashPair(key);
      for (const table of tables) {
        if (!table.reader.mayContain(key, pair)) {
          this.stats.bloomNegatives++;
          continue;
        }
        this.stats.tablesConsulted++;
        const versions = table.reader.getAdmitted(key);
        if (versions) for (const v of versions) found.push(v);
      }
    }
    return found.length <= 1 ? found : reconcile(this.options.order, found, this.dotConflictsOf(key));
  }

  /** The `onDotConflict` option bound to `key`, or undefined when nobody listens. */
  private dotConflictsOf(key: Uint8Array): DotConflictHandler | undefined {
    const tell = this.options.onDotConflict;
    return tell === undefined ? undefined : (a, b) => tell(key, a, b);
  }


  /**
   * Entries in key order from `fromKey` (inclusive) to `toKey` (exclusive),
   * merged across memtables and tables and reconciled. Holds references to
   * the tables it reads until the iteration ends; always finish or `return()`
   * it (a for..of loop does).
   */
  *scan(fromKey?: Uint8Array, toKey?: Uint8Array): Generator<KeyVersions> {
    const snapshot = this.tables.acquire();
    try {
      const sources: Iterable<KeyVersions>[] = [this.memtable.scan(fromKey, toKey)];
      for (const frozen of this.immutables) sources.push(frozen.scan(fromKey, toKey));
      for (const table of snapshot) sources.push(table.reader.scan(fromKey, toKey));
      for (const entry of mergeSorted(sources, this.options.order, this.options.onDotConflict)) yield { key: entry.key, versions: entry.versions };
    } finally {
      this.tables.release(snapshot);
    }
  }

  /** Freeze the memtable and wait until every frozen memtable is in an SSTable. */
  async flush(): Promise<void> {
    if (this.flushFailure !== undefined) throw this.flushFailure;
    if (this.memtable.entryCount > 0) await this.switchMemtable();
    await this.flushTail;
    if (this.flushFailure !== undefined) throw this.flushFailure;
  }

  /** Live tables not being compacted, for the compaction policy. */
  compactionCandidates(): TableSize[] {
    return this.tables.tables
      .filter((t) => !this.compacting.has(t.fileNumber))
      .map((t) => ({ fileNumber: t.fileNumber, bytes: t.reader.meta.file_bytes }));
  }

  /** Reserve `fileNumbers` for a compaction and describe the job; undefined if one is no longer live or free. */
  beginCompaction(fileNumbers: readonly number[]): CompactionTask | undefined {
    const live = new Map(this.tables.tables.map((t) => [t.fileNumber, t]));
    if (fileNumbers.length === 0 || fileNumbers.some((n) => !live.has(n) || this.compacting.has(n))) return undefined;
    for (const n of fileNumbers) this.compacting.add(n);
    const inputs = new Set(fileNumbers);
    const output = this.manifest.tablePath(this.manifest.allocateFileNumber());
    this.compactionReads.set(output, this.tables.acquire());
    const now_ms = this.options.now();
    // Versions still in memtables are in no table, yet a purged tombstone would resurrect the ones it
    // shadows (a stale write that arrived after the tombstone was flushed): their keys guard purges too.
    // Skipped when no input holds anything old enough to purge.
    const mayPurge = fileNumbers.some((n) => live.get(n)!.reader.meta.min_ts_ms < now_ms - this.options.tombstoneGrace_ms);
    return {
      inputs: fileNumbers.map((n) => live.get(n)!.reader.path),
      others: this.tables.tables.filter((t) => !inputs.has(t.fileNumber)).map((t) => t.reader.path),
      ...(mayPurge ? { unflushedKeys: this.unflushedKeysFilter() } : {}),
      output,
      now_ms,
      tombstoneGrace_ms: this.options.tombstoneGrace_ms,
      // Test-only planted bug 'timer-only-purge' (src/core/planted_bugs.ts): purge unconfirmed tombstones too.
      requireConfirmation: !isPlanted('timer-only-purge'),
      bloomFpRate: this.options.bloomFpRate,
    };
  }

  /** Swap a finished compaction's output in and its inputs out, atomically in the manifest. */
  async finishCompaction(task: CompactionTask, result: CompactionResult): Promise<void> {
    const inputs = this.fileNumbersOf(task.inputs);
    try {
      const outputNumber = fileNumberOf(task.output);
      const reader = result.meta ? await SSTableReader.open(this.options.fs, task.output, { cache: this.cache }) : undefined;
      await this.manifest.apply({ add: result.meta ? [manifestTable(outputNumber, result.meta)] : [], remove: inputs });
      if (reader) this.tables.add([{ fileNumber: outputNumber, reader }]);
      this.tables.retire(inputs);
      this.stats.compactions++;
      this.stats.compactionBytesIn += result.bytesIn;
      this.stats.compactionBytesOut += result.bytesOut;
      for (const c of result.dotConflicts) this.options.onDotConflict?.(c.key, c.a, c.b);
    } finally {
      for (const n of inputs) this.compacting.delete(n);
      this.releaseCompactionReads(task);
    }
  }

  /** Give up a compaction: release its inputs and remove any partial output. */
  async abortCompaction(task: CompactionTask): Promise<void> {
    for (const n of this.fileNumbersOf(task.inputs)) this.compacting.delete(n);
    this.releaseCompactionReads(task);
    await this.options.fs.remove(task.output);
  }

  /** Flush-free shutdown: the commit log keeps what the memtable holds. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushTail.catch(() => undefined);
    await this.log.close();
    await this.tables.closeAll();
  }

  /**
   * Keys held, estimated: SSTable entries plus memtable entries. A key in
   * several tables or memtables counts once per place (an over-estimate that
   * compaction shrinks); tombstones count.
   */
  get keysEstimate(): number {
    let keys = this.memtable.entryCount;
    for (const frozen of this.immutables) keys += frozen.entryCount;
    for (const table of this.tables.tables) keys += table.reader.meta.entry_count;
    return keys;
  }

  /** Number of live SSTables. */
  get tableCount(): number {
    return this.tables.tables.length;
  }

  /** Bytes held by the active memtable. */
  get memtableBytes(): number {
    return this.memtable.approximateBytes;
  }

  /** Freeze the active memtable, roll the log in the same step, and queue its flush. */
  private switchMemtable(): Promise<void> {
    const frozen = this.memtable;
    if (frozen.entryCount === 0) return this.flushTail;
    frozen.freeze();
    this.memtable = new Memtable(this.options.order);
    this.immutables.unshift(frozen);
    // Same synchronous step as the freeze: every later append lands in the new segment.
    const rolled = this.log.rollSegment();
    // Handled here too: the flush below awaits `rolled` only once earlier flushes finish, and a roll that
    // fails meanwhile (a failing or crashed disk) must not be an unhandled rejection that kills the thread.
    rolled.catch(() => undefined);
    const flushed = this.flushTail.then(async () => this.flushMemtable(frozen, await rolled));
    this.flushTail = flushed.catch((err: unknown) => {
      this.flushFailure = new OverloadedError(
        `storage engine at ${this.options.dir}: a memtable flush failed (${String(err)}); writes are refused until the node restarts`,
      );
      this.options.onError?.('flush', err);
    });
    return flushed;
  }

  /** Write `frozen` to a new SSTable, record it, then drop the log segments it covered. */
  private async flushMemtable(frozen: Memtable, replayFrom: number): Promise<void> {
    // After a failed flush, no later flush may run: it would record a replay
    // start past the failed memtable's segments and delete them.
    if (this.flushFailure !== undefined) throw this.flushFailure;
    const fileNumber = this.manifest.allocateFileNumber();
    const path = this.manifest.tablePath(fileNumber);
    const writer = await SSTableWriter.create(this.options.fs, path, { bloomFpRate: this.options.bloomFpRate });
    let meta: SSTableMeta;
    try {
      for (const entry of frozen.scan()) await writer.append(entry.key, entry.versions);
      meta = await writer.finish();
    } catch (err) {
      await writer.abort().catch(() => undefined);
      throw err;
    }
    const reader = await SSTableReader.open(this.options.fs, path, { cache: this.cache });
    try {
      await this.manifest.apply({ add: [manifestTable(fileNumber, meta)], commitlog_replay_from: replayFrom });
    } catch (err) {
      await reader.close();
      throw err;
    }
    this.tables.add([{ fileNumber, reader }]);
    this.immutables = this.immutables.filter((m) => m !== frozen);
    // The table is recorded: a failed deletion only leaves segments that replay skips.
    await this.log.deleteSegmentsBefore(replayFrom).catch((err: unknown) => this.options.onError?.('delete commit-log segments', err));
    this.stats.flushes++;
    this.stats.flushBytes += meta.file_bytes;
    this.options.onTablesChanged?.();
  }

  /** A serialized bloom filter of every key in the active and frozen memtables and of puts waiting for flushes. */
  private unflushedKeysFilter(): Uint8Array {
    const memtables = [this.memtable, ...this.immutables];
    const keys = memtables.reduce((sum, m) => sum + m.entryCount, 0) + this.waitingKeys.length;
    const filter = BloomFilter.forKeys(keys, this.options.bloomFpRate);
    for (const memtable of memtables) for (const entry of memtable.scan()) filter.addHash(hashPair(entry.key));
    for (const key of this.waitingKeys) filter.addHash(hashPair(key));
    return filter.serialize();
  }

  private releaseCompactionReads(task: CompactionTask): void {
    const held = this.compactionReads.get(task.output);
    if (held === undefined) return;
    this.compactionReads.delete(task.output);
    this.tables.release(held);
  }

  private fileNumbersOf(paths: readonly string[]): number[] {
    return paths.map(fileNumberOf);
  }
}

/** The file number in an SSTable path ("…/00000042.sst" → 42). */
function fileNumberOf(path: string): number {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const n = Number.parseInt(name, 10);
  assert(Number.isSafeInteger(n), `an SSTable path ends in its file number: ${path}`);
  return n;
}

function validate(key: Uint8Array, version: StoredVersion): void {
  if (key.length === 0 || key.length > KEY_MAX_BYTES) throw new InvalidRequestError(`key of ${key.length} bytes; keys are 1..${KEY_MAX_BYTES} bytes`);
  if (version.clock.length > CLOCK_MAX_BYTES) throw new InvalidRequestError(`clock of ${version.clock.length} bytes exceeds ${CLOCK_MAX_BYTES}`);
  if (version.value !== null && version.value.length > VALUE_MAX_BYTES) {
    throw new InvalidRequestError(`value of ${version.value.length} bytes exceeds ${VALUE_MAX_BYTES}; split it`);
  }
  if (!Number.isFinite(version.ts_ms)) throw new InvalidRequestError('version timestamp is not a finite number');
}
