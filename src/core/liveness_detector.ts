/**
 * One node's failure detector as a pure state machine, in five modes (the
 * detectors the benchmark compares; `combined` is ringkv's decision):
 *
 *   heartbeat       down when a member's gossip heartbeat has not grown for
 *                   `heartbeat_timeout_ms` (SPEC's plain gossip detector;
 *                   one observer: this node).
 *   phi             down when phi-accrual over gossip heartbeat arrivals
 *                   reaches its threshold (Hayashibara et al. 2004; one observer).
 *   swim            SWIM's own verdict without Lifeguard (Das et al. 2002).
 *   swim+lifeguard  SWIM's own verdict with Lifeguard (Dadgar et al. 2017).
 *   combined        the two-observer rule (`liveness.ts`): the local observer
 *                   is phi over threshold or this node's SWIM suspicion;
 *                   remote observers are suspicions carried by SWIM piggyback
 *                   (with who made them) and suspect/down statuses carried by
 *                   membership gossip (the peer that gossiped one counts as
 *                   its observer); heartbeat growth is evidence of life.
 *
 * In every mode a `down` verdict stays until the member shows a higher
 * incarnation (it refuted the verdict, or rejoined after a restart): a late
 * heartbeat, gossiped onward after the member died, must not revive it. A
 * member wrongly held down hears so through gossip and refutes within a
 * round or two. A member first learned is `alive`; `left` is final for its
 * incarnation.
 *
 * Contract: the actor feeds every event with the local time and a random
 * source: `step(input, now_ms, random)` returns what to do — SWIM messages to
 * send and timers to set (deliver the timer back as `{ type: 'swim', event }`),
 * liveness changes to publish (only changes, never repeats), and SWIM
 * refutations for the gossip table to follow. Start SWIM by delivering its
 * `tick` timer (at a random phase, so nodes do not probe in lockstep), and
 * deliver `{ type: 'check' }` every few tens of ms (phi and the heartbeat
 * timeout are evaluated then). Single-threaded: one actor only.
 */
import { assert, assertNever } from './assert.js';
import { MEMBERS_MAX, PHI_REPORTED_MAX } from './limits.js';
import { LivenessTracker, type LivenessEvent, type LivenessStatus } from './liveness.js';
import type { MemberEntry } from './membership.js';
import { PhiAccrualDetector, type PhiConfig } from './phi_accrual.js';
import { SwimMachine, type SwimConfig, type SwimEvent, type SwimMessage, type SwimTimer, type SwimUpdate } from './swim.js';

/** The failure detectors ringkv can run (names as the benchmark reports them). */
export type DetectorMode = 'heartbeat' | 'phi' | 'swim' | 'swim+lifeguard' | 'combined';

/** Every mode, in benchmark order. */
export const DETECTOR_MODES: readonly DetectorMode[] = ['heartbeat', 'phi', 'swim', 'swim+lifeguard', 'combined'];

/** Tunables of one node's detector. */
export interface DetectorConfig {
  /** This node's member id. */
  self: string;
  /** Which detector decides. */
  mode: DetectorMode;
  /** SWIM tunables (modes swim, swim+lifeguard, combined); `lifeguard` is set by the mode. */
  swim?: Partial<SwimConfig>;
  /** Phi-accrual tunables (modes phi, combined). */
  phi?: Partial<PhiConfig>;
  /** Mode heartbeat: silence after which a member is down. */
  heartbeat_timeout_ms: number;
}

/** What drives the detector. */
export type DetectorInput =
  /** Membership entries that changed, as merged by gossip; `from` is the gossip peer that carried them. */
  | { type: 'members'; entries: readonly MemberEntry[]; from?: string }
  /** `member`'s gossip heartbeat reached `heartbeat` (for drivers without whole entries). */
  | { type: 'heartbeat'; member: string; heartbeat: number }
  /** A SWIM message from another node, or a SWIM timer firing. */
  | { type: 'swim'; event: SwimMessage | SwimTimer }
  /** Periodic evaluation: phi, heartbeat timeout, report expiry. */
  | { type: 'check' };

