/**
 * A simulated ringkv cluster of gossip + failure-detector actors for the
 * membership tests: node on thread `t` is member `n${t}` with its `gossip`
 * and `fd` actors and a `watch` actor subscribed to its liveness changes.
 */
import type { LivenessStatus } from '../../src/core/liveness.js';
import type { MemberEntry } from '../../src/core/membership.js';
import type { Actor, ActorContext, ActorRef } from '../../src/runtime/actor.js';
import { SimWorld } from '../../src/runtime/sim/index.js';
import type { FaultOptions } from '../../src/runtime/sim/index.js';
import { failureDetector, type DetectorMode, type LivenessMsg } from '../../actors/failure_detector.js';
import { gossip } from '../../actors/gossip.js';
import { detectorRef, gossipRef, memberId } from '../../actors/member_refs.js';

/** One liveness change as a subscriber saw it. */
export interface SeenChange {
  member: string;
  status: LivenessStatus;
  at_ms: number;
}

/** A subscriber that keeps every `liveness` message it gets. */
export class LivenessWatch implements Actor<LivenessMsg> {
  readonly seen: SeenChange[] = [];
  receive(msg: LivenessMsg, _ctx: ActorContext<LivenessMsg>): void {
    this.seen.push({ member: msg.member, status: msg.status, at_ms: msg.at_ms });
  }
}

/** How to build a cluster. */
export interface ClusterOptions {
  seed: number;
  /** Threads of the nodes. */
  threads: number[];
  /** Threads of the seeds. */
  seeds: number[];
  mode?: DetectorMode;
  interval_ms?: number;
  fanout?: number;
  faults?: FaultOptions;
  /** Spawn failure detectors (default true); gossip-only clusters for convergence tests. */
  detectors?: boolean;
}

/** Ref of a node's liveness watcher. */
export function watchRef(thread: number): ActorRef {
  return { thread, id: 'watch' };
}

/** A cluster in a fresh world. */
export class Cluster {
  readonly world: SimWorld;
  constructor(readonly opts: ClusterOptions) {
    this.world = new SimWorld({ seed: opts.seed, ...(opts.faults !== undefined ? { faults: opts.faults } : {}) });
  }

  /** Spawn node `thread` (now). */
  spawnNode(thread: number): void {
    const id = memberId(thread);
    const seeds = this.opts.seeds.map(memberId);
    const w = this.world;
    w.spawn(thread, () => new LivenessWatch(), 'watch');
    w.spawn(thread, () => gossip({ self: { id }, seeds, ...(this.opts.interval_ms ? { interval_ms: this.opts.interval_ms } : {}), ...(this.opts.fanout ? { fanout: this.opts.fanout } : {}) }), 'gossip');
    if (this.opts.detectors !== false) {
      w.spawn(thread, () => failureDetector({ self: id, mode: this.opts.mode ?? 'combined', subscribers: [watchRef(thread)] }), 'fd');
    }
  }

  /** Spawn every node now. */
  spawnAll(): void {
    for (const t of this.opts.threads) this.spawnNode(t);
  }

  /** Ask every listed (up) node's `actor` the same question; settles by running 1 ms. */
  async askAll<R>(threads: readonly number[], ref: (t: number) => ActorRef, msg: { type: string }): Promise<Map<number, R>> {
    const pending = threads.filter((t) => this.world.isUp(t)).map((t) => [t, this.world.ask<R>(ref(t), msg)] as const);
    await this.world.runFor(1);
    const out = new Map<number, R>();
    for (const [t, p] of pending) out.set(t, await p);
    return out;
  }

  /** Members each node's gossip table holds. */
  tables(threads: readonly number[]): Promise<Map<number, MemberEntry[]>> {
    return this.askAll<MemberEntry[]>(threads, (t) => gossipRef(memberId(t)), { type: 'members' });
  }

  /** Each node's decided liveness view. */
  views(threads: readonly number[]): Promise<Map<number, Record<string, LivenessStatus>>> {
    return this.askAll<Record<string, LivenessStatus>>(threads, (t) => detectorRef(memberId(t)), { type: 'liveness-view' });
  }

  /** Liveness changes node `thread`'s watcher has seen (this life of the node). */
  seen(thread: number): SeenChange[] {
    return this.world.instance<LivenessWatch>(watchRef(thread))?.seen ?? [];
  }

  /** First time at or after `since_ms` that `observer` saw `member` reach `status`, or undefined. */
  firstSeen(observer: number, member: number, status: LivenessStatus, since_ms: number): number | undefined {
    return this.seen(observer).find((c) => c.member === memberId(member) && c.status === status && c.at_ms >= since_ms)?.at_ms;
  }

  /** Every `down` any listed observer saw about any listed member at or after `since_ms`. */
  downs(observers: readonly number[], members: readonly number[], since_ms: number): string[] {
    const ids = new Set(members.map(memberId));
    const out: string[] = [];
    for (const o of observers) {
      for (const c of this.seen(o)) if (c.status === 'down' && ids.has(c.member) && c.at_ms >= since_ms) out.push(`${memberId(o)} saw ${c.member} down at ${c.at_ms}`);
    }
    return out;
  }
}
