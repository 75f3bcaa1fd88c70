/**
 * The failure-detector benchmark's output: one row per (detector, scenario)
 * with exactly the fields, the targets evaluated on them, and
 * both printed as tables.
 *
 * Targets (issue 4):
 *   - combined decision detects a crash with p50 ≤ 2 s (500 ms period);
 *   - combined: zero false positives per node-hour under 5% loss, and under
 *     stalled observers — judged on the row's figure (every `down` about a
 *     node not crashed, the stalled node included) and, separately, on
 *     Lifeguard's measure (downs about healthy nodes only);
 *   - swim+lifeguard shows ≥ 50× fewer false positives than swim when
 *     observers stall, judged both ways too. A ratio needs a numerator:
 *     when swim has no false positives the target cannot be shown and is
 *     reported as not met, with the counts.
 *
 * Pure apart from printing; safe to call from any thread.
 */
import type { RowResult } from './sim_run.js';

/** One row of fd.json, exactly the fields. */
export interface FdRow {
  detector: string;
  scenario: string;
  detection_ms_p50: number | null;
  detection_ms_p99: number | null;
  false_positives_per_node_hour: number;
  messages_per_member_per_s: number;
}

/** One target: whether it is met and the figures it was judged on. */
export interface Target {
  met: boolean;
  [figure: string]: unknown;
}

/** The figure for a row. */
export function toRow(result: RowResult): FdRow {
  return {
    detector: result.config.detector,
    scenario: result.config.scenario,
    detection_ms_p50: result.figures.detection_ms_p50,
    detection_ms_p99: result.figures.detection_ms_p99,
    false_positives_per_node_hour: result.figures.false_positives_per_node_hour,
    messages_per_member_per_s: result.messages_per_member_per_s,
  };
}

/** Evaluate the targets on the rows. */
export function evaluateTargets(results: readonly RowResult[]): Record<string, Target> {
  const row = (detector: string, scenario: string): RowResult => {
    const found = results.find((r) => r.config.detector === detector && r.config.scenario === scenario);
    if (found === undefined) throw new Error(`no row for ${detector}/${scenario}`);
    return found;
  };
  const combinedCrash = row('combined', 'crash').figures;
  const combinedLoss = row('combined', 'loss5').figures;
  const combinedStall = row('combined', 'stall').figures;
  const swimStall = row('swim', 'stall').figures;
  const lifeguardStall = row('swim+lifeguard', 'stall').figures;
  const ratio = (swim: number, lifeguard: number): number | null => (swim === 0 ? null : lifeguard === 0 ? Infinity : swim / lifeguard);
  const allRatio = ratio(swimStall.false_positives.total, lifeguardStall.false_positives.total);
  const healthyRatio = ratio(swimStall.false_positives.about_healthy_nodes, lifeguardStall.false_positives.about_healthy_nodes);
  return {
    combined_crash_detection_p50_le_2000ms: {
      met: combinedCrash.detection_ms_p50 !== null && combinedCrash.detection_ms_p50 <= 2000,
      detection_ms_p50: combinedCrash.detection_ms_p50,
      missed_detections: combinedCrash.missed_detections,
    },
    combined_zero_false_positives_loss5: {
      met: combinedLoss.false_positives.total === 0,
      false_positives: combinedLoss.false_positives.total,
      node_hours: combinedLoss.node_hours,
    },
    combined_zero_false_positives_stall: {
      met: combinedStall.false_positives.total === 0,
      false_positives: combinedStall.false_positives.total,
      of_which_about_the_stalled_node: combinedStall.false_positives.about_stalled_node_during_stall + combinedStall.false_positives.about_stalled_node_after_stall,
      node_hours: combinedStall.node_hours,
    },
    combined_zero_false_positives_stall_about_healthy_nodes: {
      met: combinedStall.false_positives.about_healthy_nodes === 0,
      false_positives: combinedStall.false_positives.about_healthy_nodes,
      node_hours: combinedStall.node_hours,
    },
    lifeguard_50x_fewer_false_positives_stall: {
      met: allRatio !== null && allRatio >= 50,
      swim: swimStall.false_positives.total,
      swim_lifeguard: lifeguardStall.false_positives.total,
      ratio: allRatio === Infinity ? 'infinite' : allRatio,
    },
    lifeguard_50x_fewer_false_positives_stall_about_healthy_nodes: {
      met: healthyRatio !== null && healthyRatio >= 50,
      swim: swimStall.false_positives.about_healthy_nodes,
      swim_lifeguard: lifeguardStall.false_positives.about_healthy_nodes,
      ratio: healthyRatio === Infinity ? 'infinite' : healthyRatio,
    },
  };
}

/** Print the rows as a table. */
export function printTable(rows: readonly FdRow[]): void {
  const header = ['detector', 'scenario', 'detect p50 ms', 'detect p99 ms', 'FP/node-h', 'msgs/member/s'];
  const cells = rows.map((r) => [
    r.detector,
    r.scenario,
    show(r.detection_ms_p50),
    show(r.detection_ms_p99),
    show(r.false_positives_per_node_hour),
    show(r.messages_per_member_per_s),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string => c.map((v, i) => (i < 2 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join('  ');
  console.log(`\n${line(header)}`);
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

/** Print the targets, one per line. */
export function printTargets(targets: Readonly<Record<string, Target>>): void {
  console.log('\ntargets');
  for (const [name, target] of Object.entries(targets)) {
    const { met, ...figures } = target;
    console.log(`  ${met ? 'MET    ' : 'NOT MET'}  ${name}  ${JSON.stringify(figures)}`);
  }
}

function show(value: number | null): string {
  return value === null ? 'null' : String(value);
}
