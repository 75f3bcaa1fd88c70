/**
 * `npm run bench:storage` (`--quick` for a short run): ringkv's LSM engine
 * against LMDB (lmdb-js) on the same machine, in one process, one engine
 * after the other, on the same workload, and writes
 * bench/results/storage.json.
 *
 * This benchmark imports `lmdb` (in lmdb_phase.ts) directly: LMDB is the
 * baseline being compared against, not product code. In the product only
 * `storage/hint_store.ts` imports `lmdb`.
 *
 * Workload: KEYS keys `key:` + 8-digit index, written once each in a seeded
 * random order, 100-byte random values, at most WRITE_WINDOW writes
 * unacknowledged at a time; then every key read once in another random order
 * after an untimed warm-up pass (which checks every value), then MISS_KEYS
 * reads of absent keys.
 *
 * Fairness choices (also written to the results' `config`):
 * - Same durability class: ringkv `batch` sync (a put resolves after the
 *   group-commit fsync covering it); LMDB's put counts when its commit is
 *   fsynced (`separateFlushed` + the put's `flushed` promise; see
 *   lmdb_phase.ts for why the default commit promise is not enough on Linux).
 * - Same bytes per key: LMDB stores encoded clock ‖ value, what ringkv keeps.
 * - ringkv's put rate is time to the last ack, like LMDB's; the memtable flush
 *   and compactions that finish afterwards are reported separately
 *   (`ringkv_flush_and_compact_s`). Compactions run on the piscina pool during
 *   the load, as in production.
 * - Reads happen after ringkv flushed everything and the size-tiered policy
 *   picked nothing more; both stores are read with warm OS page caches; ringkv
 *   keeps its production block cache size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { BLOOM_FP_RATE_DEFAULT, MEMTABLE_FLUSH_BYTES, SSTABLE_BLOCK_CACHE_BYTES } from '../../src/core/limits.js';
import { seedFrom } from '../../src/core/prng.js';
import { machine, writeResults } from '../common/report.js';
import { runLmdb } from './lmdb_phase.js';
import { runRingkv } from './ringkv_phase.js';
import { buildWorkload } from './workload.js';

const quick = process.argv.includes('--quick');
const KEYS = quick ? 100_000 : 1_000_000;
const VALUE_BYTES = 100;
/** Absent keys read (and probed against every filter) to measure misses and the FP rate. */
const MISS_KEYS = quick ? 100_000 : 200_000;
/** Most writes unacknowledged at once, for both engines. */
const WRITE_WINDOW = 2_000;
/** Block cache of ringkv's second read pass: holds every table of the full run (~163 MB). */
const FITTING_BLOCK_CACHE_BYTES = 512 * 1024 * 1024;
/** Measured FP rate must lie within [configured / 1.5, configured × 1.5]. */
const BLOOM_TOLERANCE = 1.5;
const SEED = seedFrom(process.env.SEED, 0x5eed_5107);

