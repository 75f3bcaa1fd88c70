/**
 * The failure-detector actor: one per node, the node's single source of
 * liveness. It runs `LivenessDetector` (`src/core/liveness_detector.ts`) in
 * one of five modes and carries out what it returns:
 *
 *   - SWIM messages to other nodes' detectors (`detectorRef(member)`), as
 *     `{ type: 'swim', message }`, and SWIM timers back to itself;
 *   - every liveness change it decides, published to each subscriber as
 *     `{ type: 'liveness', member, status, at_ms }` (only changes, never
 *     repeats) — the one local interface of the node's other actors
 *     (coordinator, hint replayer, anti-entropy). The node's gossip actor
 *     always gets them too, and writes `down` into the membership table so
 *     the decision spreads (and a member wrongly held down hears it and
 *     refutes);
 *   - SWIM refutations, to the gossip actor (`refute`), so the table's
 *     incarnation follows SWIM's.
 * It learns members and heartbeats from the gossip actor (`members`), and
 * evaluates phi and the heartbeat timeout every DETECTOR_CHECK_INTERVAL_MS.
 *
 * Storage failures (issue 13) ride beside liveness: the node's replica
 * reports its own (`storage-report`); while failed, this detector tells
 * every peer's detector (`storage-state`) every
 * STORAGE_STATE_ANNOUNCE_INTERVAL_MS, and a peer forgets the report after
 * STORAGE_STATE_TTL_MS without a repeat. A node reports its own storage
 * alone: unlike unreachability, which two observers must agree on, nobody
 * knows better than the node that its disk failed. A change is published to
 * the subscribers other than gossip (the membership table is about
 * reachability, and a node held down there would refute it) as a
 * `liveness` message with `storage` set: `down` while the storage is failed,
 * the member's liveness once it is back. Coordinators treat the member as
 * down while its storage is failed (writes for it go to fallbacks as hints,
 * reads to its peers); the hint replayer pauses its replay.
 *
 * Asks: `liveness-view` → the decided status of every member known;
 * `stats` → messages sent, and the phi of every member known now.
 *
 * Thread contract: one instance on its node's thread; state is private.
 */
import { assert, assertNever } from '../src/core/assert.js';
import { LIVENESS_SUBSCRIBERS_MAX, STORAGE_STATE_ANNOUNCE_INTERVAL_MS, STORAGE_STATE_TTL_MS } from '../src/core/limits.js';
import type { LivenessStatus } from '../src/core/liveness.js';
import { LivenessDetector, type DetectorAction, type DetectorMode } from '../src/core/liveness_detector.js';
import type { MemberEntry } from '../src/core/membership.js';
import type { PhiConfig } from '../src/core/phi_accrual.js';
import type { SwimConfig, SwimMessage, SwimTimer } from '../src/core/swim.js';
import { sameRef, type Actor, type ActorContext, type ActorRef } from '../src/runtime/actor.js';
import { GOSSIP_INTERVAL_MS } from './gossip.js';
import { detectorRef, gossipRef } from './member_refs.js';

export type { DetectorMode } from '../src/core/liveness_detector.js';

/** Messages the failure-detector actor understands. */
export type FailureDetectorMsg =
  /** From the gossip actor: entries that changed; `from` is the gossip peer that carried them. */
  | { type: 'members'; entries: MemberEntry[]; from?: string }
  /** `member`'s gossip heartbeat grew to `heartbeat` (drivers without whole entries). */
  | { type: 'heartbeat'; member: string; heartbeat: number; at_ms: number }
  /** A SWIM message from another node's detector. */
  | { type: 'swim'; message: SwimMessage }
  /** Timer: a SWIM timer firing. */
  | { type: 'swim-timer'; timer: SwimTimer }
  /** Timer: evaluate phi and the heartbeat timeout. */
  | { type: 'check' }
  /** Ask: the decided view → `Record<string, LivenessStatus>`. */
  | { type: 'liveness-view' }
  /** Ask: messages sent and current phi per member → `FailureDetectorStats`. */
  | { type: 'stats' }
  /** From this node's replica: its storage failed (with the cause) or works again. */
  | { type: 'storage-report'; failed: boolean; cause: string }
  /** From a peer's detector: that member's storage failed (repeated while it stays failed) or works again. */
  | { type: 'storage-state'; member: string; failed: boolean; cause: string }
  /** Ask: members whose storage is failed, as this detector knows → `Record<member, cause>`. */
  | { type: 'storage-view' };

