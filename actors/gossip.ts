/**
 * The gossip actor: one per node, owner of the node's membership table
 * (`src/core/membership.ts`). Dynamo 2007 §4.8 membership by gossip, with
 * Cassandra's three-way exchange:
 *
 *   every interval: beat (raise own heartbeat), then for each target
 *     A ──gossip-syn {digest}──────────────▶ B   B: entries newer here → deltas,
 *     A ◀─gossip-ack {deltas, wanted}────── B      ids newer there → wanted
 *     A ──gossip-ack2 {entries wanted}─────▶ B
 *
 * Targets (`chooseGossipTargets`): `fanout` random live members, now and
 * then one held down (so it hears it is held down and refutes), and a seed
 * (joining, and now and then so healed partitions merge). Deltas are bounded
 * by GOSSIP_DELTAS_MAX_ENTRIES, newest change first; the rest waits a round.
 *
 * The node's failure detector (`failure_detector.ts`) hears of every change
 * as `{ type: 'members', entries, from }` (entries whose heartbeat,
 * incarnation or status changed, and the gossip peer whose message carried
 * them). It answers with its decisions as `liveness` messages (this actor is
 * always one of its subscribers): a `down` decision is written into the table
 * so it spreads; a member held down that is alive refutes it by raising its
 * incarnation, which brings it back everywhere. When the detector's SWIM
 * refutes a suspicion it sends `refute` so the table's incarnation follows.
 *
 * Thread contract: one instance on its node's thread; state is private.
 */
import { assert, assertNever } from '../src/core/assert.js';
import { chooseGossipTargets } from '../src/core/gossip_targets.js';
import { GOSSIP_DELTAS_MAX_ENTRIES, GOSSIP_FANOUT_MAX, MEMBERS_MAX } from '../src/core/limits.js';
import type { LivenessStatus } from '../src/core/liveness.js';
import { cloneEntry, MembershipTable, type DigestEntry, type MemberEntry } from '../src/core/membership.js';
import type { Actor, ActorContext, ActorRef } from '../src/runtime/actor.js';
import { detectorRef, gossipRef } from './member_refs.js';

/** Messages the gossip actor understands. */
export type GossipMsg =
  /** Timer: one gossip round. */
  | { type: 'tick' }
  /** From a peer: its digest; answered with `gossip-ack`. */
  | { type: 'gossip-syn'; from: string; digest: DigestEntry[] }
  /** From a peer: entries it holds newer than our digest, and ids it wants from us. */
  | { type: 'gossip-ack'; from: string; deltas: MemberEntry[]; wanted: string[] }
  /** From a peer: the entries we asked for. */
  | { type: 'gossip-ack2'; from: string; deltas: MemberEntry[] }
  /** From the local failure detector: a liveness decision (`down` is written into the table). */
  | { type: 'liveness'; member: string; status: LivenessStatus; at_ms: number; incarnation?: number }
  /** From the local failure detector: SWIM refuted a suspicion by taking `incarnation`. */
  | { type: 'refute'; incarnation: number }
  /** Ask: every entry of the table (self included) → `MemberEntry[]`. */
  | { type: 'members' }
  /** Ask: messages sent → `GossipStats`. */
  | { type: 'stats' };

/** How to spawn a gossip actor. */
export interface GossipArgs {
  /** This member: its id (`memberId(thread)`), placement and ring tokens (gossiped in its entry). */
  self: { id: string; data_center?: string; rack?: string; tokens?: number[] };
  /** Member ids of the seeds joining goes through (self may be one). */
  seeds: string[];
  /** Gossip round period (default GOSSIP_INTERVAL_MS). */
  interval_ms?: number;
  /** Live members gossiped to per round (default GOSSIP_FANOUT, ≤ GOSSIP_FANOUT_MAX). */
  fanout?: number;
  /** The failure detector told of membership changes (default `detectorRef(self.id)`). */
  detector?: ActorRef;
}

/** Answer to the `stats` ask. */
export interface GossipStats {
  /** Messages sent to other nodes (syn, ack, ack2). */
  messages_sent: number;
  /** Messages sent to actors of this node (membership changes to the failure detector). */
  local_messages_sent: number;
}