function log(line: string): void {
  console.log(line);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function main(): Promise<void> {
  const config = {
    quick,
    keys: KEYS,
    key_format: '`key:` + 8-digit zero-padded index (12 bytes), written once each in a seeded random order',
    value_bytes: VALUE_BYTES,
    value_content: 'seeded random bytes (incompressible), identical for both engines',
    miss_keys: MISS_KEYS,
    seed: SEED,
    write_window: WRITE_WINDOW,
    write_ack: 'both: the put counts once it is fsynced. ringkv: syncMode batch (group commit in the commit log). lmdb-js: default async batched transactions (overlappingSync on Linux) with separateFlushed, window waits on each put\'s flushed promise',
    lmdb_stored_value: 'encoded vector clock ‖ value, the bytes ringkv keeps per key',
    ringkv_memtable_flush_bytes: MEMTABLE_FLUSH_BYTES,
    ringkv_block_cache_bytes: SSTABLE_BLOCK_CACHE_BYTES,
    ringkv_fitting_block_cache_bytes: FITTING_BLOCK_CACHE_BYTES,
    get_ops_per_s_fitting_cache: 'second ringkv read pass after reopening the same tables with a block cache that holds them all (LMDB reads through the OS page cache, which holds its whole file); the targets use get_ops_per_s (production block cache)',
    ringkv_compaction: 'size-tiered policy (pickCompaction) driven on every flush, merges on the piscina pool (PoolCompactionExecutor) during the load; reads start after flush and when the policy picks nothing',
    reads: 'every key once in a second seeded random order, after one untimed warm-up pass that checks every value; single thread, synchronous gets',
    bloom_fp_rate_measured: 'positives / probes over every live table\'s filter and every miss key (absent keys of the same shape)',
    bloom_target: `measured within [configured / ${BLOOM_TOLERANCE}, configured × ${BLOOM_TOLERANCE}]`,
    write_amplification: '(commitLogBytes + flushBytes + compactionBytesOut) / userBytes; userBytes = key + clock + value bytes',
    order: 'ringkv then lmdb, sequentially in one process, separate fresh directories under os.tmpdir()',
  };
  console.log('ringkv storage benchmark', JSON.stringify({ config, machine: machine() }, null, 2));

  const work = buildWorkload(KEYS, VALUE_BYTES, MISS_KEYS, SEED);
  const ringkvDir = mkdtempSync(join(os.tmpdir(), 'ringkv-bench-storage-ringkv-'));
  const lmdbDir = mkdtempSync(join(os.tmpdir(), 'ringkv-bench-storage-lmdb-'));
  try {
    const ringkv = await runRingkv(
      work,
      { dir: ringkvDir, window: WRITE_WINDOW, bloomFpRate: BLOOM_FP_RATE_DEFAULT, memtableFlushBytes: MEMTABLE_FLUSH_BYTES, blockCacheBytes: SSTABLE_BLOCK_CACHE_BYTES, fittingBlockCacheBytes: FITTING_BLOCK_CACHE_BYTES },
      log,
    );
    log(`ringkv: put ${ringkv.put_ops_per_s}/s, get ${ringkv.get_ops_per_s}/s, miss ${ringkv.get_miss_ops_per_s}/s, ${ringkv.tables} tables`);
    const lmdb = await runLmdb(work, { dir: lmdbDir, window: WRITE_WINDOW }, log);
    log(`lmdb: put ${lmdb.put_ops_per_s}/s, get ${lmdb.get_ops_per_s}/s, miss ${lmdb.get_miss_ops_per_s}/s`);

    const s = ringkv.stats;
    const written = s.commitLogBytes + s.flushBytes + s.compactionBytesOut;
    const configuredFp = BLOOM_FP_RATE_DEFAULT;
    const measuredFp = ringkv.bloom_fp_rate_filters;
    writeResults('storage', {
      put_ops_per_s: ringkv.put_ops_per_s,
      get_ops_per_s: ringkv.get_ops_per_s,
      get_miss_ops_per_s: ringkv.get_miss_ops_per_s,
      get_ops_per_s_fitting_cache: ringkv.get_ops_per_s_fitting_cache,
      lmdb_put_ops_per_s: lmdb.put_ops_per_s,
      lmdb_get_ops_per_s: lmdb.get_ops_per_s,
      lmdb_get_miss_ops_per_s: lmdb.get_miss_ops_per_s,
      put_vs_lmdb_ratio: round3(ringkv.put_ops_per_s / lmdb.put_ops_per_s),
      get_vs_lmdb_ratio: round3(ringkv.get_ops_per_s / lmdb.get_ops_per_s),
      bloom_fp_rate_configured: configuredFp,
      bloom_fp_rate_measured: Math.round(measuredFp * 1e5) / 1e5,
      bloom_fp_rate_engine_counters: Math.round(ringkv.bloom_fp_rate_engine * 1e5) / 1e5,
      write_amplification: round3(written / s.userBytes),
      user_bytes: s.userBytes,
      commit_log_bytes: s.commitLogBytes,
      flush_bytes: s.flushBytes,
      compaction_bytes_in: s.compactionBytesIn,
      compaction_bytes_out: s.compactionBytesOut,
      ringkv_flushes: s.flushes,
      ringkv_compactions: s.compactions,
      ringkv_tables: ringkv.tables,
      ringkv_table_bytes: ringkv.table_bytes,
      ringkv_flush_and_compact_s: round3(ringkv.flush_and_compact_s),
      lmdb_file_bytes: lmdb.file_bytes,
      target_put_ge_lmdb: ringkv.put_ops_per_s >= lmdb.put_ops_per_s,
      target_get_ge_half_lmdb: ringkv.get_ops_per_s >= 0.5 * lmdb.get_ops_per_s,
      target_get_ge_half_lmdb_fitting_cache: ringkv.get_ops_per_s_fitting_cache >= 0.5 * lmdb.get_ops_per_s,
      target_bloom_within_1_5x: measuredFp <= configuredFp * BLOOM_TOLERANCE && measuredFp >= configuredFp / BLOOM_TOLERANCE,
      ringkv_table_filters: ringkv.table_filters,
      config,
      machine: machine(),
      measured_at: new Date().toISOString(),
    });
  } finally {
    rmSync(ringkvDir, { recursive: true, force: true });
    rmSync(lmdbDir, { recursive: true, force: true });
  }
}

await main();
