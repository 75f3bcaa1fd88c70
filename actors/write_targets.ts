/**
 * Where a write's sibling set goes besides the minting owner: the other
 * owners, and in sloppy mode the fallbacks that hold it as a hint for an
 * owner that is held down or failed (Dynamo 2007 §4.6); strict mode
 * retries the owner with backoff instead. Shared by a lone write
 * (`coordinator.ts`) and a write of a batch that left it (`put_batch.ts`).
 *
 * Thread contract: the coordinator actor's.
 */
import { OverloadedError } from '../src/core/errors.js';
import { FALLBACK_ATTEMPTS_MAX } from '../src/core/limits.js';
import { QuorumTracker, retryDelayMs, type QuorumRequest, type ReplicaReply } from '../src/core/quorum.js';
import type { PreferenceList } from '../src/core/ring.js';
import type { Version } from '../src/core/sibling_set.js';
import type { ActorContext, Message, TimerHandle } from '../src/runtime/actor.js';
import type { HeldDown } from './held_down.js';
import { describe } from './log_text.js';
import { handoffRef, replicaRef } from './member_refs.js';
import type { QuorumWait } from './quorum_wait.js';
import { isTransient, valueBytes } from './replica_asks.js';

/** What choosing and asking targets needs of the coordinator. */
export interface TargetHost {
  readonly self: string;
  /** Members not to use: unreachable, or their storage failed. */
  readonly down: HeldDown;
  dc(node: string): string;
  /** The deadline of a replica or hint ask carrying `bytes` of values. */
  askTimeout(bytes: number): number;
  /** A promise resolved after `ms` of actor time. */
  sleep(ctx: ActorContext<never>, ms: number): { promise: Promise<void>; handle: TimerHandle };
  /** A fallback was asked to hold a hint (counted in stats). */
  fallbackUsed(): void;
}

/**
 * Throw `UnavailableError` when the targets not held down (owners, and in
 * sloppy mode the fallbacks that would stand in for owners held down)
 * cannot meet the write's requirement even if every one of them answers.
 */
export function refuseIfUnreachable(host: TargetHost, request: QuorumRequest, pref: PreferenceList): void {
  const probe = new QuorumTracker(request);
  // Pending replicas are targets already: never a fallback too.
  const used = new Set<string>(request.pending?.map((p) => p.node) ?? []);
  for (const owner of pref.replicas) {
    const dc = host.dc(owner);
    if (!host.down.has(owner)) {
      probe.record({ node: owner, dc, ok: true });
      continue;
    }
    const fallback = request.strict ? null : pickFallback(host, pref, dc, used);
    if (fallback !== null) {
      probe.addTarget({ node: fallback, dc: host.dc(fallback), standingInFor: owner });
      probe.record({ node: fallback, dc: host.dc(fallback), standingInFor: owner, ok: true });
    }
    probe.record({ node: owner, dc, ok: false, error: host.down.reason(owner) });
  }
  const verdict = probe.outcome();
  if (verdict.status === 'failed') throw verdict.error;
}

/**
 * Get the sibling set to `owner`, or (sloppy) to fallbacks holding it as a
 * hint for `owner`; every outcome is recorded in `wait`. True when `owner`
 * itself acknowledged the set.
 */
export async function replicateTo(
  host: TargetHost,
  owner: string,
  key: Uint8Array,
  siblings: Version[],
  pref: PreferenceList,
  strict: boolean,
  wait: QuorumWait,
  used: Set<string>,
  refusals: string[],
  ctx: ActorContext<Message>,
  /** The failure of a first attempt already made (a batch's merge): the loop starts from it. */
  first?: unknown,
): Promise<boolean> {
  let failure: ReplicaReply = { node: owner, dc: host.dc(owner), ok: false, error: host.down.reason(owner) };
  if (!host.down.has(owner)) {
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt === 0 && first !== undefined) throw first;
        await ctx.ask(replicaRef(owner), { type: 'merge', key, versions: siblings }, host.askTimeout(valueBytes(siblings)));
        wait.record({ node: owner, dc: host.dc(owner), ok: true });
        return true;
      } catch (err) {
        failure = { node: owner, dc: host.dc(owner), ok: false, error: describe(err) };
        const delay = strict && isTransient(err) ? retryDelayMs(attempt, ctx.random()) : null;
        if (delay === null) break;
        await host.sleep(ctx, delay).promise;
        if (wait.tracker.outcome().status !== 'pending') return false;
      }
    }
  }
  if (strict) {
    wait.record(failure);
    return false;
  }
  for (let attempt = 0; attempt < FALLBACK_ATTEMPTS_MAX; attempt++) {
    const fallback = pickFallback(host, pref, host.dc(owner), used);
    if (fallback === null) break;
    wait.tracker.addTarget({ node: fallback, dc: host.dc(fallback), standingInFor: owner });
    wait.record(failure);
    host.fallbackUsed();
    try {
      await ctx.ask(handoffRef(fallback), { type: 'hint', owner, key, versions: siblings }, host.askTimeout(valueBytes(siblings)));
      wait.record({ node: fallback, dc: host.dc(fallback), standingInFor: owner, ok: true });
      return false;
    } catch (err) {
      if (err instanceof OverloadedError) refusals.push(`${fallback}: ${err.message}`);
      failure = { node: fallback, dc: host.dc(fallback), standingInFor: owner, ok: false, error: describe(err) };
    }
  }
  wait.record(failure);
  return false;
}

/** The next fallback not held down and not used by this request, same data center first. */
function pickFallback(host: TargetHost, pref: PreferenceList, dc: string, used: Set<string>): string | null {
  const usable = pref.fallbacks.filter((node) => !used.has(node) && !host.down.has(node) && node !== host.self);
  const pick = usable.find((node) => host.dc(node) === dc) ?? usable[0] ?? null;
  if (pick !== null) used.add(pick);
  return pick;
}
