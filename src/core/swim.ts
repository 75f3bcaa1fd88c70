/**
 * SWIM failure detection as a pure state machine (Das, Gupta, Motivala:
 * "SWIM: Scalable Weakly-consistent Infection-style Process Group Membership
 * Protocol", DSN 2002), with Lifeguard's refinements (Dadgar et al. 2017;
 * math in `lifeguard.ts`), after HashiCorp memberlist's `state.go`.
 *
 * Contract: the actor owns one `SwimMachine` and feeds it every event with the
 * local time and a random source: `step(event, now_ms, random)` returns the
 * actions to carry out — messages to send, timers to set, status changes to
 * publish. Timers are never cancelled: a timer that fires after its reason is
 * gone (an acked probe, a refuted suspicion) is recognised and ignored, so
 * the actor just delivers every timer it was asked to set. Start the machine
 * by delivering a `tick`. Single-threaded: one actor only.
 *
 * Each protocol period (a `tick`) ends the previous probe and starts the next:
 *   1. probe one member, in shuffled round-robin order: `ping`;
 *   2. no ack by the probe timeout → `ping_req` through k others, which ping
 *      the target and relay its ack (and, with Lifeguard, a `nack` if the
 *      target stays silent, so the prober can tell "target dead" from "I am
 *      the slow one");
 *   3. no ack at all by the end of the period → the member is suspect;
 *   4. an unrefuted suspicion becomes `down` after the suspicion timeout
 *      (Lifeguard: shrinking with each independent confirmation).
 * Updates (alive/suspect/down/left) are piggybacked on every message. A node
 * that hears itself suspected at its incarnation raises the incarnation and
 * gossips `alive` (refutation, SWIM §4.2).
 *
 * Without Lifeguard (`lifeguard: false`) the suspicion timeout is fixed at
 * the minimum, local health never stretches timeouts and relays send no nacks.
 */
import { assert, assertNever } from './assert.js';
import { Awareness, confirmSuspicion, expectedConfirmations, failedProbeAwarenessDelta, openSuspicion, suspicionMinTimeoutMs, type Suspicion } from './lifeguard.js';
import { MEMBERS_MAX, SWIM_INDIRECT_CHECKS_MAX, SWIM_PIGGYBACK_MAX_UPDATES, SWIM_RELAYS_MAX } from './limits.js';
import { chooseRandom, compareClaims, type MemberStatus } from './membership.js';
import { BroadcastQueue, retransmitLimit, type SwimUpdate } from './swim_broadcast.js';
import { SWIM_DEFAULTS, type SwimAction, type SwimConfig, type SwimEvent, type SwimMessage } from './swim_protocol.js';

export type { SwimUpdate } from './swim_broadcast.js';
export { SWIM_DEFAULTS, type SwimAction, type SwimConfig, type SwimEvent, type SwimMessage, type SwimTimer } from './swim_protocol.js';

/** What this node knows of one other member. */
interface SwimMember {
  /** Highest incarnation heard. */
  incarnation: number;
  /** Status at that incarnation. */
  status: MemberStatus;
  /** The open suspicion while `status` is suspect. */
  suspicion: Suspicion | undefined;
}

/** The probe of the current period. */
interface Probe {
  /** Member probed. */
  target: string;
  /** Sequence number its acks carry. */
  seq: number;
  /** An ack (direct or relayed) arrived. */
  acked: boolean;
  /** ping-reqs were sent. */
  indirect_sent: boolean;
  /** Nacks asked of relays (0 without Lifeguard). */
  nacks_expected: number;
  /** Nacks received. */
  nacks_received: number;
}

/** An indirect probe this node runs for another. */
interface Relay {
  /** Who asked (gets the ack or nack). */
  origin: string;
  /** The asker's sequence number. */
  origin_seq: number;
  /** The asker wants a nack if the target stays silent. */
  want_nack: boolean;
  /** A nack was already sent. */
  nacked: boolean;
  /** Local time the relay started (pruned after the longest possible period). */
  started_at_ms: number;
}

