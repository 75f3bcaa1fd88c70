/**
 * The failure-detector benchmark's reality check: the same gossip and
 * failure-detector actors (combined mode, 500 ms period) on real worker
 * threads of an `ActorSystem`, with one more thread that only busy-loops (it
 * takes a core from the nodes, as a noisy neighbour would). A node is killed
 * with `terminateThread` (an abrupt crash), the time until each surviving
 * node publishes `down` about it is measured on the real clock, then the
 * node is restarted and must be seen alive again. Repeated for a few victims.
 *
 * Recorders run next to each detector on the worker threads and forward
 * every liveness change to a collector actor on the main thread (thread 0).
 * Detector clocks are `Date.now()` on every thread, so decision times and the
 * kill time are on one clock.
 *
 * Thread contract: main thread only.
 */
import { Worker } from 'node:worker_threads';
import type { FailureDetectorArgs } from '../../actors/failure_detector.js';
import type { GossipArgs } from '../../actors/gossip.js';
import { memberId } from '../../actors/member_refs.js';
import type { ActorRef } from '../../src/runtime/actor.js';
import { ActorSystem } from '../../src/runtime/actor_system.js';
import { percentile } from '../common/report.js';
import { LivenessRecorder, RECORDER_KIND, type LivenessRecord, type RecorderArgs } from './recorder.js';
import { PERIOD_MS, PROBE_TIMEOUT_MS } from './sim_run.js';

/** Options of the real-thread run. */
export interface RealRunOptions {
  /** Cluster nodes, one worker thread each (threads 1..nodes). */
  nodes: number;
  /** Nodes killed one after the other (the last ones). */
  kills: number;
  /** Real time for the cluster to form before the first kill. */
  warmup_ms: number;
  /** Longest wait for every survivor to declare a killed node down. */
  detect_timeout_ms: number;
  /** Longest wait for a restarted node to be seen alive by every survivor. */
  recover_timeout_ms: number;
}

/** What the real-thread run measured. */
export interface RealRunResult {
  nodes: number;
  busy_loop_threads: number;
  detector: 'combined';
  period_ms: number;
  kills: number;
  /** Kill-to-`down` times, one per (kill, survivor), ms. */
  detection_ms: number[];
  detection_ms_p50: number | null;
  detection_ms_max: number | null;
  /** (kill, survivor) pairs with no `down` within detect_timeout_ms. */
  missed_detections: number;
  /** Restart-to-`alive` times at the slowest survivor, ms (null when not seen alive in time). */
  recovery_ms: (number | null)[];
  /** `down` about a node that was not killed at that time. */
  false_positives: number;
  wall_ms: number;
}

const COLLECTOR_ID = 'fd-collector';
const COLLECTOR_KIND = 'fd-collector';
const POLL_MS = 20;

/** Run the real-thread check. */
export async function runRealThreads(options: RealRunOptions): Promise<RealRunResult> {
  const wallStart = Date.now();
  const records: LivenessRecord[] = [];
  const busy = new Worker('for (;;) {}', { eval: true });
  const system = await ActorSystem.start({
    threads: options.nodes,
    modules: [
      new URL('../../actors/gossip.js', import.meta.url).href,
      new URL('../../actors/failure_detector.js', import.meta.url).href,
      new URL('./recorder.js', import.meta.url).href,
    ],
    mainKinds: { [COLLECTOR_KIND]: () => new LivenessRecorder({ observer: 'main' }, (record) => records.push(record)) },
  });
  const killed: { member: string; from_ms: number; to_ms: number }[] = [];
  const detection_ms: number[] = [];
  const recovery_ms: (number | null)[] = [];
  let missed = 0;
  try {
    const collector = await system.spawn(0, { kind: COLLECTOR_KIND, id: COLLECTOR_ID });
    const threads = Array.from({ length: options.nodes }, (_, i) => i + 1);
    const seeds = threads.slice(0, 2).map(memberId);
    for (const t of threads) await spawnNode(system, t, seeds, collector);
    await sleep(options.warmup_ms);

    for (let k = 0; k < options.kills; k++) {
      const victim = threads[threads.length - 1 - (k % threads.length)]!;
      const member = memberId(victim);
      const survivors = threads.filter((t) => t !== victim).map(memberId);
      const kill_ms = Date.now();
      await system.terminateThread(victim);
      const downs = await waitFor(records, survivors, member, 'down', kill_ms, options.detect_timeout_ms);
      for (const at of downs.values()) detection_ms.push(at - kill_ms);
      missed += survivors.length - downs.size;
      const restart_ms = Date.now();
      killed.push({ member, from_ms: kill_ms, to_ms: restart_ms });
      await system.restartThread(victim);
      const alive = await waitFor(records, survivors, member, 'alive', restart_ms, options.recover_timeout_ms);
      recovery_ms.push(alive.size === survivors.length ? Math.max(...alive.values()) - restart_ms : null);
      await sleep(2 * PERIOD_MS);
    }
  } finally {
    await system.shutdown();
    await busy.terminate();
  }
  const false_positives = records.filter(
    (r) => r.status === 'down' && !killed.some((k) => k.member === r.member && k.from_ms <= r.at_ms && r.at_ms <= k.to_ms),
  ).length;
  detection_ms.sort((a, b) => a - b);
  return {
    nodes: options.nodes,
    busy_loop_threads: 1,
    detector: 'combined',
    period_ms: PERIOD_MS,
    kills: options.kills,
    detection_ms,
    detection_ms_p50: detection_ms.length === 0 ? null : percentile([...detection_ms], 50),
    detection_ms_max: detection_ms.length === 0 ? null : Math.max(...detection_ms),
    missed_detections: missed,
    recovery_ms,
    false_positives,
    wall_ms: Date.now() - wallStart,
  };
}

/** Spawn node `t`: recorder (forwarding to the collector), failure detector in combined mode, gossip. */
async function spawnNode(system: ActorSystem, t: number, seeds: string[], collector: ActorRef): Promise<void> {
  const self = memberId(t);
  const recorderArgs: RecorderArgs = { observer: self, forward_to: collector };
  await system.spawn(t, { kind: RECORDER_KIND, id: 'recorder', args: recorderArgs });
  const fdArgs: FailureDetectorArgs = {
    self,
    mode: 'combined',
    subscribers: [{ thread: t, id: 'recorder' }],
    swim: { probe_interval_ms: PERIOD_MS, probe_timeout_ms: PROBE_TIMEOUT_MS },
  };
  await system.spawn(t, { kind: 'failure-detector', id: 'fd', args: fdArgs });
  const gossipArgs: GossipArgs = { self: { id: self }, seeds, interval_ms: PERIOD_MS };
  await system.spawn(t, { kind: 'gossip', id: 'gossip', args: gossipArgs });
}

/** Wait until every observer has published `status` about `member` since `since_ms`; returns when each did. */
async function waitFor(
  records: readonly LivenessRecord[],
  observers: readonly string[],
  member: string,
  status: LivenessRecord['status'],
  since_ms: number,
  timeout_ms: number,
): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const deadline = Date.now() + timeout_ms;
  for (;;) {
    for (const r of records) {
      if (r.member === member && r.status === status && r.at_ms >= since_ms && observers.includes(r.observer) && !seen.has(r.observer)) {
        seen.set(r.observer, r.at_ms);
      }
    }
    if (seen.size === observers.length || Date.now() >= deadline) return seen;
    await sleep(POLL_MS);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