/** How to spawn a failure detector. */
export interface FailureDetectorArgs {
  /** This node's member id (`memberId(thread)`). */
  self: string;
  /** Which detector decides (default 'combined', ringkv's decision). */
  mode?: DetectorMode;
  /** Local actors that get every liveness change (at most LIVENESS_SUBSCRIBERS_MAX). */
  subscribers?: ActorRef[];
  /** SWIM tunables (modes swim, swim+lifeguard, combined; `lifeguard` follows the mode). */
  swim?: Partial<SwimConfig>;
  /** Phi-accrual tunables (modes phi, combined). */
  phi?: Partial<PhiConfig>;
  /** Mode heartbeat: silence after which a member is down (default HEARTBEAT_TIMEOUT_MS). */
  heartbeat_timeout_ms?: number;
  /** The node's gossip actor, told of decisions and refutations (default `gossipRef(self)`). */
  gossip?: ActorRef;
}

/** Answer to the `stats` ask. */
export interface FailureDetectorStats {
  /** Messages sent to other nodes (SWIM ping, ping-req, ack, nack). */
  messages_sent: number;
  /** Messages sent to actors of this node (liveness changes, refutations). */
  local_messages_sent: number;
  /**
   * Phi of every member known (member id → phi) at the time of the ask, in
   * modes phi and combined; `{}` in the others. Finite: capped at
   * PHI_REPORTED_MAX (`LivenessDetector.phiValues`).
   */
  phi: Record<string, number>;
}

/** The liveness change published to subscribers. */
export type LivenessMsg = {
  type: 'liveness';
  /** The member whose liveness changed. */
  member: string;
  /** Its new status. */
  status: LivenessStatus;
  /** Local time of the decision. */
  at_ms: number;
  /** The member's incarnation the decision was made at (the gossip actor uses it). */
  incarnation: number;
  /**
   * Set when the change is about the member's storage, not its reachability:
   * 'failed' (status is then `down`) or 'ok' (status is its liveness). Never
   * sent to the gossip actor.
   */
  storage?: 'failed' | 'ok';
  /** With storage 'failed': what failed, for coordinators' errors. */
  cause?: string;
};

/** Mode heartbeat's default timeout: four gossip rounds without growth. */
export const HEARTBEAT_TIMEOUT_MS = 4 * GOSSIP_INTERVAL_MS;

/** Period of phi and heartbeat-timeout evaluation (a fifth of a gossip round). */
export const DETECTOR_CHECK_INTERVAL_MS = 100;

class FailureDetector implements Actor<FailureDetectorMsg> {
  /** The decision logic; rebuilt from scratch on every (re)start. */
  private readonly detector: LivenessDetector;
  /** Who hears of liveness changes (the gossip actor first). */
  private readonly subscribers: ActorRef[];
  /** Where refutations go. */
  private readonly gossip: ActorRef;
  /** Counters for the `stats` ask. */
  private readonly stats: { messages_sent: number; local_messages_sent: number } = { messages_sent: 0, local_messages_sent: 0 };
  /** Members whose storage is failed (self included), with the cause and when a peer's report expires. */
  private readonly storageFailed = new Map<string, { cause: string; until_ms: number }>();
  /** This node's own storage: failed since the replica said so, and when this detector last told its peers. */
  private ownStorage: { cause: string; announced_ms: number } | undefined;
  /** This node's member id. */
  private readonly self: string;

