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
 * The parts live by concept: options and counters in `engine_options.ts`,
 * opening and recovery in `engine_recovery.ts`, memtables and flushes in
 * `flush_pipeline.ts`, compaction reservations and swaps in
 * `compaction_swap.ts`. This file is the write and read paths over them.
 *
 * Thread contract: one thread (the node's) owns an engine. Compaction merges
 * run elsewhere (a `CompactionExecutor`); the engine only hands out tasks and
 * swaps results in (`beginCompaction` / `finishCompaction`).
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError, isCorruptionError } from '../src/core/errors.js';
import { hashPair } from '../src/core/hash.js';
import { RECORD_HEADER_BYTES, type CommitLog, type RecoveryReport } from './commit_log.js';
import { CompactionSwap } from './compaction_swap.js';
import type { CompactionResult, CompactionTask } from './compaction_task.js';
import type { TableSize } from './compaction_policy.js';
import { newEngineStats, resolveEngineOptions, validateWrite, type EngineOptions, type EngineStats, type ResolvedEngineOptions } from './engine_options.js';
import { recoverStore } from './engine_recovery.js';
import { FlushPipeline } from './flush_pipeline.js';
import { KeyTails } from './key_tails.js';
import { TableDamage } from './table_damage.js';
import type { Manifest } from './manifest.js';
import { mergeSorted, type KeyVersions } from './merge_iterator.js';
import { encodeMutation } from './mutation.js';
import type { TableSet } from './table_set.js';
import { reconcile, type DotConflictHandler, type Version } from './version.js';
import type { VersionOrder } from '../src/core/version_order.js';

export type { EngineOptions, EngineStats } from './engine_options.js';

/** A node's storage engine. */
export class StorageEngine {
  private closed = false;
  /**
   * Batch sync only: per key, its latest write whose commit-log group is not
   * yet on disk. `whenDurable` hands it out so that nothing is read, or
   * minted upon, before it is durable. Bounded by the writes in flight
   * (entries leave when they sync).
   */
  private readonly pendingDurable = new KeyTails();

  private constructor(
    private readonly options: ResolvedEngineOptions,
    /** Counters for metrics and the storage benchmark (shared with the flush pipeline and compaction swap). */
    readonly stats: EngineStats,
    private readonly manifest: Manifest,
    private readonly log: CommitLog,
    private readonly tables: TableSet,
    /** The active and frozen memtables and their flushes to SSTables. */
    private readonly flushes: FlushPipeline,
    /** Compactions' reservations and result swaps. */
    private readonly compactions: CompactionSwap,
    /** Tables whose blocks failed a checksum, and their quarantine. */
    private readonly damage: TableDamage,
  ) {}

  /**
   * What commit-log recovery found at open: a torn tail (unacknowledged
   * appends), or a corrupt tail whose records, some perhaps acknowledged,
   * are gone from this node (the replica then mints under a new dot epoch).
   */
  get recovery(): Readonly<RecoveryReport> {
    return this.log.recovery;
  }

  /**
   * The error that failed the store for good, or undefined while it works:
   * a commit-log write or fsync, a memtable flush or a manifest edit that
   * failed. Every later write fails too; close the engine and open it again
   * (recovery truncates what the failure left). See storage_health.ts.
   */
  get failure(): unknown {
    return this.log.failedWith ?? this.flushes.failureCause ?? this.manifest.failedWith;
  }

  /** Open (or create) the store in `options.dir`, recovering from the commit log (`engine_recovery.ts`). */
  static async open(options: EngineOptions): Promise<StorageEngine> {
    const full = resolveEngineOptions(options);
    const { manifest, log, tables, cache, memtable } = await recoverStore(full);
    const stats = newEngineStats();
    const flushes = new FlushPipeline({ options: full, manifest, log, tables, cache, stats }, memtable);
    const compactions: CompactionSwap = new CompactionSwap({ options: full, manifest, tables, cache, stats, flushes, onReleased: () => damage.runPending() });
    const damage = new TableDamage(full, manifest, tables, compactions);
    const engine = new StorageEngine(full, stats, manifest, log, tables, flushes, compactions, damage);
    flushes.switchIfFull();
    return engine;
  }

  /**
   * Store one version of `key`. Resolves when the write is durable per the
   * sync mode; `get` sees the version at once, so callers that must not see
   * it before it is durable wait on `whenDurable` first. Not an async
   * function: without backpressure a put returns the commit log's promise
   * itself, so no extra promise or microtask per write.
   */
  put(key: Uint8Array, version: Version, known?: KnownChange): Promise<void> {
    try {
      assert(!this.closed, 'put on an open engine');
      validateWrite(key, version);
      if (this.flushes.mustWait) {
        // Flushes fell behind (or failed): the writer waits for them rather than grow memory. What the caller knew
        // of the key is stale by the time the version is applied.
        return this.flushes.putWhenRoom(key, () => {
          assert(!this.closed, 'put on an open engine');
          return this.putNow(key, version, undefined);
        });
      }
      return this.putNow(key, version, known);
    } catch (err) {
      // Same contract as before: every failure is a rejection, never a synchronous throw.
      return Promise.reject(err);
    }
  }

