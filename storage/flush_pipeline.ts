/**
 * The engine's memtables and the chain that flushes them to SSTables
 * (Cassandra's write path, step 3).
 *
 * Writes go to the active memtable. Past `memtableFlushBytes` it is frozen,
 * the commit log rolls to a new segment in the same synchronous step (so
 * every later append lands in the new segment), and the frozen memtable is
 * queued for its flush. Flushes run one at a time, in freeze order, so the
 * manifest's replay start only moves forward; once the manifest records a
 * flushed table, the log segments it covered are deleted.
 *
 * Backpressure: with IMMUTABLE_MEMTABLES_MAX frozen memtables waiting, a
 * write waits for a flush instead of growing memory (`putWhenRoom`). A
 * failed flush stops the chain for good: no later flush may record a replay
 * start past the failed memtable's segments, and every write is refused
 * until the store is reopened (recovery replays the log).
 *
 * Thread contract: the engine's thread only.
 */
import { hashPair } from '../src/core/hash.js';
import { IMMUTABLE_MEMTABLES_MAX } from '../src/core/limits.js';
import type { BlockCache } from './block_cache.js';
import { BloomFilter } from './bloom.js';
import type { CommitLog } from './commit_log.js';
import type { EngineStats, ResolvedEngineOptions } from './engine_options.js';
import { manifestTable, type Manifest } from './manifest.js';
import { Memtable } from './memtable.js';
import type { SSTableMeta } from './sstable_format.js';
import { describeStorageFailure, storageFailedError } from './storage_health.js';
import { SSTableReader } from './sstable_reader.js';
import { SSTableWriter } from './sstable_writer.js';
import type { TableSet } from './table_set.js';

/** What the pipeline works with: the engine's own parts. */
export interface FlushDeps {
  options: ResolvedEngineOptions;
  manifest: Manifest;
  log: CommitLog;
  tables: TableSet;
  cache: BlockCache;
  stats: EngineStats;
}

/** The active memtable, the frozen ones, and their flushes. */
export class FlushPipeline {
  /** Where writes go now. */
  private activeMemtable: Memtable;
  /** Frozen memtables being flushed, newest first. */
  private frozenMemtables: Memtable[] = [];
  /** Tail of the flush chain: flushes finish in freeze order so replay starts only move forward. */
  private flushTail: Promise<void> = Promise.resolve();
  /** Set when a flush failed: the engine must be reopened (recovery replays the log). */
  private flushFailure: Error | undefined;
  /** What made the flush fail (the error behind `flushFailure`). */
  private flushCause: unknown = undefined;
  /** Keys of puts waiting for flushes (bounded by the callers' in-flight writes). */
  private readonly waitingKeys: Uint8Array[] = [];

  constructor(
    private readonly deps: FlushDeps,
    /** The memtable recovery replayed the commit log into. */
    recovered: Memtable,
  ) {
    this.activeMemtable = recovered;
  }

  /** The memtable writes go to. */
  get active(): Memtable {
    return this.activeMemtable;
  }

  /** Frozen memtables not yet in a table, newest first. Do not keep the array across async gaps. */
  get frozen(): readonly Memtable[] {
    return this.frozenMemtables;
  }

  /** The error every write gets after a failed flush, or undefined. */
  get failure(): Error | undefined {
    return this.flushFailure;
  }

  /** What made a flush fail, or undefined while flushes work. */
  get failureCause(): unknown {
    return this.flushCause;
  }

  /** True when a write must wait (`putWhenRoom`) rather than go straight to the memtable. */
  get mustWait(): boolean {
    return this.frozenMemtables.length >= IMMUTABLE_MEMTABLES_MAX || this.flushFailure !== undefined;
  }

  /**
   * Run `put` once flushes made room. While it waits (and until `put`
   * settles) its key counts as unflushed, so that a compaction begun
   * meanwhile does not purge a tombstone this older write would then come
   * back from under.
   */
  async putWhenRoom(key: Uint8Array, put: () => Promise<void>): Promise<void> {
    this.waitingKeys.push(key);
    try {
      // Each wait ends with a flush finished or failed, so the loop makes progress.
      while (this.frozenMemtables.length >= IMMUTABLE_MEMTABLES_MAX) {
        if (this.flushFailure !== undefined) throw this.flushFailure;
        await this.flushTail;
      }
      if (this.flushFailure !== undefined) throw this.flushFailure;
      return await put();
    } finally {
      this.waitingKeys.splice(this.waitingKeys.indexOf(key), 1);
    }
  }

