/**
 * The engine's side of a compaction: merges run elsewhere (a
 * `CompactionExecutor`, on the compaction pool); the engine only hands out
 * tasks over tables it reserves and swaps results in.
 *
 *   begin  → reserve the inputs, hold every table the merge reads (inputs
 *            and the `others` whose bloom filters guard tombstone purges),
 *            describe the job (`CompactionTask`);
 *   finish → one manifest edit adds the output and removes the inputs; the
 *            inputs' files go once no scan reads them;
 *   abort  → release the inputs and remove any partial output.
 *
 * Thread contract: the engine's thread only.
 */
import { assert } from '../src/core/assert.js';
import { isPlanted } from '../src/core/planted_bugs.js';
import type { BlockCache } from './block_cache.js';
import type { CompactionResult, CompactionTask } from './compaction_task.js';
import type { TableSize } from './compaction_policy.js';
import type { EngineStats, ResolvedEngineOptions } from './engine_options.js';
import type { FlushPipeline } from './flush_pipeline.js';
import { manifestTable, type Manifest } from './manifest.js';
import { SSTableReader } from './sstable_reader.js';
import type { LiveTable, TableSet } from './table_set.js';

/** What the swap works with: the engine's own parts. */
export interface CompactionSwapDeps {
  options: ResolvedEngineOptions;
  manifest: Manifest;
  tables: TableSet;
  cache: BlockCache;
  stats: EngineStats;
  flushes: FlushPipeline;
  /** Told when a compaction released its inputs (finished or aborted): a damaged input may now be quarantined. */
  onReleased: () => void;
}

/** Reservations and result swaps of the compactions running on one engine. */
export class CompactionSwap {
  /** Tables handed to a compaction and not yet swapped back. */
  private readonly compacting = new Set<number>();
  /**
   * The tables each running compaction reads (inputs and the `others` whose
   * bloom filters guard tombstone purges), by output path. Held like a scan's
   * snapshot so that a concurrent compaction retiring one of the `others`
   * does not delete its file before this compaction has opened it.
   */
  private readonly compactionReads = new Map<string, LiveTable[]>();

  constructor(private readonly deps: CompactionSwapDeps) {}

  /** True while table `fileNumber` is an input of a running compaction. */
  isCompacting(fileNumber: number): boolean {
    return this.compacting.has(fileNumber);
  }

  /** Live tables not being compacted, for the compaction policy. */
  candidates(): TableSize[] {
    return this.deps.tables.tables
      .filter((t) => !this.compacting.has(t.fileNumber) && t.damage === undefined)
      .map((t) => ({ fileNumber: t.fileNumber, bytes: t.reader.meta.file_bytes }));
  }

  /** Reserve `fileNumbers` for a compaction and describe the job; undefined if one is no longer live or free. */
  begin(fileNumbers: readonly number[]): CompactionTask | undefined {
    const { options, manifest, tables, flushes } = this.deps;
    const live = new Map(tables.tables.filter((t) => t.damage === undefined).map((t) => [t.fileNumber, t]));
    if (fileNumbers.length === 0 || fileNumbers.some((n) => !live.has(n) || this.compacting.has(n))) return undefined;
    for (const n of fileNumbers) this.compacting.add(n);
    const inputs = new Set(fileNumbers);
    const output = manifest.tablePath(manifest.allocateFileNumber());
    this.compactionReads.set(output, tables.acquire());
    const now_ms = options.now();
    // Versions still in memtables are in no table, yet a purged tombstone would resurrect the ones it
    // shadows (a stale write that arrived after the tombstone was flushed): their keys guard purges too.
    // Skipped when no input holds anything old enough to purge.
    const mayPurge = fileNumbers.some((n) => live.get(n)!.reader.meta.min_ts_ms < now_ms - options.tombstoneGrace_ms);
    return {
      inputs: fileNumbers.map((n) => live.get(n)!.reader.path),
      others: tables.tables.filter((t) => !inputs.has(t.fileNumber)).map((t) => t.reader.path),
      ...(mayPurge ? { unflushedKeys: flushes.unflushedKeysFilter() } : {}),
      output,
      now_ms,
      tombstoneGrace_ms: options.tombstoneGrace_ms,
      // Test-only planted bug 'timer-only-purge' (src/core/planted_bugs.ts): purge unconfirmed tombstones too.
      requireConfirmation: !isPlanted('timer-only-purge'),
      bloomFpRate: options.bloomFpRate,
    };
  }

  /** Swap a finished compaction's output in and its inputs out, atomically in the manifest. */
  async finish(task: CompactionTask, result: CompactionResult): Promise<void> {
    const { options, manifest, tables, cache, stats } = this.deps;
    const inputs = task.inputs.map(fileNumberOf);
    try {
      const outputNumber = fileNumberOf(task.output);
      const reader = result.meta ? await SSTableReader.open(options.fs, task.output, { cache }) : undefined;
      await manifest.apply({ add: result.meta ? [manifestTable(outputNumber, result.meta)] : [], remove: inputs });
      if (reader) tables.add([{ fileNumber: outputNumber, reader }]);
      tables.retire(inputs);
      stats.compactions++;
      stats.compactionBytesIn += result.bytesIn;
      stats.compactionBytesOut += result.bytesOut;
      for (const c of result.dotConflicts) options.onDotConflict?.(c.key, c.a, c.b);
    } finally {
      for (const n of inputs) this.compacting.delete(n);
      this.releaseReads(task);
      this.deps.onReleased();
    }
  }

  /** Give up a compaction: release its inputs and remove any partial output. */
  async abort(task: CompactionTask): Promise<void> {
    for (const n of task.inputs.map(fileNumberOf)) this.compacting.delete(n);
    this.releaseReads(task);
    this.deps.onReleased();
    await this.deps.options.fs.remove(task.output);
  }

  private releaseReads(task: CompactionTask): void {
    const held = this.compactionReads.get(task.output);
    if (held === undefined) return;
    this.compactionReads.delete(task.output);
    this.deps.tables.release(held);
  }
}

/** The file number in an SSTable path ("…/00000042.sst" → 42). */
export function fileNumberOf(path: string): number {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const n = Number.parseInt(name, 10);
  assert(Number.isSafeInteger(n), `an SSTable path ends in its file number: ${path}`);
  return n;
}
