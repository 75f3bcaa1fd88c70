/**
 * The liveness decision: ringkv's rule that a member is declared down only
 * when at least two independent observers report it (SPEC, "Failure
 * detection"), so one node with a broken link to another can never get it
 * declared down on its own.
 *
 * Observers are counted as distinct member ids, this node included:
 *   - the local observer: this node's phi-accrual detector over its
 *     threshold, or its own SWIM suspicion — together ONE observer;
 *   - remote observers: other nodes' suspicions or down-confirmations heard
 *     through gossip (SWIM updates carry who made the claim).
 * Decision (documented, per the spec's "at least two independent servers
 * report it"): two remote observers are enough even while the local one
 * does not suspect, because the local observer may simply not have probed
 * the member yet; but any fresh evidence of life seen here (a heartbeat that
 * grew, an `alive` at a higher incarnation) clears every report received so
 * far, so a member that this node hears from is never kept down by rumours
 * older than that evidence.
 *
 * Status: `alive` (no observer), `suspect` (one observer), `down` (two or
 * more; sticky until evidence of life), `left` (it said so; final until it
 * rejoins at a higher incarnation). `isAlive` is true for alive and suspect:
 * a suspicion alone does not take a member out of service.
 *
 * Pure: time comes in as `now_ms`. Owned by the failure-detector actor, which
 * publishes the returned events to the node's other actors (coordinator,
 * hint replayer, anti-entropy); subscription lives in the actor, not here.
 */
import { assert, assertNever } from './assert.js';
import { LIVENESS_OBSERVERS_MAX, MEMBERS_MAX } from './limits.js';

/** Liveness of a member as this node decides it. */
export type LivenessStatus = 'alive' | 'suspect' | 'down' | 'left';

/** A change of liveness, published to the node's other actors. */
export interface LivenessEvent {
  /** The member whose liveness changed. */
  member: string;
  /** Its new status. */
  status: LivenessStatus;
  /** Local time of the decision. */
  at_ms: number;
}

/** The one read interface other actors use to ask about liveness. */
export interface LivenessView {
  /** True unless the member is down, has left, or is unknown. */
  isAlive(member: string): boolean;
  /** The member's status, or undefined if unknown. */
  status(member: string): LivenessStatus | undefined;
}

/** Evidence fed to the tracker by the failure-detector actor. */
export type LivenessInput =
  /** The local observer suspects `member` (phi over threshold; or SWIM suspicion without an incarnation at hand). */
  | { type: 'local_suspect'; member: string }
  /** The local observer no longer suspects `member` (phi fell back under its threshold, a probe was acked). */
  | { type: 'local_clear'; member: string }
  /** `observer` claims `member` is suspect or down at `incarnation` (SWIM `observed`; observer may be self). */
  | { type: 'report'; member: string; observer: string; incarnation: number }
  /** `member`'s heartbeat counter grew, as seen here: fresh evidence of life. */
  | { type: 'heartbeat'; member: string }
  /** `member` is alive at `incarnation` (a refutation or a rejoin; equal incarnations refute nothing). */
  | { type: 'alive'; member: string; incarnation: number }
  /** `member` left the cluster at `incarnation`. */
  | { type: 'left'; member: string; incarnation: number };

/** Tunables of the decision. */
export interface LivenessConfig {
  /** This node's member id (reports it makes are the local observer). */
  self: string;
  /** Distinct observers needed to declare down (the spec: two). */
  observers_required: number;
  /** A remote report stops counting after this long (it must be repeated to keep counting). */
  report_ttl_ms: number;
}

/** Two observers; reports count for 30 s (beyond the longest Lifeguard suspicion at the default period). */
export const LIVENESS_DEFAULTS: Readonly<Omit<LivenessConfig, 'self'>> = { observers_required: 2, report_ttl_ms: 30_000 };

/** What this node holds about one member. */
interface MemberLiveness {
  /** Highest incarnation heard; reports at lower ones are stale. */
  incarnation: number;
  /** Current decision. */
  status: LivenessStatus;
  /** The local observer suspects the member. */
  local_suspect: boolean;
  /** Remote observers (never self) and when their latest report arrived; at most LIVENESS_OBSERVERS_MAX. */
  reports: Map<string, number>;
}

/** The two-observer decision for every member this node knows. */
export class LivenessTracker implements LivenessView {
  /** Tunables. */
  readonly config: Readonly<LivenessConfig>;
  /** Members by id, at most MEMBERS_MAX. */
  private readonly members = new Map<string, MemberLiveness>();

