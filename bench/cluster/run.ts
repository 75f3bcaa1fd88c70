/**
 * `npm run bench:cluster`: the embedding API end to end on this machine — a
 * 5-node cluster (N3 W2 R2) on worker threads, each node with its own LSM
 * engine, clients on the main thread. Measures put and get throughput with a
 * bounded number of requests in flight, and per-request latency
 * percentiles; then the same puts with one node killed (sloppy quorum,
 * hints), and hint replay time after it restarts.
 * Writes bench/results/cluster.json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openCluster, type Cluster } from '../../src/index.js';
import { machine, percentile, writeResults } from '../common/report.js';

const NODES = 5;
const IN_FLIGHT = 256;
const quick = process.argv.includes('--quick');
const OPS = quick ? 5_000 : 40_000;
const VALUE = 'x'.repeat(100);

/** Run `count` requests with `IN_FLIGHT` outstanding; returns ops/s and latency samples (µs). */
async function drive(count: number, request: (i: number) => Promise<unknown>): Promise<{ ops_per_s: number; latencies_us: number[]; failed: number }> {
  const latencies_us: number[] = [];
  let next = 0;
  let failed = 0;
  const start = performance.now();
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      try {
        await request(i);
        latencies_us.push((performance.now() - t0) * 1000);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return { ops_per_s: Math.round(count / ((performance.now() - start) / 1000)), latencies_us, failed };
}

function summary(run: { ops_per_s: number; latencies_us: number[]; failed: number }): Record<string, number> {
  return {
    ops_per_s: run.ops_per_s,
    p50_us: Math.round(percentile(run.latencies_us, 50)),
    p99_us: Math.round(percentile(run.latencies_us, 99)),
    failed: run.failed,
  };
}

async function until(check: () => Promise<boolean>, timeout_ms: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeout_ms) {
    if (await check()) return Math.round(performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return -1;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(os.tmpdir(), 'ringkv-bench-cluster-'));
  let cluster: Cluster | undefined;
  try {
    cluster = await openCluster({ nodes: NODES, dataDir: dir, replication: { n: 3, w: 2, r: 2 }, syncMode: 'periodic' });
    const c = cluster;
    await drive(2_000, (i) => c.put(`warm-${i}`, VALUE)); // JIT and thread warm-up
    const puts = await drive(OPS, (i) => c.put(`key-${i}`, VALUE));
    const gets = await drive(OPS, (i) => c.get(`key-${i}`));
    await c.crash('n3');
    const degraded = await drive(Math.floor(OPS / 4), (i) => c.put(`down-${i}`, VALUE));
    // Asks to the dead node time out after REPLICA_ASK_TIMEOUT_MS before their fallback stores the hint.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const hints = (await c.status()).members.reduce((sum, m) => sum + (m.hintsHeld ?? 0), 0);
    await c.restart('n3');
    const replay_ms = await until(async () => (await c.status()).members.every((m) => m.hintsHeld === 0), 120_000);
    const results = {
      machine: machine(),
      config: { nodes: NODES, n: 3, w: 2, r: 2, in_flight: IN_FLIGHT, ops: OPS, value_bytes: VALUE.length, sync_mode: 'periodic', quick },
      put: summary(puts),
      get: summary(gets),
      put_with_one_node_down: summary(degraded),
      hints_stored_while_down: hints,
      hint_replay_ms_after_restart: replay_ms,
    };
    console.log(JSON.stringify(results, null, 2));
    console.log(`wrote ${writeResults('cluster', results)}`);
  } finally {
    await cluster?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