/** What the actor must do. */
export type DetectorAction =
  /** Send a SWIM message to `to`'s detector. */
  | { type: 'send'; to: string; message: SwimMessage }
  /** Deliver `timer` back as `{ type: 'swim', event: timer }` at `at_ms`. */
  | { type: 'set_timer'; timer: SwimTimer; at_ms: number }
  /** A liveness change to publish; `incarnation` is the member's incarnation the decision was made at. */
  | { type: 'liveness'; member: string; status: LivenessStatus; incarnation: number; at_ms: number }
  /** SWIM refuted a suspicion of this node by taking `incarnation`; the gossip table must follow. */
  | { type: 'refute'; incarnation: number };

/** What the detector holds about one other member. */
interface KnownMember {
  /** Highest incarnation seen through gossip. */
  incarnation: number;
  /** Highest heartbeat seen at that incarnation. */
  heartbeat: number;
  /** Local time the heartbeat (or incarnation) last grew, or the member was first learned. */
  last_growth_ms: number;
  /** Phi-accrual over heartbeat arrivals (modes phi and combined). */
  phi: PhiAccrualDetector | undefined;
  /** Mode combined: phi is over its threshold (the tracker was told local_suspect). */
  phi_suspect: boolean;
  /** The decided (published) status. */
  decided: LivenessStatus;
}

/** One node's failure detector in one mode. */
export class LivenessDetector {
  /** Tunables. */
  readonly config: Readonly<DetectorConfig>;
  /** SWIM, in the modes that run it. */
  readonly swim: SwimMachine | undefined;
  /** Two-observer decision, in mode combined. */
  private readonly tracker: LivenessTracker | undefined;
  /** Other members by id, at most MEMBERS_MAX. */
  private readonly members = new Map<string, KnownMember>();

  constructor(config: DetectorConfig) {
    this.config = config;
    assert(config.heartbeat_timeout_ms > 0, 'heartbeat timeout is positive');
    const mode = config.mode;
    if (mode === 'swim' || mode === 'swim+lifeguard' || mode === 'combined') {
      this.swim = new SwimMachine({ ...config.swim, self: config.self, lifeguard: mode !== 'swim' });
    } else {
      this.swim = undefined;
    }
    this.tracker = mode === 'combined' ? new LivenessTracker({ self: config.self }) : undefined;
  }

  /** Handle one input at local time `now_ms`; `random` returns floats in [0, 1). */
  step(input: DetectorInput, now_ms: number, random: () => number): DetectorAction[] {
    const out: DetectorAction[] = [];
    switch (input.type) {
      case 'members':
        assert(input.entries.length <= MEMBERS_MAX, 'membership changes bounded by MEMBERS_MAX');
        for (const entry of input.entries) this.onEntry(entry, input.from, now_ms, random, out);
        break;
      case 'heartbeat': {
        const known = this.members.get(input.member);
        const incarnation = known?.incarnation ?? 0;
        this.onEntry(heartbeatEntry(input.member, incarnation, input.heartbeat), undefined, now_ms, random, out);
        break;
      }
      case 'swim':
        this.runSwim(input.event, false, now_ms, random, out);
        break;
      case 'check':
        this.onCheck(now_ms, out);
        break;
      default:
        assertNever(input);
    }
    return out;
  }

  /** The decided status of every member known (self excluded). */
  view(): Record<string, LivenessStatus> {
    const out: Record<string, LivenessStatus> = {};
    for (const [id, known] of this.members) out[id] = known.decided;
    return out;
  }

  /** The decided status of `member`, or undefined if unknown. */
  status(member: string): LivenessStatus | undefined {
    return this.members.get(member)?.decided;
  }