/** Default gossip round period: 500 ms, as the SWIM protocol period. */
export const GOSSIP_INTERVAL_MS = 500;

/** Default live members gossiped to per round. */
export const GOSSIP_FANOUT = 2;

/** Rounds between two sweeps of expired `left` tombstones. */
const TOMBSTONE_SWEEP_ROUNDS = 120;

class Gossip implements Actor<GossipMsg> {
  /** The membership table; built in `started` (it needs the node's thread and clock). */
  private table: MembershipTable | undefined = undefined;
  /** Round period. */
  private readonly interval_ms: number;
  /** Live members per round. */
  private readonly fanout: number;
  /** Where membership changes go. */
  private readonly detector: ActorRef;
  /** Rounds run since start (tombstone sweeps). */
  private rounds = 0;
  /** Counters for the `stats` ask. */
  private readonly stats: GossipStats = { messages_sent: 0, local_messages_sent: 0 };

  constructor(private readonly args: GossipArgs) {
    this.interval_ms = args.interval_ms ?? GOSSIP_INTERVAL_MS;
    this.fanout = args.fanout ?? GOSSIP_FANOUT;
    this.detector = args.detector ?? detectorRef(args.self.id);
    assert(this.interval_ms > 0 && Number.isFinite(this.interval_ms), 'gossip interval is a positive number of ms');
    assert(Number.isInteger(this.fanout) && this.fanout >= 1 && this.fanout <= GOSSIP_FANOUT_MAX, 'gossip fan-out within 1..GOSSIP_FANOUT_MAX');
    assert(args.seeds.length <= MEMBERS_MAX, 'seeds within MEMBERS_MAX');
  }

  started(ctx: ActorContext<GossipMsg>): void {
    const self: MemberEntry = {
      id: this.args.self.id,
      address: { thread: ctx.self.thread },
      data_center: this.args.self.data_center ?? 'dc1',
      rack: this.args.self.rack ?? 'rack1',
      heartbeat: 0,
      incarnation: 0,
      status: 'alive',
      tokens: [...(this.args.self.tokens ?? [])],
    };
    this.table = new MembershipTable(self, ctx.now());
    // A random phase, so nodes started together do not gossip in lockstep.
    ctx.schedule(ctx.random() * this.interval_ms, { type: 'tick' });
  }

  receive(msg: GossipMsg, ctx: ActorContext<GossipMsg>): void {
    const table = this.tableOf();
    switch (msg.type) {
      case 'tick':
        ctx.schedule(this.interval_ms, { type: 'tick' });
        this.round(table, ctx);
        return;
      case 'gossip-syn': {
        if (msg.digest.length > MEMBERS_MAX) return ctx.log.warn('gossip digest over MEMBERS_MAX dropped', { from: msg.from });
        const deltas = table.deltasFor(msg.digest);
        const wanted = table.wantedFrom(msg.digest).slice(0, GOSSIP_DELTAS_MAX_ENTRIES);
        this.sendPeer(ctx, msg.from, { type: 'gossip-ack', from: table.self_id, deltas, wanted });
        return;
      }
      case 'gossip-ack': {
        if (msg.deltas.length > GOSSIP_DELTAS_MAX_ENTRIES || msg.wanted.length > GOSSIP_DELTAS_MAX_ENTRIES) {
          return ctx.log.warn('gossip ack over GOSSIP_DELTAS_MAX_ENTRIES dropped', { from: msg.from });
        }
        this.merge(table, msg.deltas, msg.from, ctx);
        if (msg.wanted.length > 0) this.sendPeer(ctx, msg.from, { type: 'gossip-ack2', from: table.self_id, deltas: table.entriesFor(msg.wanted) });
        return;
      }
      case 'gossip-ack2':
        if (msg.deltas.length > GOSSIP_DELTAS_MAX_ENTRIES) return ctx.log.warn('gossip ack2 over GOSSIP_DELTAS_MAX_ENTRIES dropped', { from: msg.from });
        this.merge(table, msg.deltas, msg.from, ctx);
        return;
      case 'liveness':
        this.onDecision(table, msg, ctx);
        return;
      case 'refute':
        this.onRefute(table, msg.incarnation, ctx);
        return;
      case 'members':
        ctx.reply(table.all().map((record) => cloneEntry(record.entry)));
        return;
      case 'stats':
        ctx.reply({ ...this.stats });
        return;
      default:
        assertNever(msg);
    }
  }

