/**
 * From what the observers recorded and what really happened (the ground
 * truth: when each node was crashed, when each was stalled), the failure
 * detector benchmark's figures: detection times and false positives.
 *
 * Definitions (also written into fd.json as `definitions`):
 *
 * - Detection time: for every crash of a node at `crash_ms` and every other
 *   node up at that moment (each observer), the time from `crash_ms` to that
 *   observer's first `down` about the crashed node before it restarts. An
 *   observer that publishes no `down` before the restart is a *miss*.
 * - A `down` published by any observer about member M at time t where M was
 *   not crashed at t falls in one of two columns:
 *   - stalled-node down: M was itself stalled at t, or its stall had ended
 *     less than AFTER_STALL_WINDOW_MS before t. Not a false positive in the
 *     detector's sense: M really was unresponsive (for up to 5 s), and a
 *     detector that notices is working. Split into `during_stall` and
 *     `after_stall`.
 *   - false positive: every other such `down` — M was neither crashed nor
 *     stalled (nor just out of a stall) at t. This is Lifeguard's measure
 *     and the meaning of "a stalled node does not accuse healthy ones". Two
 *     sub-counts say where they come from: `about_restarted_node` (M restarted
 *     within RECENT_MS: a late or stale decision about a crash) and
 *     `by_stalled_observer` (published by a node that stalls in this run).
 *     Every observer publishes its own `down`, so one wrong accusation that
 *     spreads counts up to once per observer; `incidents` counts them once
 *     (a false positive about M more than INCIDENT_GAP_MS after the previous
 *     one about M starts a new incident).
 *   Per node-hour: count / (nodes × measured hours).
 *
 * Only records at or after `from_ms` (the end of warm-up) count.
 *
 * Pure; safe to call from any thread.
 */
import { percentile } from '../common/report.js';
import type { LivenessRecord } from './recorder.js';

/** A node was crashed from `crash_ms` until `restart_ms` (or the end of the run). */
export interface CrashSpan {
  member: string;
  crash_ms: number;
  restart_ms: number;
}

/** A node's event loop was frozen from `start_ms` until `end_ms`. */
export interface StallSpan {
  member: string;
  start_ms: number;
  end_ms: number;
}

/** What a run measured. */
export interface RunTruth {
  /** Every member id of the cluster. */
  members: string[];
  crashes: CrashSpan[];
  stalls: StallSpan[];
  /** Start of the measured window (end of warm-up). */
  from_ms: number;
  /** End of the measured window. */
  to_ms: number;
}

/** How long after a restart a false positive about that node is counted as `about_restarted_node`. */
export const RECENT_MS = 10_000;

/**
 * The detection window after a stall: a `down` about a node published this
 * long after its stall ended still counts as a stalled-node down, because the
 * suspicion behind it started while the node was frozen. 10 s is about the
 * slowest decision a detector here makes about a silent node (SWIM with
 * Lifeguard's dynamic suspicion: 2–12 s at 8 members); the details keep the
 * during/after split so the window's effect is visible.
 */
export const AFTER_STALL_WINDOW_MS = 10_000;

/** False positives about one member closer together than this are one incident (one accusation, published by many observers). */
export const INCIDENT_GAP_MS = 10_000;

/** False positives: downs about nodes neither crashed nor stalled (nor just out of a stall). */
export interface FalsePositives {
  total: number;
  /** Of `total`: about a node restarted less than RECENT_MS before. */
  about_restarted_node: number;
  /** Of `total`: published by an observer that stalls in this run. */
  by_stalled_observer: number;
  /** Distinct wrong accusations behind `total`: false positives about one member within INCIDENT_GAP_MS of each other count once. */
  incidents: number;
}

/** Downs about a node while it was stalled or just after (not false positives; their own column). */
export interface StalledNodeDowns {
  total: number;
  /** The node was frozen when the `down` was published. */
  during_stall: number;
  /** Its stall had ended less than AFTER_STALL_WINDOW_MS before. */
  after_stall: number;
}

/** The figures of one run. */
export interface RunFigures {
  /** Every detection time, in ms, sorted. */
  detection_ms: number[];
  detection_ms_p50: number | null;
  detection_ms_p99: number | null;
  /** (crash, observer) pairs with no `down` before the restart. */
  missed_detections: number;
  /** (crash, observer) pairs considered. */
  detection_opportunities: number;
  false_positives: FalsePositives;
  stalled_node_downs: StalledNodeDowns;
  node_hours: number;
  /** False positives (downs about nodes neither crashed nor stalled) per node-hour. */
  false_positives_per_node_hour: number;
  /** Downs about a node while stalled or just after, per node-hour. */
  stalled_node_downs_per_node_hour: number;
}

