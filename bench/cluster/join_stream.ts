/**
 * `npm run bench:join`: issue 16's streaming figures. An embedded cluster of
 * 5 nodes (N3 W2 R2, periodic sync, the default worker threads) is loaded
 * with `--keys` keys of 100-byte values; a sixth node joins while a client
 * keeps a closed loop of reads and writes (putMany/getMany batches of 50,
 * 8 in flight) running. Measured:
 *
 *   - the join's time, split by phase (streaming until the ring switches,
 *     then the handoff from the replicas that drop ranges and their
 *     cleanup), the keys the new node received (about keys x 3/6 with N = 3:
 *     with the default 2M keys it receives about 1M), and the streaming
 *     time per million keys received;
 *   - the client's ops/s during the join against the same loop just before
 *     it (issue 16's target: at least 70%).
 *
 * Writes bench/results/join.json. `--quick`: 200k keys.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, writeResults } from '../common/report.js';
import { openCluster, type Cluster } from '../../src/index.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const keysFlag = argv.indexOf('--keys');
const KEYS = keysFlag >= 0 ? Number(argv[keysFlag + 1]) : quick ? 200_000 : 2_000_000;
const rateFlag = argv.indexOf('--rate');
/** `--rate BYTES`: the transfers' throttle (`ClusterOptions.transfers.bytesPerSecond`); default the cluster's. */
const RATE = rateFlag >= 0 ? Number(argv[rateFlag + 1]) : undefined;
const VALUE = 'v'.repeat(100);
const BATCH = 50;
const IN_FLIGHT = 8;
/** Load batches in flight. */
const LOAD_IN_FLIGHT = 4;
const LOAD_BATCH = 500;
const BASELINE_MS = quick ? 5_000 : 15_000;

/** Closed loop until `stop()` says so: half putMany, half getMany batches over the loaded keys; ops counted. */
async function clientLoop(cluster: Cluster, stop: () => boolean): Promise<{ ops: number; failed: number; ms: number }> {
  let ops = 0;
  let failed = 0;
  let seq = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, lane) => {
      while (!stop()) {
        const keys = Array.from({ length: BATCH }, () => `key-${Math.floor(Math.random() * KEYS)}`);
        if ((seq++ + lane) % 2 === 0) {
          const outcomes = await cluster.putMany(keys.map((key) => ({ key, value: VALUE, options: { overwrite: true, returnContext: false } })));
          for (const o of outcomes) o.ok ? ops++ : failed++;
        } else {
          const outcomes = await cluster.getMany(keys.map((key) => ({ key })));
          for (const o of outcomes) o.ok ? ops++ : failed++;
        }
      }
    }),
  );
  return { ops, failed, ms: performance.now() - started };
}

const dir = await mkdtemp(join(tmpdir(), 'ringkv-bench-join-'));
try {
  const cluster = await openCluster({ nodes: 5, dataDir: dir, replication: { n: 3, w: 2, r: 2 }, syncMode: 'periodic', ...(RATE !== undefined ? { transfers: { bytesPerSecond: RATE } } : {}) });
  try {
    const loadStart = performance.now();
    for (let at = 0; at < KEYS; at += LOAD_BATCH * LOAD_IN_FLIGHT) {
      await Promise.all(
        Array.from({ length: LOAD_IN_FLIGHT }, async (_, lane) => {
          const from = at + lane * LOAD_BATCH;
          if (from >= KEYS) return;
          let entries = Array.from({ length: Math.min(LOAD_BATCH, KEYS - from) }, (_, i) => ({ key: `key-${from + i}`, value: VALUE, options: { returnContext: false } }));
          // Writes refused under load (the coordinator's in-flight bound) are written again.
          for (let attempt = 0; entries.length > 0; attempt++) {
            if (attempt === 5) throw new Error(`load writes failed 5 times: ${JSON.stringify(entries.length)} left`);
            const outcomes = await cluster.putMany(entries);
            entries = entries.filter((_, i) => !outcomes[i]!.ok);
          }
        }),
      );
      if ((at / (LOAD_BATCH * LOAD_IN_FLIGHT)) % 25 === 0) process.stdout.write(`\rloaded ${at.toLocaleString('en-US')} of ${KEYS.toLocaleString('en-US')} keys`);
    }
    const loadSeconds = (performance.now() - loadStart) / 1000;
    console.log(`\rloaded ${KEYS.toLocaleString('en-US')} keys in ${loadSeconds.toFixed(1)} s (${Math.round(KEYS / loadSeconds).toLocaleString('en-US')} keys/s)`);

    // The client alone, then the same client during the join.
    const baselineEnd = performance.now() + BASELINE_MS;
    const before = await clientLoop(cluster, () => performance.now() > baselineEnd);
    const beforeRate = (before.ops / before.ms) * 1000;
    console.log(`client before the join: ${Math.round(beforeRate).toLocaleString('en-US')} ops/s (${before.failed} failed)`);

    let joined = false;
    const joinStart = performance.now();
    const joining = cluster.addNode({ id: 'n6' }).then((plan) => {
      joined = true;
      return plan;
    });
    // When each phase was first seen (the stream ends when the ring switches; handoff and cleanup follow).
    const phases: Record<string, number> = {};
    const watching = (async () => {
      while (!joined) {
        const phase = (await cluster.transfers()).phase;
        if (phase !== null && phases[phase] === undefined) phases[phase] = (performance.now() - joinStart) / 1000;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const during = await clientLoop(cluster, () => joined);
    await watching;
    const plan = await joining;
    const joinSeconds = (performance.now() - joinStart) / 1000;
    const duringRate = (during.ops / during.ms) * 1000;
    const status = await cluster.status();
    const streamed = status.members.find((m) => m.id === 'n6')?.keysEstimate ?? null;
    const streamSeconds = phases['switching'] ?? phases['handoff'] ?? phases['cleanup'] ?? joinSeconds;
    console.log(`phases (s from the start): ${JSON.stringify(phases)}; streaming took ${streamSeconds.toFixed(1)} s`);
    console.log(`join: ${joinSeconds.toFixed(1)} s, the new node holds ${streamed?.toLocaleString('en-US') ?? '?'} keys (moved share of copies ${(plan.movedShare * 100).toFixed(2)}%)`);
    console.log(`client during the join: ${Math.round(duringRate).toLocaleString('en-US')} ops/s (${during.failed} failed), ${(duringRate / beforeRate).toFixed(2)}x of before`);
    writeResults('join', {
      machine: machine(),
      quick,
      shape: { nodes_before: 5, nodes_after: 6, n: 3, w: 2, r: 2, sync: 'periodic', value_bytes: VALUE.length, client: { batch: BATCH, in_flight: IN_FLIGHT, mix: 'half putMany, half getMany' } },
      keys: KEYS,
      transfer_bytes_per_second_limit: RATE ?? 'default (16 MiB)',
      load_seconds: loadSeconds,
      join_seconds: joinSeconds,
      stream_seconds: streamSeconds,
      phase_started_s: phases,
      keys_on_new_node: streamed,
      stream_seconds_per_million_keys: streamed ? streamSeconds / (streamed / 1e6) : null,
      moved_share_of_copies: plan.movedShare,
      client_ops_per_s_before: beforeRate,
      client_ops_per_s_during: duringRate,
      client_during_over_before: duringRate / beforeRate,
      client_failed_during: during.failed,
    });
  } finally {
    await cluster.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