  /**
   * The phi of every member known at `now_ms`, in the modes that run phi
   * accrual (phi, combined); `{}` in the others. Members that left are
   * skipped (nobody waits for their heartbeats). Every value is finite: phi
   * above PHI_REPORTED_MAX, Infinity included, is reported as that cap.
   * At most MEMBERS_MAX entries.
   */
  phiValues(now_ms: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, known] of this.members) {
      if (known.phi === undefined || known.decided === 'left') continue;
      const phi = known.phi.phi(now_ms);
      assert(!Number.isNaN(phi) && phi >= 0, 'phi is a non-negative number');
      out[id] = Math.min(phi, PHI_REPORTED_MAX);
    }
    return out;
  }

  /** Observers currently counted against `member` (mode combined; empty otherwise). */
  observers(member: string): string[] {
    return this.tracker?.observers(member) ?? [];
  }

  /** One changed membership entry from gossip. */
  private onEntry(entry: MemberEntry, from: string | undefined, now_ms: number, random: () => number, out: DetectorAction[]): void {
    const swim = this.swim;
    if (entry.id === this.config.self) {
      // The table took a higher incarnation (it refuted gossip about us): SWIM must not lag behind it.
      if (swim !== undefined && entry.incarnation > swim.incarnation()) {
        this.feedSwim({ member: entry.id, incarnation: entry.incarnation, status: 'alive', from: entry.id }, now_ms, random, out);
      }
      return;
    }
    let known = this.members.get(entry.id);
    if (known === undefined) {
      if (this.members.size >= MEMBERS_MAX) return; // A cluster past MEMBERS_MAX is a configuration error.
      known = this.learn(entry, now_ms, out);
    } else {
      const newer_incarnation = entry.incarnation > known.incarnation;
      if (newer_incarnation || (entry.incarnation === known.incarnation && entry.heartbeat > known.heartbeat)) {
        known.incarnation = entry.incarnation;
        known.heartbeat = entry.heartbeat;
        if (newer_incarnation) this.onNewIncarnation(entry.id, known, now_ms, out);
        this.onHeartbeat(entry.id, known, now_ms, out);
      }
    }
    if (entry.status === 'left') this.onLeft(entry.id, known, now_ms, out);
    const tracker = this.tracker;
    if (tracker !== undefined && (entry.status === 'suspect' || entry.status === 'down') && from !== undefined && from !== this.config.self && from !== entry.id) {
      this.decideAll(tracker.observe({ type: 'report', member: entry.id, observer: from, incarnation: entry.incarnation }, now_ms), out);
    }
    if (swim !== undefined) {
      const swim_incarnation = swim.memberIncarnation(entry.id);
      const left_news = entry.status === 'left' && swim.status(entry.id) !== 'left';
      if (swim_incarnation === undefined || entry.incarnation > swim_incarnation || left_news) {
        const alive = entry.status === 'alive' || entry.status === 'suspect';
        const update: SwimUpdate = { member: entry.id, incarnation: entry.incarnation, status: alive ? 'alive' : entry.status, from: alive ? entry.id : (from ?? entry.id) };
        this.feedSwim(update, now_ms, random, out);
      }
    }
  }

  /** First sight of a member: alive (first sight counts as a heartbeat arrival, as Akka's first contact). */
  private learn(entry: MemberEntry, now_ms: number, out: DetectorAction[]): KnownMember {
    const uses_phi = this.config.mode === 'phi' || this.config.mode === 'combined';
    const known: KnownMember = {
      incarnation: entry.incarnation,
      heartbeat: entry.heartbeat,
      last_growth_ms: now_ms,
      phi: uses_phi ? new PhiAccrualDetector(this.config.phi) : undefined,
      phi_suspect: false,
      decided: 'alive',
    };
    known.phi?.heartbeat(now_ms);
    this.members.set(entry.id, known);
    this.tracker?.observe({ type: 'alive', member: entry.id, incarnation: entry.incarnation }, now_ms);
    out.push({ type: 'liveness', member: entry.id, status: 'alive', incarnation: entry.incarnation, at_ms: now_ms });
    return known;
  }

  /** The member raised its incarnation: it refuted a verdict or rejoined, so it is alive. */
  private onNewIncarnation(id: string, known: KnownMember, now_ms: number, out: DetectorAction[]): void {
    const tracker = this.tracker;
    if (tracker !== undefined) {
      this.decideAll(tracker.observe({ type: 'alive', member: id, incarnation: known.incarnation }, now_ms), out);
    } else if (this.swim === undefined && known.decided !== 'alive') {
      this.decide(id, 'alive', now_ms, out); // SWIM modes hear the new incarnation through feedSwim.
    }
  }

  /** The member's heartbeat grew here: an arrival for phi and the timeout, evidence of life for the tracker. */
  private onHeartbeat(id: string, known: KnownMember, now_ms: number, out: DetectorAction[]): void {
    known.last_growth_ms = now_ms;
    known.phi?.heartbeat(now_ms);
    const tracker = this.tracker;
    // Down stays down until a higher incarnation: this heartbeat may be one the member sent before it died.
    if (tracker !== undefined && tracker.status(id) !== 'down') this.decideAll(tracker.observe({ type: 'heartbeat', member: id }, now_ms), out);
  }

  private onLeft(id: string, known: KnownMember, now_ms: number, out: DetectorAction[]): void {
    if (this.tracker !== undefined) this.decideAll(this.tracker.observe({ type: 'left', member: id, incarnation: known.incarnation }, now_ms), out);
    else if (this.swim === undefined) this.decide(id, 'left', now_ms, out);
  }

  /** Evaluate phi and the heartbeat timeout for every member; expire stale remote reports. */
  private onCheck(now_ms: number, out: DetectorAction[]): void {
    const mode = this.config.mode;
    for (const [id, known] of this.members) {
      if (mode === 'heartbeat') {
        if (known.decided === 'alive' && now_ms - known.last_growth_ms >= this.config.heartbeat_timeout_ms) this.decide(id, 'down', now_ms, out);
      } else if (mode === 'phi') {
        if (known.decided === 'alive' && known.phi !== undefined && !known.phi.isAvailable(now_ms)) this.decide(id, 'down', now_ms, out);
      } else if (mode === 'combined' && known.phi !== undefined && this.tracker !== undefined) {
        const suspect = !known.phi.isAvailable(now_ms);
        if (suspect === known.phi_suspect) continue;
        known.phi_suspect = suspect;
        this.decideAll(this.tracker.observe({ type: suspect ? 'local_suspect' : 'local_clear', member: id }, now_ms), out);
      }
    }
    if (this.tracker !== undefined) this.decideAll(this.tracker.expire(now_ms), out);
  }

  /** Gossip news for SWIM; its `observed` reports are dropped (the gossip path reports them itself). */
  private feedSwim(update: SwimUpdate, now_ms: number, random: () => number, out: DetectorAction[]): void {
    this.runSwim({ type: 'gossip', updates: [update] }, true, now_ms, random, out);
  }

  /** Step SWIM and translate its actions. */
  private runSwim(event: SwimEvent, from_gossip: boolean, now_ms: number, random: () => number, out: DetectorAction[]): void {
    const swim = this.swim;
    if (swim === undefined) return;
    for (const action of swim.step(event, now_ms, random)) {
      switch (action.type) {
        case 'send':
        case 'set_timer':
          out.push(action);
          break;
        case 'status':
          if (action.member === this.config.self) out.push({ type: 'refute', incarnation: action.incarnation });
          else if (this.tracker !== undefined) {
            if (action.status === 'alive') this.decideAll(this.tracker.observe({ type: 'alive', member: action.member, incarnation: action.incarnation }, now_ms), out);
          } else {
            this.decide(action.member, action.status, now_ms, out);
          }
          break;
        case 'observed':
          if (this.tracker !== undefined && !from_gossip) {
            this.decideAll(this.tracker.observe({ type: 'report', member: action.member, observer: action.observer, incarnation: action.incarnation }, now_ms), out);
          }
          break;
        default:
          assertNever(action);
      }
    }
  }

  private decideAll(events: readonly LivenessEvent[], out: DetectorAction[]): void {
    for (const event of events) this.decide(event.member, event.status, event.at_ms, out);
  }

  /** Record and publish a decision, unless it is no change. */
  private decide(id: string, status: LivenessStatus, now_ms: number, out: DetectorAction[]): void {
    const known = this.members.get(id);
    if (known === undefined || known.decided === status) return;
    known.decided = status;
    out.push({ type: 'liveness', member: id, status, incarnation: known.incarnation, at_ms: now_ms });
  }
}

/** A membership entry that says only "heartbeat reached `heartbeat`" (the `heartbeat` input). */
function heartbeatEntry(id: string, incarnation: number, heartbeat: number): MemberEntry {
  return { id, address: { thread: -1 }, data_center: '', rack: '', heartbeat, incarnation, status: 'alive', tokens: [] };
}
