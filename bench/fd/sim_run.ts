/**
 * One row of the failure-detector benchmark: a cluster of gossip and
 * failure-detector actors in the deterministic simulator, one detector mode,
 * one scenario, for `duration_ms` of virtual time.
 *
 * Per node `t` (member `n${t}`): a recorder (`recorder.ts`, writing into the
 * `records` array this module owns: the simulator runs every node on this
 * thread), the failure detector `{ thread: t, id: 'fd' }` in the mode under
 * test, subscribed by the recorder, and the gossip actor
 * `{ thread: t, id: 'gossip' }` with a 500 ms round. Nodes 0 and 1 are the
 * seeds. The scenario's crashes and stalls (scenarios.ts) are injected with
 * `world.crash` / `world.restart` / `world.stall` (with the scenario's release
 * order); its message loss with the network's drop probability. In
 * stall_probe the stalled node's detector is wrapped to watch its probes and
 * the stalls start at them (probe_stalls.ts); the stall spans that really
 * happened are the ground truth.
 *
 * Messages per member per second: cross-node messages sent by the gossip and
 * detector actors (their `stats` asks), over the member-seconds the nodes were
 * up. A node's counters die with it, so they are read just before each crash
 * and at the end.
 *
 * Thread contract: runs on one thread; one run at a time per world.
 */
import { failureDetector, type FailureDetectorArgs, type FailureDetectorStats } from '../../actors/failure_detector.js';
import { gossip, type GossipArgs, type GossipStats } from '../../actors/gossip.js';
import { detectorRef, gossipRef, memberId } from '../../actors/member_refs.js';
import { hashString32 } from '../../src/core/hash.js';
import type { ActorRef } from '../../src/runtime/actor.js';
import { SimWorld } from '../../src/runtime/sim/index.js';
import { measure, type RunFigures, type RunTruth, type StallSpan } from './metrics.js';
import { ProbeStaller, watchProbes, type ProbeStallCounts } from './probe_stalls.js';
import { LivenessRecorder, type LivenessRecord } from './recorder.js';
import { PROBING_DETECTORS, QUIET_TAIL_MS, SCENARIO_SPECS, schedule, type DetectorName, type ScenarioName } from './scenarios.js';

/** The protocol period: gossip round and SWIM probe interval. */
export const PERIOD_MS = 500;
/** SWIM probe timeout: half the period, as memberlist's LAN profile. */
export const PROBE_TIMEOUT_MS = 250;
/** Virtual time before anything is measured: the cluster forms. */
export const WARMUP_MS = 20_000;
/** Virtual time driven per `runUntil` call (keeps each call well under SIM_EVENTS_MAX). */
const CHUNK_MS = 60_000;
/** Seed nodes, by thread. */
const SEED_THREADS = [0, 1];
/** Actor id of each node's recorder. */
const RECORDER_ID = 'recorder';

/** One row's configuration. */
export interface RowConfig {
  detector: DetectorName;
  scenario: ScenarioName;
  nodes: number;
  /** Virtual time of the whole run, warm-up included. */
  duration_ms: number;
  seed: number;
  /** Return every liveness record in the result (for looking into a row; off in the benchmark). */
  keep_records?: boolean;
}

/** One row's outcome. */
export interface RowResult {
  config: RowConfig;
  figures: RunFigures;
  messages_per_member_per_s: number;
  crashes: number;
  stalls: number;
  /** stall_probe only: how its stalls started (with a probe in flight or not). */
  probe_stalls?: ProbeStallCounts;
  /** Liveness events recorded (all statuses). */
  records: number;
  /** Events the simulator carried out, and its trace hash (same seed ⇒ same hash). */
  sim_events: number;
  trace_hash: string;
  wall_ms: number;
  /** Every liveness record, when `keep_records` was set. */
  all_records?: LivenessRecord[];
}