/** One node's SWIM state machine. */
export class SwimMachine {
  /** Tunables. */
  readonly config: Readonly<SwimConfig>;
  /** Other members by id, at most MEMBERS_MAX. */
  private readonly members = new Map<string, SwimMember>();
  /** This node's incarnation (raised to refute). */
  private self_incarnation = 0;
  /** This node has left: it stops probing. */
  private self_left = false;
  /** Lifeguard local health. */
  private readonly awareness: Awareness;
  /** Updates waiting to be piggybacked. */
  private readonly broadcasts = new BroadcastQueue();
  /** The current period's probe. */
  private probe: Probe | undefined = undefined;
  /** Shuffled probe order of this round, and the next index in it. */
  private probe_order: string[] = [];
  private probe_index = 0;
  /** Indirect probes run for others, by the sequence number of our ping to the target; at most SWIM_RELAYS_MAX. */
  private readonly relays = new Map<number, Relay>();
  /** Next sequence number. */
  private next_seq = 1;

  constructor(config: Partial<SwimConfig> & { self: string }) {
    this.config = { ...SWIM_DEFAULTS, ...config };
    const c = this.config;
    assert(c.probe_timeout_ms > 0 && c.probe_timeout_ms < c.probe_interval_ms, 'probe timeout within the period');
    assert(c.indirect_checks >= 0 && c.indirect_checks <= SWIM_INDIRECT_CHECKS_MAX, 'k within SWIM_INDIRECT_CHECKS_MAX');
    assert(c.suspicion_max_timeout_mult >= 1 && c.nack_timeout_fraction > 0 && c.nack_timeout_fraction < 1, 'suspicion and nack tunables');
    this.awareness = new Awareness(c.awareness_max);
  }

  /** Handle one event at local time `now_ms`; `random` returns floats in [0, 1). */
  step(event: SwimEvent, now_ms: number, random: () => number): SwimAction[] {
    const out: SwimAction[] = [];
    switch (event.type) {
      case 'tick':
        this.onTick(now_ms, random, out);
        break;
      case 'probe_timeout':
        this.onProbeTimeout(event.seq, random, out);
        break;
      case 'relay_timeout':
        this.onRelayTimeout(event.seq, out);
        break;
      case 'suspicion_timeout':
        this.onSuspicionTimeout(event.member, now_ms, random, out);
        break;
      case 'ping':
        this.applyUpdates(event.updates, now_ms, random, out);
        if (event.target === this.config.self) this.send(event.from, { type: 'ack', from: this.config.self, seq: event.seq, updates: this.piggyback() }, out);
        break;
      case 'ping_req':
        this.applyUpdates(event.updates, now_ms, random, out);
        this.onPingReq(event, now_ms, out);
        break;
      case 'ack':
        this.applyUpdates(event.updates, now_ms, random, out);
        this.onAck(event, out);
        break;
      case 'nack':
        if (this.probe !== undefined && this.probe.seq === event.seq && !this.probe.acked) {
          this.probe.nacks_received = Math.min(this.probe.nacks_expected, this.probe.nacks_received + 1);
        }
        break;
      case 'gossip':
        assert(event.updates.length <= MEMBERS_MAX, 'gossip bounded by MEMBERS_MAX');
        for (const update of event.updates) this.applyUpdate(update, now_ms, random, out);
        break;
      case 'leave':
        this.onLeave(random, out);
        break;
      default:
        assertNever(event);
    }
    return out;
  }

  /** This node's incarnation. */
  incarnation(): number {
    return this.self_incarnation;
  }

  /** Lifeguard local-health score (always 0 without Lifeguard). */
  awarenessScore(): number {
    return this.awareness.score();
  }

  /** Status of `id` as seen here (self: alive or left), or undefined if unknown. */
  status(id: string): MemberStatus | undefined {
    if (id === this.config.self) return this.self_left ? 'left' : 'alive';
    return this.members.get(id)?.status;
  }

  /** Incarnation of another member as seen here. */
  memberIncarnation(id: string): number | undefined {
    return this.members.get(id)?.incarnation;
  }

