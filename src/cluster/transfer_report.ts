/**
 * A membership change as users read it (issue 16): its plan, and the
 * transfers of one in progress with rate and time left, by node ids (the
 * driver and the ring speak member ids). What `Cluster.planChange` and
 * `Cluster.transfers` answer, and `ringkv transfers` prints.
 *
 * Pure. Safe from any thread.
 */
import type { RingChangePlan } from '../core/ring_change.js';
import { Ring } from '../core/ring.js';
import type { ChangePlan, MembershipChange, TransfersReport } from './cluster_types.js';
import type { ChangeState } from './membership_change.js';

/** `plan` of `change`, members named by `label`. */
export function planReport(change: MembershipChange, plan: RingChangePlan, label: (member: string) => string): ChangePlan {
  const shares = (members: RingChangePlan['before']): Record<string, number> =>
    Object.fromEntries([...Ring.fromTokens(members).ownership()].map(([member, share]) => [label(member), share]));
  return {
    change,
    before: shares(plan.before),
    after: shares(plan.after),
    transfers: plan.transfers.map((t) => ({ target: label(t.target), sources: t.sources.map(label), ranges: t.ranges.length, share: t.share })),
    movedShare: plan.movedShare,
  };
}

/**
 * The change in progress (`state`, null when none) at ring view `version`:
 * each transfer's progress, its rate, and its time left estimated from the
 * keys its ranges should hold (`distinctKeys` × its share of the ring).
 */
export function transfersReport(
  state: ChangeState | null,
  change: MembershipChange | null,
  version: number,
  now_ms: number,
  distinctKeys: number | null,
  label: (member: string) => string,
): TransfersReport {
  if (state === null) return { change: null, phase: null, startedAgoMs: null, transfers: [], ringVersion: version };
  return {
    change,
    phase: state.phase,
    startedAgoMs: now_ms - state.started_ms,
    ringVersion: version,
    transfers: [...state.transfers, ...(state.handoffs ?? [])].map((t) => {
      const expected = distinctKeys === null ? null : distinctKeys * t.share;
      const left = expected === null ? null : Math.max(0, expected - t.keysFetched);
      const keysPerSecond = t.keysFetched > 0 && t.bytes > 0 ? (t.bytesPerSecond * t.keysFetched) / t.bytes : 0;
      const running = t.state === 'running' || t.state === 'waiting' || t.state === 'not started';
      return {
        id: t.id,
        target: label(t.target),
        sources: t.sources.map(label),
        share: t.share,
        state: t.state,
        pass: t.resume?.pass ?? 1,
        keysFetched: t.keysFetched,
        bytes: t.bytes,
        bytesPerSecond: Math.round(t.bytesPerSecond),
        etaMs: running && left !== null && keysPerSecond > 0 ? Math.round((left / keysPerSecond) * 1000) : null,
        ...(t.error !== undefined ? { error: t.error } : {}),
      };
    }),
  };
}
