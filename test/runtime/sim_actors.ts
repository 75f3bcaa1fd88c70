/**
 * Example actors for the simulator tests. They use only the `ActorContext`
 * contract, so they would run unchanged on the real runtime.
 *
 * - `Recorder`: notes every message it gets (with virtual time); answers asks.
 * - `Counter`: an idempotent counter (dedupes by request id); can be made to
 *   throw or reject to exercise supervision.
 * - `Front`: forwards an `add` to a counter with its own ask, answering after
 *   the await through a `replier` (a request/reply chain across nodes).
 * - `Client`: a periodic load generator that retries each request until it is
 *   acknowledged (at-least-once delivery + the counter's dedupe = exactly once).
 * - `Gossip`: pushes its value to random peers; everyone converges on the max.
 * - `Ticker`, `Pinger`: timers and endless local ping-pong.
 */
import { OverloadedError } from '../../src/core/errors.js';
import type { Actor, ActorContext, ActorKinds, ActorRef, Message } from '../../src/runtime/actor.js';
import { refName } from '../../src/runtime/actor.js';

/** Messages of `Recorder`. */
export type RecorderMsg =
  | { type: 'note'; n: number; payload?: unknown }
  | { type: 'echo'; n: number }
  | { type: 'overload' };

/** Keeps every message it receives, and when; answers `echo` with its `n`. */
export class Recorder implements Actor<RecorderMsg> {
  /** Messages received, in order, with the virtual time they arrived. */
  readonly got: Array<{ n: number; at_ms: number; from: string; payload?: unknown }> = [];

  receive(msg: RecorderMsg, ctx: ActorContext<RecorderMsg>): void {
    switch (msg.type) {
      case 'note':
        this.got.push({ n: msg.n, at_ms: ctx.now(), from: ctx.sender() ? refName(ctx.sender() as ActorRef) : 'test', payload: msg.payload });
        return;
      case 'echo':
        this.got.push({ n: msg.n, at_ms: ctx.now(), from: ctx.sender() ? refName(ctx.sender() as ActorRef) : 'test' });
        ctx.reply({ n: msg.n });
        return;
      case 'overload':
        ctx.reply(new OverloadedError('mailbox of a test actor'));
        return;
    }
  }
}

/** Messages of `Counter`. */
export type CounterMsg =
  | { type: 'add'; client: string; req: string; amount: number }
  | { type: 'get' }
  | { type: 'boom' }
  | { type: 'boom_async' };

/** Factory args of `Counter`: a shared list its incarnations append "started" to. */
export interface CounterArgs {
  starts?: string[];
}

/** An idempotent counter: each request id is applied once, every copy is acknowledged. */
export class Counter implements Actor<CounterMsg> {
  total = 0;
  /** Applied requests: "client|req" → amount. */
  readonly applied = new Map<string, number>();

  constructor(private readonly args: CounterArgs = {}) {}

  started(ctx: ActorContext<CounterMsg>): void {
    this.args.starts?.push(`started@${ctx.now()}`);
  }

  async receive(msg: CounterMsg, ctx: ActorContext<CounterMsg>): Promise<void> {
    switch (msg.type) {
      case 'add': {
        const key = `${msg.client}|${msg.req}`;
        if (!this.applied.has(key)) {
          this.applied.set(key, msg.amount);
          this.total += msg.amount;
        }
        ctx.replier()?.ok({ total: this.total }); // answers an ask; a plain send needs no answer
        return;
      }
      case 'get':
        ctx.reply({ total: this.total });
        return;
      case 'boom':
        throw new Error('counter asked to explode');
      case 'boom_async':
        await Promise.resolve();
        throw new Error('counter exploded after an await');
    }
  }
}

/** Messages of `Front`. */
export type FrontMsg = { type: 'forward'; counter: ActorRef; add: Extract<CounterMsg, { type: 'add' }> };

/** Forwards to a counter and answers after the await: a two-hop request/reply chain. */
export class Front implements Actor<FrontMsg> {
  forwarded = 0;

  async receive(msg: FrontMsg, ctx: ActorContext<FrontMsg>): Promise<void> {
    const replier = ctx.replier();
    this.forwarded++;
    try {
      const answer = await ctx.ask<{ total: number }>(msg.counter, msg.add, 20);
      replier?.ok(answer);
    } catch (err) {
      replier?.fail(err);
    }
  }
}

/** Messages of `Client`. */
export type ClientMsg = { type: 'tick' } | { type: 'retry'; req: string };

/** Factory args of `Client`. */
export interface ClientArgs {
  counter: ActorRef;
  fronts: ActorRef[];
  tick_ms: number;
  /** No new requests from this virtual time on (retries go on). */
  stop_ms: number;
}

/** Generates `add` requests through random fronts and retries each until it is acknowledged. */
export class Client implements Actor<ClientMsg> {
  /** Requests acknowledged: req → amount. */
  readonly acked = new Map<string, number>();
  /** Requests not yet acknowledged: req → amount. */
  readonly outstanding = new Map<string, number>();
  retries = 0;
  private nonce = 0;
  private issued = 0;