  /**
   * True when a `put` now would wait for flushes to make room before its
   * version is applied; false when `put` applies it (visible to `get`) on the
   * calling turn.
   */
  get putsWait(): boolean {
    return this.flushes.mustWait;
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
  private putNow(key: Uint8Array, version: Version, known: KnownChange | undefined): Promise<void> {
    const payload = encodeMutation(key, version);
    this.log.checkAppendable(payload.length);
    const changed = this.options.onChanged;
    const before = changed === undefined ? undefined : (known?.before ?? this.versionsOf(key));
    this.flushes.active.put(key, [version], { onConflict: this.dotConflictsOf(key) });
    if (before !== undefined) changed!(key, before, known?.after ?? withVersion(this.options.order, before, version));
    this.stats.puts++;
    this.stats.userBytes += key.length + version.clock.length + (version.value?.length ?? 0);
    this.stats.commitLogBytes += payload.length + RECORD_HEADER_BYTES;
    const durable = this.log.append(payload);
    if (this.options.syncMode === 'batch') this.pendingDurable.track(key, durable);
    this.flushes.switchIfFull();
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

  /**
   * Every live version of `key`, reconciled; [] when the key is unknown.
   * Tombstones included. A damaged table (a data block that failed its
   * checksum, now or before) that may hold the key is skipped and named to
   * `onDamaged`: the answer may then lack versions (a replica answers it as
   * corruption, so the coordinator repairs the key here).
   */
  get(key: Uint8Array, onDamaged?: (path: string) => void): Version[] {
    this.stats.gets++;
    return this.versionsOf(key, onDamaged);
  }

  /** The read path of `get`, without counting it. */
  private versionsOf(key: Uint8Array, onDamaged?: (path: string) => void): Version[] {
    const found: Version[] = [];
    const fresh = this.flushes.active.get(key);
    if (fresh) for (const v of fresh) found.push(v);
    for (const frozen of this.flushes.frozen) {
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
        let versions: Version[] | undefined;
        try {
          if (table.damage === undefined) versions = table.reader.getAdmitted(key);
        } catch (err) {
          if (!isCorruptionError(err)) throw err;
          this.damage.report(table, err);
        }
        if (table.damage !== undefined) onDamaged?.(table.reader.path);
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
      const sources: Iterable<KeyVersions>[] = [this.flushes.active.scan(fromKey, toKey)];
      for (const frozen of this.flushes.frozen) sources.push(frozen.scan(fromKey, toKey));
      for (const table of snapshot) sources.push(table.reader.scan(fromKey, toKey));
      for (const entry of mergeSorted(sources, this.options.order, this.options.onDotConflict)) yield { key: entry.key, versions: entry.versions };
    } catch (err) {
      // A block that failed its checksum: mark its table damaged (quarantined soon), then fail this scan; a retry skips nothing
      // it should not, since the table leaves the live set.
      const table = isCorruptionError(err) ? this.damage.tableAt(err.location) : undefined;
      if (table !== undefined && isCorruptionError(err)) this.damage.report(table, err);
      throw err;
    } finally {
      this.tables.release(snapshot);
    }
  }

  /** Freeze the memtable and wait until every frozen memtable is in an SSTable. */
  flush(): Promise<void> {
    return this.flushes.flush();
  }

  /** Live tables not being compacted, for the compaction policy. */
  compactionCandidates(): TableSize[] {
    return this.compactions.candidates();
  }

  /** Reserve `fileNumbers` for a compaction and describe the job; undefined if one is no longer live or free. */
  beginCompaction(fileNumbers: readonly number[]): CompactionTask | undefined {
    return this.compactions.begin(fileNumbers);
  }

  /** Swap a finished compaction's output in and its inputs out, atomically in the manifest. */
  finishCompaction(task: CompactionTask, result: CompactionResult): Promise<void> {
    return this.compactions.finish(task, result);
  }

  /** Give up a compaction: release its inputs and remove any partial output. */
  abortCompaction(task: CompactionTask): Promise<void> {
    return this.compactions.abort(task);
  }

  /** Flush-free shutdown: the commit log keeps what the memtable holds. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushes.settled();
    await this.damage.settled();
    await this.log.close();
    await this.tables.closeAll();
  }

  /**
   * Keys held, estimated: SSTable entries plus memtable entries. A key in
   * several tables or memtables counts once per place (an over-estimate that
   * compaction shrinks); tombstones count.
   */
  get keysEstimate(): number {
    let keys = this.flushes.active.entryCount;
    for (const frozen of this.flushes.frozen) keys += frozen.entryCount;
    for (const table of this.tables.tables) keys += table.reader.meta.entry_count;
    return keys;
  }

  /**
   * A compaction met corruption in the live table at `path` (it runs on
   * another thread, so only the message comes back): mark it damaged and
   * quarantine it, as a read would. False when `path` is not a live table.
   */
  reportDamage(path: string, message: string): boolean {
    const table = this.damage.tableAt(path);
    if (table === undefined) return false;
    this.damage.report(table, new CorruptionError(path, -1, `found by a compaction: ${message}`));
    return true;
  }

  /** Resolves once every quarantine of a damaged table started so far ended (tests). */
  quarantinesSettled(): Promise<void> {
    return this.damage.settled();
  }

  /** Number of live SSTables. */
  get tableCount(): number {
    return this.tables.tables.length;
  }

  /** Bytes held by the active memtable. */
  get memtableBytes(): number {
    return this.flushes.active.approximateBytes;
  }
}

/**
 * What a writer already knows of a key it writes (the minting replica read
 * it on the same turn): its versions before the write and after it, so that
 * `onChanged` needs no second read. Ignored when the write must wait for
 * room (it is then applied on a later turn).
 */
export interface KnownChange {
  before: readonly Version[];
  after: readonly Version[];
}

/**
 * `before` with `version` added, reconciled: `version` alone when it
 * supersedes every version held (the common overwrite), without the
 * pairwise comparison `reconcile` does.
 */
function withVersion(order: VersionOrder, before: readonly Version[], version: Version): readonly Version[] {
  let supersedesAll = true;
  for (const held of before) {
    if (order.compare(version.clock, held.clock) !== 'after') {
      supersedesAll = false;
      break;
    }
  }
  return supersedesAll ? [version] : reconcile(order, [...before, version]);
}