  /** The open suspicion of `id` (read-only use: tests, the benchmark). */
  suspicion(id: string): Readonly<Suspicion> | undefined {
    return this.members.get(id)?.suspicion;
  }

  /** Members known (self included) that are not down or left: SWIM's n. */
  clusterSize(): number {
    let n = 1;
    for (const member of this.members.values()) if (member.status === 'alive' || member.status === 'suspect') n++;
    return n;
  }

  /** End the previous probe (suspecting its target if nobody answered), start the next, schedule the next tick. */
  private onTick(now_ms: number, random: () => number, out: SwimAction[]): void {
    if (this.self_left) return;
    this.pruneRelays(now_ms);
    const probe = this.probe;
    this.probe = undefined;
    if (probe !== undefined && !probe.acked) {
      if (this.config.lifeguard) this.awareness.applyDelta(failedProbeAwarenessDelta(probe.nacks_expected, probe.nacks_received));
      const member = this.members.get(probe.target);
      if (member !== undefined && (member.status === 'alive' || member.status === 'suspect')) {
        this.applyUpdate({ member: probe.target, incarnation: member.incarnation, status: 'suspect', from: this.config.self }, now_ms, random, out);
      }
    }
    const target = this.nextTarget(random);
    if (target !== undefined) {
      const seq = this.next_seq++;
      this.probe = { target, seq, acked: false, indirect_sent: false, nacks_expected: 0, nacks_received: 0 };
      this.send(target, { type: 'ping', from: this.config.self, target, seq, updates: this.piggybackFor(target) }, out);
      out.push({ type: 'set_timer', timer: { type: 'probe_timeout', seq }, at_ms: now_ms + this.scaled(this.config.probe_timeout_ms) });
    }
    out.push({ type: 'set_timer', timer: { type: 'tick' }, at_ms: now_ms + this.scaled(this.config.probe_interval_ms) });
  }

  /** No direct ack in time: ask k others to probe the target for us. */
  private onProbeTimeout(seq: number, random: () => number, out: SwimAction[]): void {
    const probe = this.probe;
    if (probe === undefined || probe.seq !== seq || probe.acked || probe.indirect_sent) return;
    probe.indirect_sent = true;
    const candidates = this.liveIds().filter((id) => id !== probe.target);
    const relays = chooseRandom(candidates, this.config.indirect_checks, random);
    const want_nack = this.config.lifeguard;
    for (const relay of relays) {
      this.send(relay, { type: 'ping_req', from: this.config.self, target: probe.target, seq, want_nack, updates: this.piggyback() }, out);
    }
    probe.nacks_expected = want_nack ? relays.length : 0;
  }

  /** Probe `target` for another member; its ack will be relayed back. */
  private onPingReq(msg: Extract<SwimMessage, { type: 'ping_req' }>, now_ms: number, out: SwimAction[]): void {
    if (this.relays.size >= SWIM_RELAYS_MAX) return; // Overloaded: the asker sees silence, as from a slow relay.
    const seq = this.next_seq++;
    this.relays.set(seq, { origin: msg.from, origin_seq: msg.seq, want_nack: msg.want_nack, nacked: false, started_at_ms: now_ms });
    this.send(msg.target, { type: 'ping', from: this.config.self, target: msg.target, seq, updates: this.piggyback() }, out);
    if (msg.want_nack) {
      const at_ms = now_ms + Math.floor(this.config.probe_timeout_ms * this.config.nack_timeout_fraction);
      out.push({ type: 'set_timer', timer: { type: 'relay_timeout', seq }, at_ms });
    }
  }

  /** An ack for our probe (direct or relayed), or for a ping we relay for someone else. */
  private onAck(msg: Extract<SwimMessage, { type: 'ack' }>, out: SwimAction[]): void {
    const probe = this.probe;
    if (probe !== undefined && probe.seq === msg.seq) {
      if (!probe.acked && this.config.lifeguard && msg.from === probe.target) this.awareness.applyDelta(-1);
      probe.acked = true;
      return;
    }
    const relay = this.relays.get(msg.seq);
    if (relay === undefined) return;
    this.relays.delete(msg.seq);
    this.send(relay.origin, { type: 'ack', from: this.config.self, seq: relay.origin_seq, updates: this.piggyback() }, out);
  }

