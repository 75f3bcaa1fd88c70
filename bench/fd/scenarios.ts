/**
 * The failure-detector benchmark's scenarios and their fault schedules.
 *
 * Every scenario crashes nodes periodically, so every row has detection
 * figures: a node is crashed after 30–50 s up and restarted after 15–25 s
 * down (long enough for every detector to decide before the restart).
 *
 *   clean  reliable network; the victim is always the last node.
 *   loss5  as clean, with 5% of cross-node messages lost.
 *   stall  as clean, and one observer (node 1) has its event loop frozen for
 *          0.2–5 s at random (uniform), 2–10 s apart, as GC pauses would.
 *          The stall releases its held work timers first
 *          (`release: 'timers-first'`), as Node's event loop does after a
 *          pause: the timers phase runs every expired timer (probe timeouts,
 *          ticks) before the poll phase reads the acks that arrived meanwhile.
 *   crash  reliable network; the victim is any node, drawn at random each
 *          time (seeds included), so crashes hit every role.
 *
 * One more scenario, beyond the four:
 *
 *   stall_probe  as clean, and the same observer (node 1) stalls for 0.2–5 s
 *          (timers-first) 10–20 s apart, each stall starting while the
 *          observer has a direct SWIM probe in flight (probe_stalls.ts): the
 *          case Lifeguard's local health awareness is designed for, which a
 *          random stall almost never hits (a 1–4 ms window per 500 ms period).
 *
 * A schedule depends only on the scenario and the seed, never on the
 * detector, so all five detectors face the same crashes and stalls; in
 * stall_probe they face the same stall lengths and gaps, but each stall
 * starts at the detector's own next probe.
 *
 * Pure; safe to call from any thread.
 */
import { hashString32 } from '../../src/core/hash.js';
import { Prng } from '../../src/core/prng.js';
import type { StallRelease } from '../../src/runtime/sim/index.js';