  constructor(args: FailureDetectorArgs) {
    const subscribers = args.subscribers ?? [];
    assert(subscribers.length <= LIVENESS_SUBSCRIBERS_MAX, 'subscribers within LIVENESS_SUBSCRIBERS_MAX');
    this.self = args.self;
    this.gossip = args.gossip ?? gossipRef(args.self);
    this.subscribers = [this.gossip, ...subscribers.filter((ref) => !sameRef(ref, this.gossip))];
    this.detector = new LivenessDetector({
      self: args.self,
      mode: args.mode ?? 'combined',
      ...(args.swim !== undefined ? { swim: args.swim } : {}),
      ...(args.phi !== undefined ? { phi: args.phi } : {}),
      heartbeat_timeout_ms: args.heartbeat_timeout_ms ?? HEARTBEAT_TIMEOUT_MS,
    });
  }

  started(ctx: ActorContext<FailureDetectorMsg>): void {
    ctx.schedule(DETECTOR_CHECK_INTERVAL_MS, { type: 'check' });
    // SWIM's first period starts at a random phase (as memberlist's), so nodes started together do not probe in lockstep.
    const swim = this.detector.swim;
    if (swim !== undefined) ctx.schedule(ctx.random() * swim.config.probe_interval_ms, { type: 'swim-timer', timer: { type: 'tick' } });
  }

  receive(msg: FailureDetectorMsg, ctx: ActorContext<FailureDetectorMsg>): void {
    const random = (): number => ctx.random();
    switch (msg.type) {
      case 'members':
        this.carryOut(this.detector.step({ type: 'members', entries: msg.entries, ...(msg.from !== undefined ? { from: msg.from } : {}) }, ctx.now(), random), ctx);
        return;
      case 'heartbeat':
        this.carryOut(this.detector.step({ type: 'heartbeat', member: msg.member, heartbeat: msg.heartbeat }, ctx.now(), random), ctx);
        return;
      case 'swim':
        this.carryOut(this.detector.step({ type: 'swim', event: msg.message }, ctx.now(), random), ctx);
        return;
      case 'swim-timer':
        this.carryOut(this.detector.step({ type: 'swim', event: msg.timer }, ctx.now(), random), ctx);
        return;
      case 'check':
        ctx.schedule(DETECTOR_CHECK_INTERVAL_MS, { type: 'check' });
        this.carryOut(this.detector.step({ type: 'check' }, ctx.now(), random), ctx);
        this.checkStorage(ctx);
        return;
      case 'storage-report':
        this.ownStorageReport(msg.failed, msg.cause, ctx);
        return;
      case 'storage-state':
        if (msg.member === this.self) return; // our own state comes from our replica
        this.storageState(msg.member, msg.failed, msg.cause, ctx);
        return;
      case 'storage-view': {
        const view: Record<string, string> = {};
        for (const [member, { cause }] of this.storageFailed) view[member] = cause;
        ctx.reply(view);
        return;
      }
      case 'liveness-view':
        ctx.reply(this.detector.view());
        return;
      case 'stats': {
        const stats: FailureDetectorStats = { ...this.stats, phi: this.detector.phiValues(ctx.now()) };
        ctx.reply(stats);
        return;
      }
      default:
        assertNever(msg);
    }
  }

