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
 * - False positive: a `down` published by any observer about member M at
 *   time t where M was not crashed at t (each published `down` counts once;
 *   a detector publishes one per transition). Per node-hour: false positives
 *   / (nodes × measured hours).
 * - For the stall scenario the false positives are also split by what M was
 *   doing, because a frozen node is as unresponsive as a crashed one:
 *   `about_stalled_node_during_stall` (M was frozen at t),
 *   `about_stalled_node_after_stall` (M had been frozen within RECENT_MS),
 *   `about_restarted_node` (M restarted within RECENT_MS: a late or stale
 *   decision about a crash), and `about_healthy_nodes` (the rest: nodes that
 *   were running normally, Lifeguard's measure), plus `by_stalled_observer`
 *   (downs about healthy nodes published by a node that stalls).
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

/** How long after a stall or a restart a `down` about that node is put in its own category. */
export const RECENT_MS = 10_000;

/** False positives, split by cause. */
export interface FalsePositives {
  total: number;
  about_stalled_node_during_stall: number;
  about_stalled_node_after_stall: number;
  about_restarted_node: number;
  about_healthy_nodes: number;
  by_stalled_observer: number;
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
  node_hours: number;
  false_positives_per_node_hour: number;
  /** Lifeguard's measure: false positives about healthy nodes per node-hour. */
  healthy_false_positives_per_node_hour: number;
}

/** Compute detection times and false positives of one run. */
export function measure(records: readonly LivenessRecord[], truth: RunTruth): RunFigures {
  const counted = records.filter((r) => r.at_ms >= truth.from_ms && r.at_ms <= truth.to_ms);
  const downs = counted.filter((r) => r.status === 'down');
  const { samples, missed, opportunities } = detections(downs, truth);
  const fp = falsePositives(downs, truth);
  const node_hours = (truth.members.length * (truth.to_ms - truth.from_ms)) / 3_600_000;
  return {
    detection_ms: samples,
    detection_ms_p50: samples.length === 0 ? null : round(percentile(samples, 50)),
    detection_ms_p99: samples.length === 0 ? null : round(percentile(samples, 99)),
    missed_detections: missed,
    detection_opportunities: opportunities,
    false_positives: fp,
    node_hours: round(node_hours, 3),
    false_positives_per_node_hour: round(fp.total / node_hours, 3),
    healthy_false_positives_per_node_hour: round(fp.about_healthy_nodes / node_hours, 3),
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

function falsePositives(downs: readonly LivenessRecord[], truth: RunTruth): FalsePositives {
  const fp: FalsePositives = {
    total: 0,
    about_stalled_node_during_stall: 0,
    about_stalled_node_after_stall: 0,
    about_restarted_node: 0,
    about_healthy_nodes: 0,
    by_stalled_observer: 0,
  };
  const stalledMembers = new Set(truth.stalls.map((s) => s.member));
  for (const r of downs) {
    if (crashedAt(truth.crashes, r.member, r.at_ms)) continue;
    fp.total++;
    if (truth.stalls.some((s) => s.member === r.member && s.start_ms <= r.at_ms && r.at_ms < s.end_ms)) {
      fp.about_stalled_node_during_stall++;
    } else if (truth.stalls.some((s) => s.member === r.member && s.end_ms <= r.at_ms && r.at_ms < s.end_ms + RECENT_MS)) {
      fp.about_stalled_node_after_stall++;
    } else if (truth.crashes.some((c) => c.member === r.member && c.restart_ms <= r.at_ms && r.at_ms < c.restart_ms + RECENT_MS)) {
      fp.about_restarted_node++;
    } else {
      fp.about_healthy_nodes++;
      if (stalledMembers.has(r.observer)) fp.by_stalled_observer++;
    }
  }
  return fp;
}

/** True when `member` was crashed at `t_ms`. */
function crashedAt(crashes: readonly CrashSpan[], member: string, t_ms: number): boolean {
  return crashes.some((c) => c.member === member && c.crash_ms <= t_ms && t_ms < c.restart_ms);
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
