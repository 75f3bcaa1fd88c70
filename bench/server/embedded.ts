/**
 * The embedding API figures of issue 14, run by `npm run bench:server` in a
 * child process of its own (so its threads do not share a process with
 * anything else, and a stuck run can be killed): a 5-node cluster, N3 W2
 * R2, periodic commit-log sync, 100-byte values.
 *
 *   - sequential: one put at a time on distinct keys, then one get at a
 *     time of those keys; p50 and p99 latency (µs);
 *   - 64 in flight: puts on distinct keys with 64 outstanding; puts/s, and
 *     the process's CPU (all threads, process.cpuUsage) per put.
 *
 * Prints one line `result <json>`. `--quick` for a short run;
 * RINGKV_THREADS=K runs the nodes on K worker threads (default: the
 * cluster's, the cores but one); `--dir D`
 * puts the cluster in the empty directory D (the caller removes it; by
 * default a temporary one, removed here).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openCluster, type Cluster } from '../../src/index.js';
import { percentile } from '../common/report.js';

const quick = process.argv.includes('--quick');
const dirFlag = process.argv.indexOf('--dir');
const givenDir = dirFlag >= 0 ? process.argv[dirFlag + 1] : undefined;
/** Requests of each sequential phase. */
const SEQUENTIAL_OPS = quick ? 500 : 3_000;
/** Puts of the concurrent phase. */
const CONCURRENT_OPS = quick ? 5_000 : 30_000;
/** Requests outstanding in the concurrent phase. */
const IN_FLIGHT = 64;
/** Requests before measuring (JIT, threads awake). */
const WARMUP_OPS = quick ? 500 : 2_000;
const VALUE = 'x'.repeat(100);
const EMBEDDED_SHAPE = { nodes: 5, n: 3, w: 2, r: 2, syncMode: 'periodic', value_bytes: VALUE.length } as const;

/** Latencies (µs) of `count` requests made one after the other. */
async function sequential(count: number, request: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await request(i);
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

/** Requests/s and CPU µs per request of `count` requests with `IN_FLIGHT` outstanding. */
async function concurrent(count: number, request: (i: number) => Promise<unknown>): Promise<{ ops_per_s: number; cpu_us_per_op: number }> {
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (next < count) await request(next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { ops_per_s: Math.round(count / seconds), cpu_us_per_op: Math.round((cpu.user + cpu.system) / count) };
}

async function main(): Promise<void> {
  const dir = givenDir ?? (await mkdtemp(join(os.tmpdir(), 'ringkv-bench-embedded-')));
  let cluster: Cluster | undefined;
  try {
    const { nodes, n, w, r, syncMode } = EMBEDDED_SHAPE;
    cluster = await openCluster({ nodes, dataDir: dir, replication: { n, w, r }, syncMode, ...(process.env['RINGKV_THREADS'] ? { threads: Number(process.env['RINGKV_THREADS']) } : {}) });
    const c = cluster;
    await concurrent(WARMUP_OPS, (i) => c.put(`warm-${i}`, VALUE));
    await sequential(WARMUP_OPS / 4, (i) => c.get(`warm-${i}`));
    const puts = await sequential(SEQUENTIAL_OPS, (i) => c.put(`seq-${i}`, VALUE));
    const gets = await sequential(SEQUENTIAL_OPS, (i) => c.get(`seq-${i}`));
    const many = await concurrent(CONCURRENT_OPS, (i) => c.put(`many-${i}`, VALUE));
    const result = {
      sequential_ops: SEQUENTIAL_OPS,
      put_p50_us: Math.round(percentile(puts, 50)),
      put_p99_us: Math.round(percentile(puts, 99)),
      get_p50_us: Math.round(percentile(gets, 50)),
      get_p99_us: Math.round(percentile(gets, 99)),
      concurrent_ops: CONCURRENT_OPS,
      in_flight: IN_FLIGHT,
      puts_per_s_in_flight: many.ops_per_s,
      cpu_us_per_put_in_flight: many.cpu_us_per_op,
    };
    console.log(`result ${JSON.stringify(result)}`);
  } finally {
    await cluster?.close();
    if (givenDir === undefined) await rm(dir, { recursive: true, force: true });
  }
}

await main();