/** Scenario names, as they appear in the `scenario` field. */
export const SCENARIOS = ['clean', 'loss5', 'stall', 'crash', 'stall_probe'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Detector names, as they appear in the `detector` field (the detector actor's modes). */
export const DETECTORS = ['heartbeat', 'phi', 'swim', 'swim+lifeguard', 'combined'] as const;
export type DetectorName = (typeof DETECTORS)[number];

/** Detectors that run SWIM and so send probes (stall_probe starts its stalls at them). */
export const PROBING_DETECTORS: ReadonlySet<DetectorName> = new Set<DetectorName>(['swim', 'swim+lifeguard', 'combined']);

/** What a scenario does to the cluster. */
export interface ScenarioSpec {
  name: ScenarioName;
  /** Probability that a cross-node message is lost. */
  drop_probability: number;
  /** Crash victims: always the last node, or any node at random. */
  victims: 'last-node' | 'any-node';
  /** The node whose event loop stalls, if any. */
  stalled_node: number | undefined;
  /** Order in which a stall's held work runs when it ends (see src/runtime/sim/stall.ts). */
  stall_release: StallRelease;
  /** When stalls start: at times drawn in advance, or at the stalled node's next probe (probe_stalls.ts). */
  stall_trigger: 'scheduled' | 'probe';
}

/** The four scenarios, and stall_probe. */
export const SCENARIO_SPECS: Readonly<Record<ScenarioName, ScenarioSpec>> = {
  clean: { name: 'clean', drop_probability: 0, victims: 'last-node', stalled_node: undefined, stall_release: 'in-order', stall_trigger: 'scheduled' },
  loss5: { name: 'loss5', drop_probability: 0.05, victims: 'last-node', stalled_node: undefined, stall_release: 'in-order', stall_trigger: 'scheduled' },
  stall: { name: 'stall', drop_probability: 0, victims: 'last-node', stalled_node: 1, stall_release: 'timers-first', stall_trigger: 'scheduled' },
  crash: { name: 'crash', drop_probability: 0, victims: 'any-node', stalled_node: undefined, stall_release: 'in-order', stall_trigger: 'scheduled' },
  stall_probe: { name: 'stall_probe', drop_probability: 0, victims: 'last-node', stalled_node: 1, stall_release: 'timers-first', stall_trigger: 'probe' },
};

/** Time a node stays up between crashes. */
export const UP_MS: readonly [number, number] = [30_000, 50_000];
/** Time a crashed node stays down. */
export const DOWN_MS: readonly [number, number] = [15_000, 25_000];
/** Length of one stall. */
export const STALL_MS: readonly [number, number] = [200, 5_000];
/** Time between the end of one stall and the start of the next. */
export const STALL_GAP_MS: readonly [number, number] = [2_000, 10_000];
/** stall_probe: time from the end of one stall to arming the next (the stall starts at the next probe). */
export const PROBE_STALL_GAP_MS: readonly [number, number] = [10_000, 20_000];
/** No crash or stall in the last part of a run, so every node is up and running when stats are read. */
export const QUIET_TAIL_MS = 6_000;

/** One planned crash: `node` goes down at `crash_ms` and comes back at `restart_ms`. */
export interface PlannedCrash {
  node: number;
  crash_ms: number;
  restart_ms: number;
}

/** One planned stall of `node`. */
export interface PlannedStall {
  node: number;
  start_ms: number;
  duration_ms: number;
}

/** One probe-triggered stall (stall_probe): armed `gap_ms` after the previous one ends, lasting `duration_ms`. */
export interface PlannedProbeStall {
  gap_ms: number;
  duration_ms: number;
}

/** The crashes and stalls of one run. */
export interface Schedule {
  crashes: PlannedCrash[];
  /** Stalls at fixed times (stall_trigger 'scheduled'). */
  stalls: PlannedStall[];
  /** Stalls that start at the stalled node's next probe (stall_trigger 'probe'), in order; their start times are found while running. */
  probe_stalls: PlannedProbeStall[];
}

/** Draw the schedule of `spec` for a cluster of `nodes` nodes, from `start_ms` to `end_ms`. */
export function schedule(spec: ScenarioSpec, seed: number, nodes: number, start_ms: number, end_ms: number): Schedule {
  const prng = new Prng(hashString32(`fd-bench/${seed}/${spec.name}/schedule`));
  const draw = (range: readonly [number, number]): number => Math.round(range[0] + prng.next() * (range[1] - range[0]));
  const crashes: PlannedCrash[] = [];
  for (let t = start_ms + draw(UP_MS); ; ) {
    const down_ms = draw(DOWN_MS);
    if (t + down_ms > end_ms - QUIET_TAIL_MS) break;
    const node = spec.victims === 'last-node' ? nodes - 1 : prng.int(nodes);
    crashes.push({ node, crash_ms: t, restart_ms: t + down_ms });
    t += down_ms + draw(UP_MS);
  }
  const stalls: PlannedStall[] = [];
  const probe_stalls: PlannedProbeStall[] = [];
  if (spec.stalled_node !== undefined && spec.stall_trigger === 'probe') {
    // Enough steps for back-to-back stalls of the shortest length; the run stops arming once a stall would not end before the quiet tail.
    const steps_max = Math.ceil((end_ms - start_ms) / (PROBE_STALL_GAP_MS[0] + STALL_MS[0]));
    for (let i = 0; i < steps_max; i++) probe_stalls.push({ gap_ms: draw(PROBE_STALL_GAP_MS), duration_ms: draw(STALL_MS) });
  } else if (spec.stalled_node !== undefined) {
    for (let t = start_ms + draw(STALL_GAP_MS); ; ) {
      const duration_ms = draw(STALL_MS);
      if (t + duration_ms > end_ms - QUIET_TAIL_MS) break;
      stalls.push({ node: spec.stalled_node, start_ms: t, duration_ms });
      t += duration_ms + draw(STALL_GAP_MS);
    }
  }
  return { crashes, stalls, probe_stalls };
}
