/**
 * The anti-entropy part of `npm run bench:ae` that runs a real cluster
 * (5 nodes N3 W2 R2 on worker threads, periodic sync, 100-byte values,
 * the embedding API with 64 requests in flight):
 *
 * - client cost: put and get throughput with anti-entropy off, and on with
 *   exchanges running the whole time (a repair pass started before each
 *   measurement, exchanges every 500 ms), rounds alternated off/on/off/on
 *   so the machine's drift hits both; the figure is on/off of the summed
 *   rounds. Target (issue 15): at most 10% lower.
 * - repair: a node whose data directory is deleted while it is down comes
 *   back empty; a repair pass refills it from its peers. Time and keys.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openCluster, type Cluster } from '../../src/index.js';
import type { ClusterOptions } from '../../src/cluster/cluster_types.js';

const IN_FLIGHT = 64;
const VALUE = 'x'.repeat(100);

/** Requests `count`, `IN_FLIGHT` at a time; ops/s. */
async function drive(count: number, request: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  const lane = async (): Promise<void> => {
    while (next < count) await request(next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return count / ((performance.now() - start) / 1000);
}

async function withCluster<T>(antiEntropy: ClusterOptions['antiEntropy'], body: (cluster: Cluster, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(os.tmpdir(), 'ringkv-bench-ae-'));
  const cluster = await openCluster({ nodes: 5, dataDir: dir, replication: { n: 3, w: 2, r: 2 }, syncMode: 'periodic', antiEntropy });
  try {
    return await body(cluster, dir);
  } finally {
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export interface ClientCost {
  ops_per_round: number;
  rounds: { anti_entropy: boolean; puts_per_s: number; gets_per_s: number; exchanges: number; keys_repaired: number }[];
  /** Summed rounds, on / off. */
  put_ratio_on_off: number;
  get_ratio_on_off: number;
}

/** Client throughput with anti-entropy off and on (header). */
export async function clientCost(quick: boolean): Promise<ClientCost> {
  const ops = quick ? 6_000 : 30_000;
  const rounds: ClientCost['rounds'] = [];
  for (const on of [false, true, false, true]) {
    const round = await withCluster(on ? { intervalMs: 500 } : false, async (c) => {
      await drive(2_000, (i) => c.put(`warm-${i}`, VALUE));
      if (on) await c.repair();
      const puts = await drive(ops, (i) => c.put(`key-${i}`, VALUE));
      if (on) await c.repair();
      const gets = await drive(ops, (i) => c.get(`key-${i}`));
      let exchanges = 0;
      let keysRepaired = 0;
      for (const m of (await c.status()).members) {
        const ae = m.antiEntropy;
        if (ae) {
          exchanges += ae.exchanges['in-sync'] + ae.exchanges.diverged + ae.exchanges['full-sync'];
          keysRepaired += ae.keysRepaired;
        }
      }
      return { anti_entropy: on, puts_per_s: Math.round(puts), gets_per_s: Math.round(gets), exchanges, keys_repaired: keysRepaired };
    });
    console.log(JSON.stringify(round));
    rounds.push(round);
  }
  const sum = (on: boolean, field: 'puts_per_s' | 'gets_per_s'): number => rounds.filter((r) => r.anti_entropy === on).reduce((s, r) => s + r[field], 0);
  return {
    ops_per_round: ops,
    rounds,
    put_ratio_on_off: Math.round((sum(true, 'puts_per_s') / sum(false, 'puts_per_s')) * 1000) / 1000,
    get_ratio_on_off: Math.round((sum(true, 'gets_per_s') / sum(false, 'gets_per_s')) * 1000) / 1000,
  };
}

export interface RefillFigures {
  keys: number;
  /** Keys the emptied node held again once the pass was over, out of a sample. */
  sample_held: number;
  sample: number;
  repair_ms: number;
  keys_repaired: number;
  exchanges: number;
}

/** A node that lost its data directory, refilled by a repair pass (header). */
export async function refill(quick: boolean): Promise<RefillFigures> {
  const keys = quick ? 5_000 : 30_000;
  return withCluster({ intervalMs: 60_000 }, async (c, dir) => {
    await drive(keys, (i) => c.put(`key-${i}`, VALUE, { w: 3 }));
    await c.crash('n3');
    await rm(join(dir, 'n3'), { recursive: true, force: true });
    await c.restart('n3');
    const started = performance.now();
    let report = await c.repair();
    while (report.running) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      report = await c.repairProgress();
    }
    const repair_ms = Math.round(performance.now() - started);
    const sample = 200;
    let held = 0;
    let owned = 0;
    for (let i = 0; owned < sample && i < keys; i++) {
      const explained = await c.explain(`key-${i}`);
      const n3 = explained.replicas.find((r) => r.node === 'n3');
      if (n3 === undefined) continue;
      owned++;
      if ((n3.versions?.length ?? 0) > 0) held++;
    }
    const n3 = (await c.status()).members.find((m) => m.id === 'n3')?.antiEntropy;
    const exchanges = n3 ? n3.exchanges['in-sync'] + n3.exchanges.diverged + n3.exchanges['full-sync'] : 0;
    return { keys, sample_held: held, sample: owned, repair_ms, keys_repaired: report.keysRepaired, exchanges };
  });
}
