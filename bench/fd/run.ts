/**
 * `npm run bench:fd` (and `-- --quick`): the failure-detector benchmark.
 *
 * Runs every detector (heartbeat, phi, swim, swim+lifeguard, combined) in
 * every scenario (the clean, loss5, stall, crash, and stall_probe;
 * see scenarios.ts) on an 8-node
 * cluster in the deterministic simulator (sim_run.ts), rows spread over two
 * worker threads; then one check on real worker threads with a busy-looping
 * extra thread (real_threads.ts). Writes bench/results/fd.json, prints the
 * table and the targets.
 *
 * `SEED=n` picks the seed (default 1): same seed ⇒ same rows (each row's
 * simulator trace hash is in `details`).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { seedFrom } from '../../src/core/prng.js';
import { machine, writeResults } from '../common/report.js';
import { AFTER_STALL_WINDOW_MS, INCIDENT_GAP_MS, RECENT_MS } from './metrics.js';
import { runRealThreads, type RealRunOptions } from './real_threads.js';
import { PROBE_STALL_DELAY_MS, PROBE_WAIT_MAX_MS } from './probe_stalls.js';
import { DETECTORS, DOWN_MS, PROBE_STALL_GAP_MS, SCENARIO_SPECS, SCENARIOS, STALL_GAP_MS, STALL_MS, UP_MS } from './scenarios.js';
import { PERIOD_MS, PROBE_TIMEOUT_MS, WARMUP_MS, type RowConfig, type RowResult } from './sim_run.js';
import { evaluateTargets, printTable, printTargets, toRow } from './table.js';

const quick = process.argv.includes('--quick');
const SEED = seedFrom(process.env['SEED'], 1);
const NODES = 8;
/** Virtual time of each row, warm-up included. */
const ROW_DURATION_MS = quick ? 5 * 60_000 : 30 * 60_000;
const THREADS = Math.max(1, Math.min(2, os.cpus().length));
const REAL: RealRunOptions = quick
  ? { nodes: 4, kills: 1, warmup_ms: 5_000, detect_timeout_ms: 20_000, recover_timeout_ms: 15_000 }
  : { nodes: 5, kills: 3, warmup_ms: 8_000, detect_timeout_ms: 20_000, recover_timeout_ms: 15_000 };

const DEFINITIONS = {
  detection_ms:
    'for every crash of a node and every other node up at that moment (observer): virtual time from the crash to that ' +
    "observer's first `down` about the crashed node before it restarts. Every scenario crashes nodes (see scenarios), so every row has figures; " +
    'an observer with no `down` before the restart is a miss (`details.missed_detections`), not a sample. For the combined detector `down` is ' +
    'its two-observer decision; for the others it is their own verdict (heartbeat: timeout; phi: threshold; swim: suspicion timeout).',
  false_positives_per_node_hour:
    'false positives / (nodes × measured virtual hours), where a false positive is a `down` liveness event published by any observer about ' +
    `member M at virtual time t where M was neither crashed nor stalled at t, nor out of a stall for less than ${AFTER_STALL_WINDOW_MS} ms: ` +
    "a healthy node, Lifeguard's measure and the meaning of 'a stalled node does not accuse healthy ones'. Downs about a node restarted " +
    `less than ${RECENT_MS} ms before count (details: false_positives.about_restarted_node), as do downs published by the stalled node ` +
    '(details: false_positives.by_stalled_observer). Each published `down` counts once (detectors publish changes only), so one wrong ' +
    'accusation that spreads counts once per observer that publishes it; details: false_positives.incidents counts accusations (false ' +
    `positives about one member less than ${INCIDENT_GAP_MS} ms apart are one incident). Only events after ` +
    'the warm-up count; measured hours exclude the warm-up.',
  stalled_node_downs_per_node_hour:
    '`down` events about member M published while M was itself stalled, or within ' +
    `${AFTER_STALL_WINDOW_MS} ms after its stall ended (the detection window: the suspicion started while M was frozen), per node-hour. ` +
    "Not a false positive in the detector's sense: M really was unresponsive for up to 5 s (details: stalled_node_downs.during_stall / after_stall).",
  messages_per_member_per_s: 'cross-node messages sent by the gossip and failure-detector actors (their stats asks) / member-seconds up',
};

