/**
 * SWIM's infection-style dissemination (SWIM 2002 §4.1): membership updates
 * ride piggybacked on probe messages, each retransmitted a bounded number of
 * times, λ·log(n+1), so that it reaches everyone with high probability
 * (memberlist's `TransmitLimitedQueue` with RetransmitMult).
 *
 * One update per member is queued: a newer update about a member replaces
 * the older one (it supersedes it). Least-transmitted updates go first.
 *
 * Pure; owned by one SWIM machine.
 */
import { assert } from './assert.js';
import { SWIM_BROADCAST_QUEUE_MAX, SWIM_PIGGYBACK_MAX_UPDATES } from './limits.js';
import type { MemberStatus } from './membership.js';

/** One SWIM membership update: "`from` says `member` is `status` at `incarnation`". */
export interface SwimUpdate {
  /** The member the update is about. */
  member: string;
  /** The member's incarnation the claim is made at. */
  incarnation: number;
  /** The claimed status. */
  status: MemberStatus;
  /** Who makes the claim (the observer; for `alive`, usually the member itself). */
  from: string;
}

/** A queued update and how often it has been sent. */
interface Queued {
  /** The update. */
  update: SwimUpdate;
  /** Times it has been piggybacked so far. */
  transmits: number;
}

/** Retransmissions per update for a cluster of `members`: mult · ceil(log10(n + 1)) (memberlist's retransmitLimit). */
export function retransmitLimit(retransmit_mult: number, members: number): number {
  assert(retransmit_mult >= 1 && members >= 0, 'retransmit multiplier ≥ 1');
  return retransmit_mult * Math.ceil(Math.log10(members + 1));
}

/** The queue of updates waiting to be piggybacked. */
export class BroadcastQueue {
  /** Queued updates by member id (one per member), at most SWIM_BROADCAST_QUEUE_MAX. */
  private readonly queue = new Map<string, Queued>();

  /** Queue `update`, replacing any queued update about the same member. */
  enqueue(update: SwimUpdate): void {
    this.queue.delete(update.member);
    if (this.queue.size >= SWIM_BROADCAST_QUEUE_MAX) this.dropMostTransmitted();
    this.queue.set(update.member, { update: { ...update }, transmits: 0 });
  }

  /**
   * Up to `max` updates to piggyback on one message, least transmitted
   * first; each taken update counts one transmission and is dropped once it
   * reaches `limit`.
   */
  take(limit: number, max: number = SWIM_PIGGYBACK_MAX_UPDATES): SwimUpdate[] {
    assert(max >= 0 && max <= SWIM_PIGGYBACK_MAX_UPDATES, 'piggyback bounded by SWIM_PIGGYBACK_MAX_UPDATES');
    const chosen = [...this.queue.values()].sort((a, b) => a.transmits - b.transmits).slice(0, max);
    for (const queued of chosen) {
      queued.transmits++;
      if (queued.transmits >= limit) this.queue.delete(queued.update.member);
    }
    return chosen.map((q) => ({ ...q.update }));
  }

  /** The queued update about `member`, if any (for tests and the buddy system). */
  peek(member: string): SwimUpdate | undefined {
    const queued = this.queue.get(member);
    return queued === undefined ? undefined : { ...queued.update };
  }

  /** Updates queued. */
  size(): number {
    return this.queue.size;
  }

  private dropMostTransmitted(): void {
    let worst: Queued | undefined;
    for (const queued of this.queue.values()) if (worst === undefined || queued.transmits > worst.transmits) worst = queued;
    if (worst !== undefined) this.queue.delete(worst.update.member);
  }
}
