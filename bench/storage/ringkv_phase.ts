/**
 * The ringkv side of the storage benchmark: load the workload into a fresh
 * `StorageEngine` on the real disk (batch sync: a put resolves after the
 * group-commit fsync that covers it) with compactions on the piscina pool as
 * in production, then flush and let the size-tiered policy finish, then time
 * random reads of present keys (warm) and of absent keys, and measure the
 * bloom filters' false-positive rate two ways.
 */
import { join } from 'node:path';
import { encodeClock, increment, vectorClockOrder } from '../../src/core/vector_clock.js';
import { PoolCompactionExecutor } from '../../storage/compaction_pool.js';
import { StorageEngine, type EngineStats } from '../../storage/engine.js';
import { sstableFileName } from '../../storage/manifest.js';
import { RealFileSystem } from '../../storage/real_fs.js';
import { SSTableReader } from '../../storage/sstable_reader.js';
import type { Version } from '../../storage/version.js';
import { CompactionDriver } from './compaction_driver.js';
import { rate, windowedWrites, type Workload } from './workload.js';

/** Knobs of the ringkv run (all recorded in the results' config). */
export interface RingkvConfig {
  dir: string;
  window: number;
  bloomFpRate: number;
  memtableFlushBytes: number;
  blockCacheBytes: number;
  /** Block cache of the second read pass, big enough for every table (as LMDB reads through the whole page cache). */
  fittingBlockCacheBytes: number;
}

/** What the ringkv run measured. */
export interface RingkvFigures {
  put_ops_per_s: number;
  /** Seconds from the last put's ack until the last memtable is flushed and the policy picks nothing. */
  flush_and_compact_s: number;
  get_ops_per_s: number;
  get_miss_ops_per_s: number;
  /** Present-key reads after reopening with `fittingBlockCacheBytes`, warm. */
  get_ops_per_s_fitting_cache: number;
  tables: number;
  table_bytes: number;
  /** Per live table: entries and the false-positive rate of its filter over every miss key. */
  table_filters: { file_number: number; entries: number; bytes: number; positives: number; fp_rate: number }[];
  /** Filter positives / filter probes, over every live table's filter and every miss key. */
  bloom_fp_rate_filters: number;
  /** tablesConsulted / (tablesConsulted + bloomNegatives) during the miss-read phase. */
  bloom_fp_rate_engine: number;
  stats: EngineStats;
}

