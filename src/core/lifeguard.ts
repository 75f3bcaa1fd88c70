/**
 * Lifeguard's math (Dadgar, Phillips, Currey: "Lifeguard: Local Health
 * Awareness for More Accurate Failure Detection", DSN-W 2018 / arXiv 2017),
 * as HashiCorp memberlist implements it in `suspicion.go` and
 * `awareness.go`, kept apart from the timers that use it so it can be
 * tested from tables.
 *
 * - Dynamic suspicion: a suspicion starts with a long timeout that shrinks
 *   toward a minimum as independent confirmations arrive, so a true failure
 *   is declared fast once several members agree and a lone (possibly slow)
 *   accuser waits long enough for the suspect to refute.
 * - Local health awareness: a score that rises when this node's own probes
 *   fail in ways that suggest it is the slow one (missed nacks, having to
 *   refute), and falls on successful probes; probe interval and timeout are
 *   stretched by (score + 1).
 *
 * Pure; no clock. Owned by one SWIM machine (one actor).
 */
import { assert } from './assert.js';
import { AWARENESS_MAX_MULTIPLIER } from './limits.js';

/**
 * The minimum suspicion timeout, memberlist's `suspicionTimeout`:
 * mult · max(1, log10(max(1, n))) · probe interval. The outer max(1, …)
 * (memberlist's) keeps the timeout at `mult` periods in clusters under 10
 * members, where log10 alone would shrink it toward zero. Floored to whole ms.
 */
export function suspicionMinTimeoutMs(suspicion_mult: number, members: number, probe_interval_ms: number): number {
  assert(suspicion_mult >= 1 && probe_interval_ms > 0, 'suspicion multiplier ≥ 1 and interval > 0');
  const node_scale = Math.max(1, Math.log10(Math.max(1, members)));
  return Math.floor(suspicion_mult * node_scale * probe_interval_ms);
}

/**
 * Confirmations a suspicion waits for before its timeout reaches the minimum
 * (memberlist: SuspicionMult − 2, or 0 when the cluster is too small for that
 * many independent confirmers besides the accuser and the suspect).
 */
export function expectedConfirmations(suspicion_mult: number, members: number): number {
  const k = suspicion_mult - 2;
  return members - 2 < k ? 0 : Math.max(0, k);
}

/**
 * Lifeguard's dynamic suspicion timeout after `confirmations` independent
 * confirmations out of `expected`:
 *
 *     max(min, max − (max − min) · log(C + 1) / log(K + 1))
 *
 * With no confirmations it is `max`; after K it is `min`; with K = 0 it is
 * `min` from the start. Floored to whole ms (memberlist's
 * `remainingSuspicionTime` without the elapsed part).
 */
export function suspicionTimeoutMs(min_ms: number, max_ms: number, confirmations: number, expected: number): number {
  assert(min_ms > 0 && max_ms >= min_ms, 'suspicion timeout bounds 0 < min ≤ max');
  assert(confirmations >= 0 && expected >= 0, 'confirmation counts are not negative');
  if (expected < 1) return min_ms;
  const fraction = Math.log(confirmations + 1) / Math.log(expected + 1);
  const raw_ms = max_ms - fraction * (max_ms - min_ms);
  return Math.max(min_ms, Math.floor(raw_ms));
}

/**
 * One open suspicion of one member: who has vouched for it and when it
 * started. The deadline is recomputed from this on every new confirmation.
 */
export interface Suspicion {
  /** Incarnation of the member the suspicion is about (a higher one refutes it). */
  incarnation: number;
  /** Local time the suspicion started here. */
  started_at_ms: number;
  /** Lower bound of the timeout (reached after `expected` confirmations). */
  min_ms: number;
  /** Upper bound of the timeout (with no confirmations). */
  max_ms: number;
  /** Confirmations that shrink the timeout (memberlist's k). */
  expected: number;
  /** Distinct members who reported the suspicion, the first accuser included; bounded by `expected + 1`. */
  observers: string[];
  /** Local time the member is declared down unless refuted. */
  deadline_ms: number;
}

/** Open a suspicion raised by `accuser` (the first observer; it does not count as a confirmation). */
export function openSuspicion(
  accuser: string,
  incarnation: number,
  now_ms: number,
  bounds: { min_ms: number; max_ms: number; expected: number },
): Suspicion {
  const timeout_ms = suspicionTimeoutMs(bounds.min_ms, bounds.max_ms, 0, bounds.expected);
  return { incarnation, started_at_ms: now_ms, ...bounds, observers: [accuser], deadline_ms: now_ms + timeout_ms };
}

/**
 * Add an independent confirmation from `observer`. Returns true (and moves
 * the deadline earlier) only for a new observer while fewer than `expected`
 * confirmations are in; repeats and surplus confirmations change nothing.
 */
export function confirmSuspicion(suspicion: Suspicion, observer: string): boolean {
  const confirmations = suspicion.observers.length - 1;
  if (confirmations >= suspicion.expected) return false;
  if (suspicion.observers.includes(observer)) return false;
  suspicion.observers.push(observer);
  const timeout_ms = suspicionTimeoutMs(suspicion.min_ms, suspicion.max_ms, confirmations + 1, suspicion.expected);
  suspicion.deadline_ms = suspicion.started_at_ms + timeout_ms;
  return true;
}

/**
 * Lifeguard's local health score (memberlist's `awareness`): an integer in
 * [0, max − 1]; timeouts are multiplied by score + 1.
 */
export class Awareness {
  /** Current score; 0 is healthy. */
  private score_value = 0;

  /** `max` is the largest multiplier (memberlist's AwarenessMaxMultiplier, default 8). */
  constructor(readonly max: number = AWARENESS_MAX_MULTIPLIER) {
    assert(Number.isInteger(max) && max >= 1 && max <= AWARENESS_MAX_MULTIPLIER, 'awareness max within 1..AWARENESS_MAX_MULTIPLIER');
  }

  /** Move the score by `delta`, clamped to [0, max − 1]. */
  applyDelta(delta: number): void {
    assert(Number.isInteger(delta), 'awareness deltas are whole');
    this.score_value = Math.min(this.max - 1, Math.max(0, this.score_value + delta));
  }

  /** The current score. */
  score(): number {
    return this.score_value;
  }

  /** `timeout_ms` stretched by this node's health: timeout · (score + 1). */
  scaleTimeoutMs(timeout_ms: number): number {
    return timeout_ms * (this.score_value + 1);
  }
}

/**
 * The awareness change at the end of a failed probe (memberlist's
 * `probeNode`): with nacks requested, +1 per relay that did not even nack
 * (those relays are assumed healthy, so silence points at us); without
 * nack-capable relays, +1 for the failure itself.
 */
export function failedProbeAwarenessDelta(nacks_expected: number, nacks_received: number): number {
  if (nacks_expected > 0) return Math.max(0, nacks_expected - nacks_received);
  return 1;
}