/** Run one (detector, scenario) row. */
export async function runRow(config: RowConfig): Promise<RowResult> {
  const wallStart = performance.now();
  const spec = SCENARIO_SPECS[config.scenario];
  const world = new SimWorld({ seed: hashString32(`fd-bench/${config.seed}/${config.scenario}`), faults: { drop_probability: spec.drop_probability } });
  const records: LivenessRecord[] = [];
  const seeds = SEED_THREADS.filter((t) => t < config.nodes).map(memberId);
  const plan = schedule(spec, config.seed, config.nodes, WARMUP_MS, config.duration_ms);
  const release = spec.stall_release;
  const stalled = spec.stall_trigger === 'probe' ? spec.stalled_node : undefined;
  const staller =
    stalled === undefined
      ? undefined
      : new ProbeStaller(world, stalled, memberId(stalled), plan.probe_stalls, release, PROBING_DETECTORS.has(config.detector), config.duration_ms - QUIET_TAIL_MS);
  for (let t = 0; t < config.nodes; t++) spawnNode(world, t, config.detector, seeds, records, t === stalled ? staller : undefined);
  staller?.start(WARMUP_MS);
  for (const stall of plan.stalls) world.at(stall.start_ms, `stall t${stall.node}`, () => world.stall(stall.node, stall.duration_ms, { release }));
  for (const crash of plan.crashes) world.at(crash.restart_ms, `restart t${crash.node}`, () => world.restart(crash.node));

  let messages = 0;
  let member_ms = config.nodes * config.duration_ms;
  for (const crash of plan.crashes) {
    await runTo(world, crash.crash_ms - 2);
    const before = readStats(world, crash.node);
    await world.runUntil(crash.crash_ms);
    messages += await before;
    world.crash(crash.node);
    member_ms -= crash.restart_ms - crash.crash_ms;
  }
  await runTo(world, config.duration_ms);
  const finals = Array.from({ length: config.nodes }, (_, t) => readStats(world, t));
  await world.runUntil(config.duration_ms + 10);
  for (const final of finals) messages += await final;

  const stalls: StallSpan[] =
    staller?.spans ?? plan.stalls.map((s) => ({ member: memberId(s.node), start_ms: s.start_ms, end_ms: s.start_ms + s.duration_ms }));
  const truth: RunTruth = {
    members: Array.from({ length: config.nodes }, (_, t) => memberId(t)),
    crashes: plan.crashes.map((c) => ({ member: memberId(c.node), crash_ms: c.crash_ms, restart_ms: c.restart_ms })),
    stalls,
    from_ms: WARMUP_MS,
    to_ms: config.duration_ms,
  };
  return {
    config,
    figures: measure(records, truth),
    messages_per_member_per_s: Math.round((messages / (member_ms / 1000)) * 100) / 100,
    crashes: plan.crashes.length,
    stalls: stalls.length,
    ...(staller !== undefined ? { probe_stalls: staller.counts } : {}),
    records: records.length,
    sim_events: world.trace.length,
    trace_hash: world.traceHash(),
    wall_ms: Math.round(performance.now() - wallStart),
    ...(config.keep_records === true ? { all_records: records } : {}),
  };
}

/** Spawn node `t`: recorder, failure detector (mode under test, its probes watched by `staller` if given), gossip. */
function spawnNode(world: SimWorld, t: number, detector: DetectorName, seeds: string[], records: LivenessRecord[], staller: ProbeStaller | undefined): void {
  const self = memberId(t);
  const recorder: ActorRef = { thread: t, id: RECORDER_ID };
  world.spawn(t, () => new LivenessRecorder({ observer: self }, (record) => records.push(record)), RECORDER_ID);
  const fdArgs: FailureDetectorArgs = {
    self,
    mode: detector,
    subscribers: [recorder],
    swim: { probe_interval_ms: PERIOD_MS, probe_timeout_ms: PROBE_TIMEOUT_MS },
  };
  world.spawn(t, () => (staller === undefined ? failureDetector(fdArgs) : watchProbes(failureDetector(fdArgs), staller)), detectorRef(self).id);
  const gossipArgs: GossipArgs = { self: { id: self }, seeds, interval_ms: PERIOD_MS };
  world.spawn(t, () => gossip(gossipArgs), gossipRef(self).id);
}

/** Ask node `t`'s gossip and detector actors how many cross-node messages they sent. */
async function readStats(world: SimWorld, t: number): Promise<number> {
  const self = memberId(t);
  const [g, fd] = await Promise.all([
    world.ask<GossipStats>(gossipRef(self), { type: 'stats' }, 1_000),
    world.ask<FailureDetectorStats>(detectorRef(self), { type: 'stats' }, 1_000),
  ]);
  return g.messages_sent + fd.messages_sent;
}

/** Run the world to `time_ms` in chunks. */
async function runTo(world: SimWorld, time_ms: number): Promise<void> {
  while (world.now() < time_ms) await world.runUntil(Math.min(time_ms, world.now() + CHUNK_MS));
}