  constructor(private readonly args: ClientArgs) {}

  started(ctx: ActorContext<ClientMsg>): void {
    this.nonce = Math.floor(ctx.random() * 1e9); // ids stay unique across incarnations
    ctx.schedule(this.args.tick_ms, { type: 'tick' });
  }

  receive(msg: ClientMsg, ctx: ActorContext<ClientMsg>): void {
    switch (msg.type) {
      case 'tick': {
        if (ctx.now() >= this.args.stop_ms) return;
        const req = `${this.nonce}-${this.issued++}`;
        this.outstanding.set(req, 1 + Math.floor(ctx.random() * 9));
        this.fire(req, ctx);
        ctx.schedule(this.args.tick_ms, { type: 'tick' });
        return;
      }
      case 'retry':
        if (this.outstanding.has(msg.req)) {
          this.retries++;
          this.fire(msg.req, ctx);
        }
        return;
    }
  }

  private fire(req: string, ctx: ActorContext<ClientMsg>): void {
    const amount = this.outstanding.get(req);
    if (amount === undefined) return;
    const front = this.args.fronts[Math.floor(ctx.random() * this.args.fronts.length)];
    if (front === undefined) return;
    const add = { type: 'add', client: refName(ctx.self), req, amount } as const;
    ctx.ask(front, { type: 'forward', counter: this.args.counter, add }, 40).then(
      () => {
        if (this.outstanding.delete(req)) this.acked.set(req, amount);
      },
      () => {
        ctx.schedule(5 + Math.floor(ctx.random() * 10), { type: 'retry', req });
      },
    );
  }
}

/** Messages of `Gossip`. */
export type GossipMsg = { type: 'round' } | { type: 'push'; value: number };

/** Factory args of `Gossip`. */
export interface GossipArgs {
  peers: ActorRef[];
  round_ms: number;
  stop_ms: number;
}

/** Push gossip of one number: every round, send the largest value seen to two random peers. */
export class Gossip implements Actor<GossipMsg> {
  value = 0;
  initial = 0;
  rounds = 0;

  constructor(private readonly args: GossipArgs) {}

  started(ctx: ActorContext<GossipMsg>): void {
    this.initial = this.value = Math.floor(ctx.random() * 1_000_000);
    ctx.schedule(this.args.round_ms, { type: 'round' });
  }

  receive(msg: GossipMsg, ctx: ActorContext<GossipMsg>): void {
    switch (msg.type) {
      case 'round': {
        this.rounds++;
        for (let i = 0; i < 2; i++) {
          const peer = this.args.peers[Math.floor(ctx.random() * this.args.peers.length)];
          if (peer !== undefined && (peer.thread !== ctx.self.thread || peer.id !== ctx.self.id)) {
            ctx.send(peer, { type: 'push', value: this.value });
          }
        }
        if (ctx.now() < this.args.stop_ms) ctx.schedule(this.args.round_ms, { type: 'round' });
        return;
      }
      case 'push':
        this.value = Math.max(this.value, msg.value);
        return;
    }
  }
}

/** Messages of `Ticker`. */
export type TickerMsg = { type: 'tick' };

/** Ticks every `period_ms` forever and counts its ticks. */
export class Ticker implements Actor<TickerMsg> {
  ticks = 0;
  constructor(private readonly period_ms: number) {}
  started(ctx: ActorContext<TickerMsg>): void {
    ctx.schedule(this.period_ms, { type: 'tick' });
  }
  receive(_msg: TickerMsg, ctx: ActorContext<TickerMsg>): void {
    this.ticks++;
    ctx.schedule(this.period_ms, { type: 'tick' });
  }
}

/** Messages of `Pinger`. */
export type PingerMsg = { type: 'ping' } | { type: 'silent' };

/** Answers every `ping` by pinging its peer back: an endless loop (for the livelock guard). */
export class Pinger implements Actor<PingerMsg> {
  constructor(private readonly peer: ActorRef) {}
  receive(msg: PingerMsg, ctx: ActorContext<PingerMsg>): void {
    if (msg.type === 'ping') ctx.send(this.peer, { type: 'ping' });
    // 'silent' is an ask nobody answers: the asker must time out.
  }
}

/** The kinds above by name, as a worker thread would load them. */
export const actorKinds: ActorKinds = {
  recorder: () => new Recorder(),
  counter: (args) => new Counter(args as CounterArgs),
  front: () => new Front(),
  client: (args) => new Client(args as ClientArgs),
  gossip: (args) => new Gossip(args as GossipArgs),
};

/** Any message of the actors above. */
export type AnyTestMsg = RecorderMsg | CounterMsg | FrontMsg | ClientMsg | GossipMsg | TickerMsg | PingerMsg | Message;
