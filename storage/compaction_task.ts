/**
 * One compaction job: open the input tables, merge them into a new table,
 * return its metadata. It runs in the compaction pool's worker threads
 * (`compaction_pool.ts`, the default export below is the pool's entry point)
 * so the merge never stalls a node's mailbox; the simulator and the
 * simulated-disk tests run the same function inline.
 *
 * The task is plain data (it crosses to a pool thread): file paths, the
 * merge's notion of now, the grace period and whether a purge needs the
 * owners' confirmation (the pool thread cannot see the node thread's
 * planted-bug switches, so the engine decides it). The caller swaps the result
 * into the manifest; this module never touches it.
 */
import { RangeSet, type RingRange } from '../src/core/ring_change.js';
import { keyPosition } from '../src/core/tokens.js';
import { DOT_CONFLICTS_REPORTED_MAX } from '../src/core/limits.js';
import { dottedVersionVectorOrder } from '../src/core/dotted_version_vector.js';
import { vectorClockOrder } from '../src/core/vector_clock.js';
import type { VersionOrder } from '../src/core/version_order.js';
import { BloomFilter } from './bloom.js';
import { mergeTables, type MergeStats } from './compaction_merge.js';
import type { FileSystem } from './fs.js';
import { RealFileSystem } from './real_fs.js';
import type { SSTableMeta } from './sstable_format.js';
import { SSTableReader } from './sstable_reader.js';
import { SSTableWriter } from './sstable_writer.js';
import type { Version } from './version.js';

/** What to compact. */
export interface CompactionTask {
  /** Paths of the tables to merge. */
  inputs: string[];
  /** Paths of the live tables left out: their bloom filters guard tombstone purges. */
  others: string[];
  /**
   * A serialized bloom filter (`BloomFilter.serialize`) of the keys in the
   * engine's memtables when the task was made: versions not yet in any table
   * guard tombstone purges like `others`. Absent when nothing can be purged.
   */
  unflushedKeys?: Uint8Array;
  /** Path of the table to write. */
  output: string;
  now_ms: number;
  tombstoneGrace_ms: number;
  /** True: purge only purgeable tombstones (`MergeRules.requireConfirmation`). */
  requireConfirmation: boolean;
  /**
   * How the tables' clocks compare: dotted version vectors (a cluster's) or
   * plain vector clocks (default; the demo and storage tests). Named, not
   * passed as a `VersionOrder`, because the task crosses to a pool thread.
   */
  clocks?: 'dvv' | 'vector-clock';
  bloomFpRate: number;
  /**
   * A cleanup after a membership change (issue 16): the ring ranges this
   * node replicates; keys outside them are not written out (their copies
   * moved to the nodes that took the ranges over). Absent: every key kept.
   */
  keep?: RingRange[];
}

/** What a compaction produced: the new table (null when every entry was purged). */
export interface CompactionResult {
  meta: SSTableMeta | null;
  stats: MergeStats;
  /** Bytes read from inputs and written to the output, for write amplification. */
  bytesIn: number;
  bytesOut: number;
  /**
   * The first DOT_CONFLICTS_REPORTED_MAX pairs of versions in conflict (one
   * dot, two values; both kept in the output), for the node to report: the
   * merge may run on a pool thread, which has no way to tell it directly.
   * `stats.dotConflicts` counts them all.
   */
  dotConflicts: { key: Uint8Array; a: Version; b: Version }[];
}

/** Runs compaction tasks somewhere (a thread pool, or inline). */
export interface CompactionExecutor {
  compact(task: CompactionTask): Promise<CompactionResult>;
  close(): Promise<void>;
}

/** The order a task's clocks compare by. */
export function orderOf(task: CompactionTask): VersionOrder {
  return task.clocks === 'dvv' ? dottedVersionVectorOrder : vectorClockOrder;
}

/** Run one task on `fs`, comparing clocks by `order` (default: the task's). */
export async function runCompaction(fs: FileSystem, task: CompactionTask, order: VersionOrder = orderOf(task)): Promise<CompactionResult> {
  const inputs: SSTableReader[] = [];
  const others: SSTableReader[] = [];
  try {
    for (const path of task.inputs) inputs.push(await SSTableReader.open(fs, path));
    for (const path of task.others) others.push(await SSTableReader.open(fs, path));
    const unflushed =
      task.unflushedKeys === undefined ? undefined : BloomFilter.deserialize(task.unflushedKeys, `${task.output} (task's unflushed keys)`);
    const writer = await SSTableWriter.create(fs, task.output, { bloomFpRate: task.bloomFpRate });
    const dotConflicts: CompactionResult['dotConflicts'] = [];
    const stats = await mergeTables(
      inputs.map((reader) => reader.scan()),
      writer,
      {
        order,
        now_ms: task.now_ms,
        tombstoneGrace_ms: task.tombstoneGrace_ms,
        requireConfirmation: task.requireConfirmation,
        mayExistElsewhere: (key, pair) => unflushed?.mayContainHash(pair) === true || others.some((reader) => reader.mayContain(key, pair)),
        ...(task.keep !== undefined ? { keep: keeper(task.keep) } : {}),
        onConflict: (key, a, b) => {
          if (dotConflicts.length < DOT_CONFLICTS_REPORTED_MAX) dotConflicts.push({ key, a, b });
        },
      },
    );
    const bytesIn = inputs.reduce((sum, reader) => sum + reader.meta.file_bytes, 0);
    if (stats.keysOut === 0) {
      await writer.abort();
      return { meta: null, stats, bytesIn, bytesOut: 0, dotConflicts };
    }
    const meta = await writer.finish();
    return { meta, stats, bytesIn, bytesOut: meta.file_bytes, dotConflicts };
  } finally {
    for (const reader of [...inputs, ...others]) await reader.close();
  }
}

/** Runs tasks on the calling thread (simulator, simulated-disk tests). */
export class InlineCompactionExecutor implements CompactionExecutor {
  constructor(
    private readonly fs: FileSystem,
    /** Overrides the task's `clocks` (tests with an order of their own). */
    private readonly order?: VersionOrder,
  ) {}

  compact(task: CompactionTask): Promise<CompactionResult> {
    return runCompaction(this.fs, task, this.order ?? orderOf(task));
  }

  async close(): Promise<void> {}
}

/** Entry point of the compaction pool's worker threads (real disk, the task's clocks). */
export default function compactOnPoolThread(task: CompactionTask): Promise<CompactionResult> {
  return runCompaction(new RealFileSystem(), task);
}

/** Whether a key is in `ranges` (a cleanup's `keep`). */
function keeper(ranges: RingRange[]): (key: Uint8Array) => boolean {
  const set = new RangeSet(ranges);
  return (key) => set.has(keyPosition(key));
}