  /** The relayed target stayed silent: tell the asker we are alive and tried (Lifeguard's nack). */
  private onRelayTimeout(seq: number, out: SwimAction[]): void {
    const relay = this.relays.get(seq);
    if (relay === undefined || !relay.want_nack || relay.nacked) return;
    relay.nacked = true;
    this.send(relay.origin, { type: 'nack', from: this.config.self, seq: relay.origin_seq }, out);
  }

  /** An unrefuted suspicion past its (possibly shortened) deadline becomes down. */
  private onSuspicionTimeout(id: string, now_ms: number, random: () => number, out: SwimAction[]): void {
    const member = this.members.get(id);
    if (member?.status !== 'suspect' || member.suspicion === undefined || now_ms < member.suspicion.deadline_ms) return;
    this.applyUpdate({ member: id, incarnation: member.incarnation, status: 'down', from: this.config.self }, now_ms, random, out);
  }

  /** Leave: stop probing and tell up to k members (the update spreads from them). */
  private onLeave(random: () => number, out: SwimAction[]): void {
    if (this.self_left) return;
    this.self_left = true;
    this.probe = undefined;
    this.broadcasts.enqueue({ member: this.config.self, incarnation: this.self_incarnation, status: 'left', from: this.config.self });
    for (const to of chooseRandom(this.liveIds(), Math.max(1, this.config.indirect_checks), random)) {
      this.send(to, { type: 'ping', from: this.config.self, target: to, seq: this.next_seq++, updates: this.piggyback() }, out);
    }
  }

  private applyUpdates(updates: readonly SwimUpdate[], now_ms: number, random: () => number, out: SwimAction[]): void {
    assert(updates.length <= SWIM_PIGGYBACK_MAX_UPDATES, 'piggyback bounded by SWIM_PIGGYBACK_MAX_UPDATES');
    for (const update of updates) this.applyUpdate(update, now_ms, random, out);
  }

  /**
   * Merge one update by the membership lattice (`compareClaims`): a newer
   * claim moves the member; a suspicion at the same incarnation from a new
   * observer is a confirmation (Lifeguard: it shortens the timeout).
   */
  private applyUpdate(update: SwimUpdate, now_ms: number, random: () => number, out: SwimAction[]): void {
    if (update.member === this.config.self) return this.refuteIfAccused(update, now_ms, out);
    let member = this.members.get(update.member);
    if (member === undefined) {
      if (this.members.size >= MEMBERS_MAX) return; // A cluster past MEMBERS_MAX is a configuration error; ignore the stranger.
      member = { incarnation: -1, status: 'alive', suspicion: undefined };
      this.members.set(update.member, member);
      // Insert at a random place in the rest of this round, as memberlist does, so a newcomer is probed soon.
      const at = this.probe_index + Math.floor(random() * (this.probe_order.length - this.probe_index + 1));
      this.probe_order.splice(at, 0, update.member);
    }
    const order = compareClaims({ ...update, heartbeat: 0 }, { incarnation: member.incarnation, status: member.status, heartbeat: 0 });
    if (order >= 0 && (update.status === 'suspect' || update.status === 'down')) {
      out.push({ type: 'observed', member: update.member, status: update.status, incarnation: update.incarnation, observer: update.from, at_ms: now_ms });
    }
    if (order > 0) return this.transition(member, update, now_ms, out);
    if (order === 0 && update.status === 'suspect' && member.suspicion !== undefined && confirmSuspicion(member.suspicion, update.from)) {
      this.broadcasts.enqueue(update);
      out.push({ type: 'set_timer', timer: { type: 'suspicion_timeout', member: update.member }, at_ms: member.suspicion.deadline_ms });
    }
  }