/** Load, settle, read; the engine and the pool are closed before it returns. */
export async function runRingkv(work: Workload, config: RingkvConfig, log: (line: string) => void): Promise<RingkvFigures> {
  const fs = new RealFileSystem();
  const pool = new PoolCompactionExecutor();
  let driver: CompactionDriver | undefined;
  const open = (blockCacheBytes: number): Promise<StorageEngine> =>
    StorageEngine.open({
      fs,
      dir: config.dir,
      order: vectorClockOrder,
      now: () => Date.now(),
      syncMode: 'batch',
      memtableFlushBytes: config.memtableFlushBytes,
      bloomFpRate: config.bloomFpRate,
      blockCacheBytes,
      onTablesChanged: () => driver?.poke(),
      onError: (what, err) => log(`ringkv background error in ${what}: ${String(err)}`),
    });
  let engine = await open(config.blockCacheBytes);
  driver = new CompactionDriver(engine, pool);
  try {
    const n = work.keys.length;
    // Every key is written once by one coordinator: clock {bench-node: 1}.
    const clock = encodeClock(increment([], 'bench-node', Date.now()));
    const ts_ms = Date.now();
    const putStart = performance.now();
    await windowedWrites(n, config.window, (i) => {
      const k = work.writeOrder[i]!;
      return engine.put(work.keys[k]!, { clock, value: work.values[k]!, ts_ms });
    });
    const put_ms = performance.now() - putStart;
    log(`ringkv put: ${n} keys in ${(put_ms / 1000).toFixed(2)} s, ${engine.tableCount} tables, ${driver.compactions} compactions so far`);

    const settleStart = performance.now();
    await engine.flush();
    await driver.settle();
    const flush_and_compact_s = (performance.now() - settleStart) / 1000;
    log(`ringkv flush + compaction settled in ${flush_and_compact_s.toFixed(2)} s: ${engine.tableCount} tables after ${driver.compactions} compactions`);

    const get_ms = timedReads(engine, work);

    const consultedBefore = engine.stats.tablesConsulted;
    const negativesBefore = engine.stats.bloomNegatives;
    const missStart = performance.now();
    for (const key of work.missKeys) {
      if (engine.get(key).length !== 0) throw new Error('ringkv found a key that was never written');
    }
    const miss_ms = performance.now() - missStart;
    const consulted = engine.stats.tablesConsulted - consultedBefore;
    const negatives = engine.stats.bloomNegatives - negativesBefore;

    const table_filters = await probeFilters(fs, config.dir, engine, work.missKeys);
    const stats = { ...engine.stats };
    const tables = engine.tableCount;

    // Same tables, reopened with a block cache that holds them all (no writes, so no compactions).
    await driver.stop();
    await engine.close();
    engine = await open(config.fittingBlockCacheBytes);
    const fitting_get_ms = timedReads(engine, work);
    log(`ringkv get with a ${config.fittingBlockCacheBytes >> 20} MiB block cache: ${rate(n, fitting_get_ms)}/s`);

    const probes = table_filters.length * work.missKeys.length;
    const positives = table_filters.reduce((sum, t) => sum + t.positives, 0);
    return {
      put_ops_per_s: rate(n, put_ms),
      flush_and_compact_s,
      get_ops_per_s: rate(n, get_ms),
      get_miss_ops_per_s: rate(work.missKeys.length, miss_ms),
      get_ops_per_s_fitting_cache: rate(n, fitting_get_ms),
      tables,
      table_bytes: table_filters.reduce((sum, t) => sum + t.bytes, 0),
      table_filters,
      bloom_fp_rate_filters: probes === 0 ? 0 : positives / probes,
      bloom_fp_rate_engine: consulted + negatives === 0 ? 0 : consulted / (consulted + negatives),
      stats,
    };
  } finally {
    await driver.stop();
    await engine.close();
    await pool.close();
  }
}

/** One untimed warm-up pass that checks every value byte for byte, then a timed pass; returns its ms. */
function timedReads(engine: StorageEngine, work: Workload): number {
  const n = work.keys.length;
  for (let i = 0; i < n; i++) {
    const k = work.readOrder[i]!;
    checkValue(engine.get(work.keys[k]!), work.values[k]!, k);
  }
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const found = engine.get(work.keys[work.readOrder[i]!]!);
    if (found.length !== 1 || found[0]!.value === null) throw new Error(`ringkv lost key ${work.readOrder[i]}`);
  }
  return performance.now() - start;
}

/** Ask every live table's filter about every absent key, through a reader of its own. */
async function probeFilters(fs: RealFileSystem, dir: string, engine: StorageEngine, missKeys: Uint8Array[]): Promise<RingkvFigures['table_filters']> {
  const out: RingkvFigures['table_filters'] = [];
  for (const table of engine.compactionCandidates()) {
    const reader = await SSTableReader.open(fs, join(dir, sstableFileName(table.fileNumber)));
    try {
      let positives = 0;
      for (const key of missKeys) if (reader.mayContain(key)) positives++;
      out.push({ file_number: table.fileNumber, entries: reader.meta.entry_count, bytes: table.bytes, positives, fp_rate: positives / missKeys.length });
    } finally {
      await reader.close();
    }
  }
  return out;
}

function checkValue(found: Version[], expected: Uint8Array, index: number): void {
  const value = found.length === 1 ? found[0]!.value : null;
  if (value === null || value.length !== expected.length || !value.every((b, i) => b === expected[i])) {
    throw new Error(`ringkv returned a wrong value for key ${index} (${found.length} versions)`);
  }
}