  /** Freeze the active memtable if it is past its size (after a write). */
  switchIfFull(): void {
    if (this.activeMemtable.isFull(this.deps.options.memtableFlushBytes)) void this.switchMemtable();
  }

  /** Freeze the memtable and wait until every frozen memtable is in an SSTable. */
  async flush(): Promise<void> {
    if (this.flushFailure !== undefined) throw this.flushFailure;
    if (this.activeMemtable.entryCount > 0) await this.switchMemtable();
    await this.flushTail;
    if (this.flushFailure !== undefined) throw this.flushFailure;
  }

  /** Resolves once no flush runs (failed ones included): the engine's close. */
  settled(): Promise<void> {
    return this.flushTail.catch(() => undefined);
  }

  /** A serialized bloom filter of every key in the active and frozen memtables and of puts waiting for flushes. */
  unflushedKeysFilter(): Uint8Array {
    const memtables = [this.activeMemtable, ...this.frozenMemtables];
    const keys = memtables.reduce((sum, m) => sum + m.entryCount, 0) + this.waitingKeys.length;
    const filter = BloomFilter.forKeys(keys, this.deps.options.bloomFpRate);
    for (const memtable of memtables) for (const entry of memtable.scan()) filter.addHash(hashPair(entry.key));
    for (const key of this.waitingKeys) filter.addHash(hashPair(key));
    return filter.serialize();
  }

  /** Freeze the active memtable, roll the log in the same step, and queue its flush. */
  private switchMemtable(): Promise<void> {
    const frozen = this.activeMemtable;
    if (frozen.entryCount === 0) return this.flushTail;
    const { options, log } = this.deps;
    frozen.freeze();
    this.activeMemtable = new Memtable(options.order);
    this.frozenMemtables.unshift(frozen);
    // Same synchronous step as the freeze: every later append lands in the new segment.
    const rolled = log.rollSegment();
    // Handled here too: the flush below awaits `rolled` only once earlier flushes finish, and a roll that
    // fails meanwhile (a failing or crashed disk) must not be an unhandled rejection that kills the thread.
    rolled.catch(() => undefined);
    const flushed = this.flushTail.then(async () => this.flushMemtable(frozen, await rolled));
    this.flushTail = flushed.catch((err: unknown) => {
      // Not "overloaded": the store failed, and every write is refused until it is reopened (storage_health.ts).
      this.flushFailure = storageFailedError(options.dir, describeStorageFailure(options.dir, err));
      this.flushCause = err;
      options.onError?.('flush', err);
    });
    return flushed;
  }

  /** Write `frozen` to a new SSTable, record it, then drop the log segments it covered. */
  private async flushMemtable(frozen: Memtable, replayFrom: number): Promise<void> {
    // After a failed flush, no later flush may run: it would record a replay
    // start past the failed memtable's segments and delete them.
    if (this.flushFailure !== undefined) throw this.flushFailure;
    const { options, manifest, log, tables, cache, stats } = this.deps;
    const fileNumber = manifest.allocateFileNumber();
    const path = manifest.tablePath(fileNumber);
    const writer = await SSTableWriter.create(options.fs, path, { bloomFpRate: options.bloomFpRate });
    let meta: SSTableMeta;
    try {
      for (const entry of frozen.scan()) await writer.append(entry.key, entry.versions);
      meta = await writer.finish();
    } catch (err) {
      await writer.abort().catch(() => undefined);
      throw err;
    }
    const reader = await SSTableReader.open(options.fs, path, { cache });
    try {
      await manifest.apply({ add: [manifestTable(fileNumber, meta)], commitlog_replay_from: replayFrom });
    } catch (err) {
      await reader.close();
      throw err;
    }
    tables.add([{ fileNumber, reader }]);
    this.frozenMemtables = this.frozenMemtables.filter((m) => m !== frozen);
    // The table is recorded: a failed deletion only leaves segments that replay skips.
    await log.deleteSegmentsBefore(replayFrom).catch((err: unknown) => options.onError?.('delete commit-log segments', err));
    stats.flushes++;
    stats.flushBytes += meta.file_bytes;
    options.onTablesChanged?.();
  }
}