async function main(): Promise<void> {
  const configuration = {
    mode: quick ? 'quick' : 'full',
    seed: SEED,
    nodes: NODES,
    period_ms: PERIOD_MS,
    probe_timeout_ms: PROBE_TIMEOUT_MS,
    gossip_interval_ms: PERIOD_MS,
    row_virtual_ms: ROW_DURATION_MS,
    warmup_ms: WARMUP_MS,
    node_hours_per_row: (NODES * (ROW_DURATION_MS - WARMUP_MS)) / 3_600_000,
    sim_threads: THREADS,
    scenarios: {
      all: `a node crashes after ${UP_MS[0] / 1000}-${UP_MS[1] / 1000} s up and restarts after ${DOWN_MS[0] / 1000}-${DOWN_MS[1] / 1000} s down, over and over`,
      clean: 'reliable network; the crash victim is always the last node (n7)',
      loss5: 'as clean, and 5% of cross-node messages dropped (drop_probability 0.05)',
      stall:
        `as clean, and node n1 (a seed) has its event loop frozen (world.stall) for ${STALL_MS[0] / 1000}-${STALL_MS[1] / 1000} s, ` +
        `${STALL_GAP_MS[0] / 1000}-${STALL_GAP_MS[1] / 1000} s apart, with release '${SCENARIO_SPECS.stall.stall_release}': at the end of a stall every ` +
        'timer that came due during it (SWIM probe timeouts and ticks, ask deadlines) fires first, in due order, then the messages and replies that ' +
        "arrived meanwhile, in arrival order. This models Node's real event loop after a GC pause: its timers phase runs every expired timer " +
        'before the poll phase delivers pending I/O (the ring transport wakes through Atomics.waitAsync / setImmediate), so a paused node sees ' +
        'its probe timeouts before the acks that arrived in time',
      crash: 'reliable network; the crash victim is any node, drawn at random each time',
      stall_probe:
        "not one of the issue's four scenarios: observer stalls that begin while it has a probe in flight — the case Lifeguard's local health " +
        `awareness is designed for. As clean, and node n1 has its event loop frozen for ${STALL_MS[0] / 1000}-${STALL_MS[1] / 1000} s ` +
        `(release '${SCENARIO_SPECS.stall_probe.stall_release}', as in stall), ${PROBE_STALL_GAP_MS[0] / 1000}-${PROBE_STALL_GAP_MS[1] / 1000} s after ` +
        'the end of the previous stall, but each stall starts only when n1 has a direct SWIM probe in flight: after the gap the stall is armed, ' +
        "the harness watches n1's detector (a pass-through wrapper around the actor, no simulator change) and when it sends a direct probe " +
        `(sets the probe's timeout timer) the stall starts ${PROBE_STALL_DELAY_MS} ms later, shorter than any round trip (2 x 0.5 ms minimum ` +
        "latency), and only if the probe's ack has not been received (else it waits for the next probe). In the stall scenario a stall starts " +
        'inside that window (1-4 ms per 500 ms period) almost never. On release the probe timeout and the tick fire before the held ack, so ' +
        'plain SWIM suspects the healthy target; Lifeguard (local health awareness, nack-based) should not. Detectors that do not probe ' +
        `(heartbeat, phi) are stalled as soon as the stall is armed, and an observer with no probe within ${PROBE_WAIT_MAX_MS / 1000} s of arming ` +
        'at the end of that wait (both counted in details.probe_stalls.without_probe). Stall lengths and gaps come from the seed and are the same for every detector; start ' +
        "times follow each detector's own probes, so they differ by detector; the stalls that really happened are the ground truth for the metrics",
    },
    definitions: DEFINITIONS,
    real_threads: REAL,
  };
  console.log('fd benchmark configuration', JSON.stringify(configuration, null, 2));
  console.log('machine', JSON.stringify(machine()));

  const configs: RowConfig[] = [];
  for (const detector of DETECTORS) {
    for (const scenario of SCENARIOS) configs.push({ detector, scenario, nodes: NODES, duration_ms: ROW_DURATION_MS, seed: SEED });
  }
  const simStart = performance.now();
  const results = await runPool(configs, THREADS);
  const sim_wall_ms = Math.round(performance.now() - simStart);

  console.log(`\nreal worker threads: ${REAL.nodes} nodes (combined), one busy-looping thread, ${REAL.kills} kill(s)`);
  const real_threads = await runRealThreads(REAL);
  console.log(JSON.stringify(real_threads));

  const rows = results.map(toRow);
  const targets = evaluateTargets(results);
  printTable(rows);
  printTargets(targets);
  writeResults('fd', {
    configuration,
    machine: machine(),
    rows,
    targets,
    real_threads,
    details: results.map((r) => {
      const { detection_ms: _samples, ...figures } = r.figures;
      return { detector: r.config.detector, scenario: r.config.scenario, ...figures, crashes: r.crashes, stalls: r.stalls, ...(r.probe_stalls !== undefined ? { probe_stalls: r.probe_stalls } : {}), records: r.records, sim_events: r.sim_events, trace_hash: r.trace_hash, wall_ms: r.wall_ms };
    }),
    sim_wall_ms,
  });
}

/** Run `configs` on `threads` worker threads; results in the order of `configs`. */
async function runPool(configs: readonly RowConfig[], threads: number): Promise<RowResult[]> {
  const results: (RowResult | undefined)[] = new Array(configs.length).fill(undefined);
  let next = 0;
  const workerLoop = async (): Promise<void> => {
    const worker = new Worker(new URL('./row_worker.js', import.meta.url));
    try {
      while (next < configs.length) {
        const index = next++;
        const config = configs[index]!;
        const reply = await new Promise<{ ok: boolean; result?: RowResult; error?: string }>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.postMessage(config);
        });
        worker.removeAllListeners('error');
        if (!reply.ok || reply.result === undefined) throw new Error(`row ${config.detector}/${config.scenario} failed: ${reply.error}`);
        results[index] = reply.result;
        const f = reply.result.figures;
        console.log(
          `  ${config.detector.padEnd(15)} ${config.scenario.padEnd(11)} p50=${f.detection_ms_p50} p99=${f.detection_ms_p99} ` +
            `fp=${f.false_positives.total} (by stalled observer ${f.false_positives.by_stalled_observer}) ` +
            `stalled-node downs=${f.stalled_node_downs.total} missed=${f.missed_detections} ` +
            `msgs/member/s=${reply.result.messages_per_member_per_s} (${reply.result.wall_ms} ms)`,
        );
      }
    } finally {
      await worker.terminate();
    }
  };
  await Promise.all(Array.from({ length: threads }, () => workerLoop()));
  return results.map((r, i) => {
    if (r === undefined) throw new Error(`row ${i} has no result`);
    return r;
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