  constructor(config: Partial<LivenessConfig> & { self: string }) {
    this.config = { ...LIVENESS_DEFAULTS, ...config };
    assert(Number.isInteger(this.config.observers_required) && this.config.observers_required >= 2, 'down needs at least two observers');
    assert(this.config.report_ttl_ms > 0, 'reports live a positive time');
  }

  /** Feed one piece of evidence; returns the liveness changes it caused (0 or 1 event). */
  observe(input: LivenessInput, now_ms: number): LivenessEvent[] {
    if (input.member === this.config.self) return []; // A node's view of itself is not decided by others.
    const member = this.memberFor(input.member, 'incarnation' in input ? input.incarnation : 0);
    if (member === undefined) return [];
    switch (input.type) {
      case 'local_suspect':
        member.local_suspect = true;
        break;
      case 'local_clear':
        member.local_suspect = false;
        break;
      case 'report':
        this.addReport(member, input.observer, input.incarnation, now_ms);
        break;
      case 'heartbeat':
        if (member.status === 'left') return [];
        this.clearEvidence(member);
        return this.settle(input.member, member, 'alive', now_ms);
      case 'alive':
        if (input.incarnation <= member.incarnation) return [];
        member.incarnation = input.incarnation;
        this.clearEvidence(member);
        return this.settle(input.member, member, 'alive', now_ms);
      case 'left':
        if (input.incarnation < member.incarnation) return [];
        member.incarnation = input.incarnation;
        this.clearEvidence(member);
        return this.settle(input.member, member, 'left', now_ms);
      default:
        return assertNever(input);
    }
    return this.decide(input.member, member, now_ms);
  }

  /** Stop counting remote reports older than the TTL; a suspect may fall back to alive (down stays down). */
  expire(now_ms: number): LivenessEvent[] {
    const events: LivenessEvent[] = [];
    for (const [id, member] of this.members) {
      for (const [observer, at_ms] of member.reports) if (now_ms - at_ms > this.config.report_ttl_ms) member.reports.delete(observer);
      events.push(...this.decide(id, member, now_ms));
    }
    return events;
  }

  /** Distinct observers currently counted against `member` (self first if the local observer suspects). */
  observers(member: string): string[] {
    const record = this.members.get(member);
    if (record === undefined) return [];
    return [...(record.local_suspect ? [this.config.self] : []), ...record.reports.keys()];
  }

  /** True for alive and suspect members; false for down, left and unknown ones. */
  isAlive(member: string): boolean {
    const status = this.members.get(member)?.status;
    return status === 'alive' || status === 'suspect';
  }

  /** The decided status of `member`, or undefined if never heard of. */
  status(member: string): LivenessStatus | undefined {
    return this.members.get(member)?.status;
  }

  /** The record of `id`, created (alive) on first sight; undefined past MEMBERS_MAX. */
  private memberFor(id: string, incarnation: number): MemberLiveness | undefined {
    let member = this.members.get(id);
    if (member === undefined) {
      if (this.members.size >= MEMBERS_MAX) return undefined;
      member = { incarnation, status: 'alive', local_suspect: false, reports: new Map() };
      this.members.set(id, member);
    }
    return member;
  }

  /** Count `observer`'s report unless it is about an older incarnation; self's report is the local observer. */
  private addReport(member: MemberLiveness, observer: string, incarnation: number, now_ms: number): void {
    if (incarnation < member.incarnation || member.status === 'left') return;
    if (incarnation > member.incarnation) {
      member.incarnation = incarnation;
      member.reports.clear(); // Reports about an older incarnation were refuted by this one.
    }
    if (observer === this.config.self) {
      member.local_suspect = true;
      return;
    }
    if (!member.reports.has(observer) && member.reports.size >= LIVENESS_OBSERVERS_MAX) return; // Enough to decide already.
    member.reports.set(observer, now_ms);
  }

  private clearEvidence(member: MemberLiveness): void {
    member.local_suspect = false;
    member.reports.clear();
  }

  /** Recompute the status from the observers counted; down is sticky until evidence of life. */
  private decide(id: string, member: MemberLiveness, now_ms: number): LivenessEvent[] {
    if (member.status === 'left' || member.status === 'down') return [];
    let live_reports = 0;
    for (const at_ms of member.reports.values()) if (now_ms - at_ms <= this.config.report_ttl_ms) live_reports++;
    const count = (member.local_suspect ? 1 : 0) + live_reports;
    const status: LivenessStatus = count >= this.config.observers_required ? 'down' : count >= 1 ? 'suspect' : 'alive';
    return this.settle(id, member, status, now_ms);
  }

  private settle(id: string, member: MemberLiveness, status: LivenessStatus, now_ms: number): LivenessEvent[] {
    if (member.status === status) return [];
    member.status = status;
    return [{ member: id, status, at_ms: now_ms }];
  }
}