  private transition(member: SwimMember, update: SwimUpdate, now_ms: number, out: SwimAction[]): void {
    member.incarnation = update.incarnation;
    member.status = update.status;
    member.suspicion = undefined;
    if (update.status === 'suspect') {
      member.suspicion = openSuspicion(update.from, update.incarnation, now_ms, this.suspicionBounds());
      out.push({ type: 'set_timer', timer: { type: 'suspicion_timeout', member: update.member }, at_ms: member.suspicion.deadline_ms });
    }
    this.broadcasts.enqueue(update);
    out.push({ type: 'status', member: update.member, status: update.status, incarnation: update.incarnation, at_ms: now_ms });
  }

  /** Heard itself suspected, declared down, or at a newer incarnation: take a higher one and say alive. */
  private refuteIfAccused(update: SwimUpdate, now_ms: number, out: SwimAction[]): void {
    if (this.self_left) return;
    const accused = update.status !== 'alive' && update.incarnation >= this.self_incarnation;
    if (!accused && update.incarnation <= this.self_incarnation) return;
    this.self_incarnation = update.incarnation + 1;
    if (this.config.lifeguard && accused) this.awareness.applyDelta(1);
    this.broadcasts.enqueue({ member: this.config.self, incarnation: this.self_incarnation, status: 'alive', from: this.config.self });
    out.push({ type: 'status', member: this.config.self, status: 'alive', incarnation: this.self_incarnation, at_ms: now_ms });
  }

  /** Timeout bounds for a new suspicion at the current cluster size. */
  private suspicionBounds(): { min_ms: number; max_ms: number; expected: number } {
    const n = this.clusterSize();
    const min_ms = suspicionMinTimeoutMs(this.config.suspicion_mult, n, this.config.probe_interval_ms);
    const max_ms = this.config.lifeguard ? min_ms * this.config.suspicion_max_timeout_mult : min_ms;
    return { min_ms, max_ms, expected: expectedConfirmations(this.config.suspicion_mult, n) };
  }

  /** Next member in the shuffled round-robin order; reshuffles when a round is done. */
  private nextTarget(random: () => number): string | undefined {
    for (let attempts = 0; attempts <= 2 * (this.members.size + 1); attempts++) {
      if (this.probe_index >= this.probe_order.length) {
        this.probe_order = chooseRandom(this.liveIds(), this.members.size, random);
        this.probe_index = 0;
        if (this.probe_order.length === 0) return undefined;
      }
      const id = this.probe_order[this.probe_index++];
      const status = id === undefined ? undefined : this.members.get(id)?.status;
      if (id !== undefined && (status === 'alive' || status === 'suspect')) return id;
    }
    return undefined;
  }

  private liveIds(): string[] {
    const ids: string[] = [];
    for (const [id, member] of this.members) if (member.status === 'alive' || member.status === 'suspect') ids.push(id);
    return ids;
  }

  private scaled(timeout_ms: number): number {
    return this.config.lifeguard ? this.awareness.scaleTimeoutMs(timeout_ms) : timeout_ms;
  }

  private piggyback(): SwimUpdate[] {
    return this.broadcasts.take(retransmitLimit(this.config.retransmit_mult, this.clusterSize()));
  }

  /** Piggyback for a ping to `target`; with Lifeguard a suspect target is told it is suspected (the buddy system). */
  private piggybackFor(target: string): SwimUpdate[] {
    const updates = this.piggyback();
    const member = this.members.get(target);
    if (!this.config.lifeguard || member?.status !== 'suspect' || updates.some((u) => u.member === target)) return updates;
    const accuser = member.suspicion?.observers[0] ?? this.config.self;
    const buddy: SwimUpdate = { member: target, incarnation: member.incarnation, status: 'suspect', from: accuser };
    return [buddy, ...updates].slice(0, SWIM_PIGGYBACK_MAX_UPDATES);
  }

  /** Drop relays older than the longest period any asker can have. */
  private pruneRelays(now_ms: number): void {
    const horizon_ms = this.config.probe_interval_ms * this.config.awareness_max;
    for (const [seq, relay] of this.relays) if (now_ms - relay.started_at_ms > horizon_ms) this.relays.delete(seq);
  }

  private send(to: string, message: SwimMessage, out: SwimAction[]): void {
    out.push({ type: 'send', to, message });
  }
}