  /** Do what the detector asked for. */
  private carryOut(actions: readonly DetectorAction[], ctx: ActorContext<FailureDetectorMsg>): void {
    for (const action of actions) {
      switch (action.type) {
        case 'send':
          this.stats.messages_sent++;
          // A full ring drops the message; to SWIM that is a lost packet, which it is built to survive.
          ctx.send(detectorRef(action.to), { type: 'swim', message: action.message });
          break;
        case 'set_timer':
          ctx.schedule(Math.max(0, action.at_ms - ctx.now()), { type: 'swim-timer', timer: action.timer });
          break;
        case 'liveness': {
          const msg: LivenessMsg = { type: 'liveness', member: action.member, status: action.status, at_ms: action.at_ms, incarnation: action.incarnation };
          for (const subscriber of this.subscribers) this.sendLocal(ctx, subscriber, msg);
          break;
        }
        case 'refute':
          this.sendLocal(ctx, this.gossip, { type: 'refute', incarnation: action.incarnation });
          break;
        default:
          assertNever(action);
      }
    }
  }

  /** The replica says its storage failed or works again: tell the node's actors, then the peers. */
  private ownStorageReport(failed: boolean, cause: string, ctx: ActorContext<FailureDetectorMsg>): void {
    this.ownStorage = failed ? { cause, announced_ms: ctx.now() } : undefined;
    this.storageState(this.self, failed, cause, ctx);
    this.announceStorage(failed, cause, ctx);
  }

  /** Record `member`'s storage state and publish a change to the subscribers other than gossip. */
  private storageState(member: string, failed: boolean, cause: string, ctx: ActorContext<FailureDetectorMsg>): void {
    const was = this.storageFailed.has(member);
    if (failed) this.storageFailed.set(member, { cause, until_ms: member === this.self ? Infinity : ctx.now() + STORAGE_STATE_TTL_MS });
    else this.storageFailed.delete(member);
    if (was === failed) return;
    const liveness = this.detector.status(member) ?? 'alive';
    const msg: LivenessMsg = {
      type: 'liveness',
      member,
      status: failed ? 'down' : liveness,
      at_ms: ctx.now(),
      incarnation: 0,
      storage: failed ? 'failed' : 'ok',
      ...(failed ? { cause } : {}),
    };
    ctx.log[failed ? 'warn' : 'info'](failed ? 'member storage failed: treated as down' : 'member storage works again', { member, ...(failed ? { cause } : {}) });
    for (const subscriber of this.subscribers) if (!sameRef(subscriber, this.gossip)) this.sendLocal(ctx, subscriber, msg);
  }

  /** Tell every known peer's detector about this node's storage. */
  private announceStorage(failed: boolean, cause: string, ctx: ActorContext<FailureDetectorMsg>): void {
    for (const member of Object.keys(this.detector.view())) {
      if (member === this.self) continue;
      this.stats.messages_sent++;
      ctx.send(detectorRef(member), { type: 'storage-state', member: this.self, failed, cause });
    }
  }

  /** On each check: repeat our own failure to the peers, and forget peers' reports that were not repeated. */
  private checkStorage(ctx: ActorContext<FailureDetectorMsg>): void {
    const now = ctx.now();
    if (this.ownStorage !== undefined && now - this.ownStorage.announced_ms >= STORAGE_STATE_ANNOUNCE_INTERVAL_MS) {
      this.ownStorage.announced_ms = now;
      this.announceStorage(true, this.ownStorage.cause, ctx);
    }
    for (const [member, { until_ms }] of this.storageFailed) if (until_ms <= now) this.storageState(member, false, '', ctx);
  }

  private sendLocal(ctx: ActorContext<FailureDetectorMsg>, to: ActorRef, msg: LivenessMsg | { type: 'refute'; incarnation: number }): void {
    this.stats.local_messages_sent++;
    if (!ctx.send(to, msg)) ctx.log.warn('liveness change not delivered: mailbox full', { to: `t${to.thread}/${to.id}`, type: msg.type });
  }
}

/** Build a failure-detector actor (exported for the simulator and tests). */
export function failureDetector(args: FailureDetectorArgs): Actor<FailureDetectorMsg> {
  return new FailureDetector(args);
}

/** Actor kinds this module defines, for worker threads that load it by path. */
export const actorKinds = {
  'failure-detector': (args: unknown) => failureDetector(args as FailureDetectorArgs),
};