  /** One round: beat, then a syn to each target. */
  private round(table: MembershipTable, ctx: ActorContext<GossipMsg>): void {
    const now_ms = ctx.now();
    table.beat(now_ms);
    if (++this.rounds % TOMBSTONE_SWEEP_ROUNDS === 0) table.expireTombstones(now_ms);
    const digest = table.digest();
    for (const target of chooseGossipTargets(table, this.args.seeds, this.fanout, () => ctx.random())) {
      this.sendPeer(ctx, target, { type: 'gossip-syn', from: table.self_id, digest });
    }
  }

  /** Merge entries from peer `from`; tell the detector what changed. */
  private merge(table: MembershipTable, deltas: readonly MemberEntry[], from: string, ctx: ActorContext<GossipMsg>): void {
    const now_ms = ctx.now();
    const changed: MemberEntry[] = [];
    for (const entry of deltas) {
      const outcome = table.apply(entry, now_ms);
      if (outcome === 'added' || outcome === 'updated' || outcome === 'refuted') {
        // Self changes only matter to the detector when the incarnation moved (a refutation).
        if (entry.id === table.self_id && outcome !== 'refuted') continue;
        const record = table.get(entry.id);
        if (record !== undefined) changed.push(cloneEntry(record.entry));
      }
    }
    if (changed.length > 0) this.tellDetector(ctx, { type: 'members', entries: changed, from });
  }

  /** The detector decided: write `down` into the table (at the incarnation it decided on) so it spreads. */
  private onDecision(table: MembershipTable, msg: Extract<GossipMsg, { type: 'liveness' }>, ctx: ActorContext<GossipMsg>): void {
    if (msg.status !== 'down' || msg.member === table.self_id) return;
    const record = table.get(msg.member);
    if (record === undefined) return;
    // A decision about an older incarnation was overtaken by a refutation or rejoin already merged here.
    if (msg.incarnation !== undefined && record.entry.incarnation > msg.incarnation) return;
    table.raiseStatus(msg.member, 'down', ctx.now());
  }

  /** SWIM took a higher incarnation: take it too (as if accused at the one below, which the table refutes). */
  private onRefute(table: MembershipTable, incarnation: number, ctx: ActorContext<GossipMsg>): void {
    const self = table.self();
    if (!(Number.isInteger(incarnation) && incarnation > self.incarnation)) return;
    table.apply({ ...cloneEntry(self), incarnation: incarnation - 1, status: 'suspect' }, ctx.now());
    this.tellDetector(ctx, { type: 'members', entries: [cloneEntry(table.self())], from: table.self_id });
  }

  private sendPeer(ctx: ActorContext<GossipMsg>, member: string, msg: GossipMsg): void {
    this.stats.messages_sent++;
    // A full ring drops the message: gossip repeats every round, so nothing waits on it.
    ctx.send(gossipRef(member), msg);
  }

  private tellDetector(ctx: ActorContext<GossipMsg>, msg: { type: 'members'; entries: MemberEntry[]; from: string }): void {
    this.stats.local_messages_sent++;
    ctx.send(this.detector, msg);
  }

  private tableOf(): MembershipTable {
    assert(this.table !== undefined, 'gossip actor receives only after started()');
    return this.table;
  }
}

/** Build a gossip actor (exported for the simulator and tests). */
export function gossip(args: GossipArgs): Actor<GossipMsg> {
  return new Gossip(args);
}

/** Actor kinds this module defines, for worker threads that load it by path. */
export const actorKinds = {
  gossip: (args: unknown) => gossip(args as GossipArgs),
};