/** Compute detection times and false positives of one run. */
export function measure(records: readonly LivenessRecord[], truth: RunTruth): RunFigures {
  const counted = records.filter((r) => r.at_ms >= truth.from_ms && r.at_ms <= truth.to_ms);
  const downs = counted.filter((r) => r.status === 'down');
  const { samples, missed, opportunities } = detections(downs, truth);
  const { fp, stalled } = classifyDowns(downs, truth);
  const node_hours = (truth.members.length * (truth.to_ms - truth.from_ms)) / 3_600_000;
  return {
    detection_ms: samples,
    detection_ms_p50: samples.length === 0 ? null : round(percentile(samples, 50)),
    detection_ms_p99: samples.length === 0 ? null : round(percentile(samples, 99)),
    missed_detections: missed,
    detection_opportunities: opportunities,
    false_positives: fp,
    stalled_node_downs: stalled,
    node_hours: round(node_hours, 3),
    false_positives_per_node_hour: round(fp.total / node_hours, 3),
    stalled_node_downs_per_node_hour: round(stalled.total / node_hours, 3),
  };
}

function detections(downs: readonly LivenessRecord[], truth: RunTruth): { samples: number[]; missed: number; opportunities: number } {
  const samples: number[] = [];
  let missed = 0;
  let opportunities = 0;
  for (const crash of truth.crashes) {
    if (crash.crash_ms < truth.from_ms) continue;
    for (const observer of truth.members) {
      if (observer === crash.member || crashedAt(truth.crashes, observer, crash.crash_ms)) continue;
      opportunities++;
      const first = downs.find((r) => r.observer === observer && r.member === crash.member && r.at_ms >= crash.crash_ms && r.at_ms < crash.restart_ms);
      if (first === undefined) missed++;
      else samples.push(first.at_ms - crash.crash_ms);
    }
  }
  samples.sort((a, b) => a - b);
  return { samples, missed, opportunities };
}

/** Sort every `down` about a node that was not crashed into false positives and stalled-node downs. */
function classifyDowns(downs: readonly LivenessRecord[], truth: RunTruth): { fp: FalsePositives; stalled: StalledNodeDowns } {
  const fp: FalsePositives = { total: 0, about_restarted_node: 0, by_stalled_observer: 0, incidents: 0 };
  /** Time of the last false positive about each member, to count incidents. */
  const lastFalsePositive = new Map<string, number>();
  const stalled: StalledNodeDowns = { total: 0, during_stall: 0, after_stall: 0 };
  const stalledMembers = new Set(truth.stalls.map((s) => s.member));
  // In time order, for incidents (the simulator records them so already; sorting makes it not depend on that).
  for (const r of [...downs].sort((x, y) => x.at_ms - y.at_ms)) {
    if (crashedAt(truth.crashes, r.member, r.at_ms)) continue;
    if (truth.stalls.some((s) => s.member === r.member && s.start_ms <= r.at_ms && r.at_ms < s.end_ms)) {
      stalled.total++;
      stalled.during_stall++;
    } else if (truth.stalls.some((s) => s.member === r.member && s.end_ms <= r.at_ms && r.at_ms < s.end_ms + AFTER_STALL_WINDOW_MS)) {
      stalled.total++;
      stalled.after_stall++;
    } else {
      fp.total++;
      if (truth.crashes.some((c) => c.member === r.member && c.restart_ms <= r.at_ms && r.at_ms < c.restart_ms + RECENT_MS)) fp.about_restarted_node++;
      if (stalledMembers.has(r.observer)) fp.by_stalled_observer++;
      const last_ms = lastFalsePositive.get(r.member);
      if (last_ms === undefined || r.at_ms - last_ms > INCIDENT_GAP_MS) fp.incidents++;
      lastFalsePositive.set(r.member, r.at_ms);
    }
  }
  return { fp, stalled };
}

/** True when `member` was crashed at `t_ms`. */
function crashedAt(crashes: readonly CrashSpan[], member: string, t_ms: number): boolean {
  return crashes.some((c) => c.member === member && c.crash_ms <= t_ms && t_ms < c.restart_ms);
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
