/**
 * Tests of the deterministic simulator (src/runtime/sim): each fault on its
 * own, supervision, asks on virtual time, and the main property — the same
 * seed gives the same sequence of events — on a multi-node workload under
 * every fault at once. Prints its seed; `SEED=n` replays one.
 */
import { expect } from 'chai';
import { OverloadedError, TimeoutError, UnavailableError } from '../../src/core/errors.js';
import { MAILBOX_CAPACITY } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import type { ActorContext, ActorRef } from '../../src/runtime/actor.js';
import { refName } from '../../src/runtime/actor.js';
import { EventQueue, SimLivelockError, SimWorld, stableHash, stableSerialize } from '../../src/runtime/sim/index.js';
import type { FaultOptions } from '../../src/runtime/sim/index.js';
import { Client, Counter, type CounterArgs, Front, Gossip, Pinger, Recorder, Ticker, actorKinds } from './sim_actors.js';

const SEED = seedFrom(process.env['SEED'], Math.floor(Math.random() * 2 ** 32));

/** A recorder on `node` that sends `count` notes to `target` when told to. */
function senderFactory(target: ActorRef, count: number) {
  return () => ({
    receive(msg: { type: string }, ctx: ActorContext) {
      if (msg.type === 'go') for (let n = 0; n < count; n++) ctx.send(target, { type: 'note', n });
    },
  });
}

function world(faults: FaultOptions = {}, seed = SEED): SimWorld {
  return new SimWorld({ seed, faults, kinds: actorKinds });
}

describe('runtime/sim', function () {
  before(() => console.log(`      sim seed: SEED=${SEED}`));

  describe('event queue and stable hash', () => {
    it('pops events in (time, push order)', () => {
      const prng = new Prng(SEED);
      const queue = new EventQueue<number>(10_000);
      const pushed: Array<{ t: number; i: number }> = [];
      for (let i = 0; i < 2000; i++) {
        const t = prng.int(50);
        queue.push(t, i);
        pushed.push({ t, i });
      }
      pushed.sort((a, b) => a.t - b.t || a.i - b.i);
      const popped: number[] = [];
      for (let e = queue.pop(); e !== undefined; e = queue.pop()) popped.push(e.payload);
      expect(popped).to.deep.equal(pushed.map((p) => p.i));
    });

    it('refuses a push beyond its bound', () => {
      const queue = new EventQueue<number>(2);
      queue.push(1, 1);
      queue.push(2, 2);
      expect(() => queue.push(3, 3)).to.throw(/queue is full/);
    });

    it('serializes independently of key order, and bytes by content', () => {
      expect(stableHash({ a: 1, b: [1, 2], c: { x: 'y' } })).to.equal(stableHash({ c: { x: 'y' }, b: [1, 2], a: 1 }));
      expect(stableHash({ k: new Uint8Array([1, 2, 3]) })).to.equal(stableHash({ k: new Uint8Array([1, 2, 3]) }));
      expect(stableHash({ k: new Uint8Array([1, 2, 3]) })).to.not.equal(stableHash({ k: new Uint8Array([1, 2, 4]) }));
      expect(stableSerialize(new Map([['b', 1], ['a', 2]]))).to.equal(stableSerialize(new Map([['a', 2], ['b', 1]])));
      expect(stableSerialize({ n: -0, m: 10n })).to.equal('{"m":10n,"n":-0}');
    });
  });

  describe('network faults', () => {
    it('drop really drops cross-node messages (and never same-node ones)', async () => {
      const w = world({ drop_probability: 1 });
      const remote = w.spawn(2, () => new Recorder(), 'sink');
      const local = w.spawn(1, () => new Recorder(), 'sink');
      w.spawn(1, senderFactory(remote, 50), 'to-remote');
      w.spawn(1, senderFactory(local, 50), 'to-local');
      w.send({ thread: 1, id: 'to-remote' }, { type: 'go' });
      w.send({ thread: 1, id: 'to-local' }, { type: 'go' });
      await w.runUntilIdle();
      expect(w.instance<Recorder>(remote)?.got.length).to.equal(0);
      expect(w.instance<Recorder>(local)?.got.length).to.equal(50);
      expect(w.trace.count('drop')).to.equal(50);
    });

    it('a partial drop rate loses some messages and delivers the rest', async () => {
      const w = world({ drop_probability: 0.3 });
      const remote = w.spawn(2, () => new Recorder(), 'sink');
      w.spawn(1, senderFactory(remote, 400), 'src');
      w.send({ thread: 1, id: 'src' }, { type: 'go' });
      await w.runUntilIdle();
      const got = w.instance<Recorder>(remote)?.got.length ?? -1;
      expect(got + w.trace.count('drop')).to.equal(400);
      expect(got).to.be.within(200, 360);
    });

    it('duplicate delivers a second copy', async () => {
      const w = world({ duplicate_probability: 1 });
      const remote = w.spawn(2, () => new Recorder(), 'sink');
      w.spawn(1, senderFactory(remote, 30), 'src');
      w.send({ thread: 1, id: 'src' }, { type: 'go' });
      await w.runUntilIdle();
      const ns = (w.instance<Recorder>(remote)?.got ?? []).map((g) => g.n).sort((a, b) => a - b);
      expect(ns).to.deep.equal([...Array(30).keys()].flatMap((n) => [n, n]));
      expect(w.trace.count('duplicate')).to.equal(30);
    });

    it('delay follows the latency range on virtual time', async () => {
      const w = world({ latency_ms: [10, 10] });
      const remote = w.spawn(2, () => new Recorder(), 'sink');
      w.spawn(1, senderFactory(remote, 3), 'src');
      await w.runUntil(100);
      w.send({ thread: 1, id: 'src' }, { type: 'go' });
      await w.runUntilIdle();
      const times = (w.instance<Recorder>(remote)?.got ?? []).map((g) => g.at_ms);
      expect(times).to.have.length(3);
      for (const t of times) expect(t).to.be.closeTo(100 + 0.01 + 10, 1e-9); // local hop to src, then the link
    });

    it('links are FIFO by default; random latency or the reorder fault reorders', async () => {
      const order = async (faults: FaultOptions): Promise<{ inversions: number; reorders: number }> => {
        const w = world({ latency_ms: [0.5, 8], ...faults });
        const remote = w.spawn(2, () => new Recorder(), 'sink');
        w.spawn(1, senderFactory(remote, 200), 'src');
        w.send({ thread: 1, id: 'src' }, { type: 'go' });
        await w.runUntilIdle();
        const ns = (w.instance<Recorder>(remote)?.got ?? []).map((g) => g.n);
        expect(ns).to.have.length(200);
        return { inversions: ns.filter((n, i) => i > 0 && n < (ns[i - 1] ?? 0)).length, reorders: w.trace.count('reorder') };
      };
      expect((await order({})).inversions).to.equal(0);
      expect((await order({ fifo_links: false })).inversions).to.be.greaterThan(0);
      const explicit = await order({ reorder_probability: 0.3 });
      expect(explicit.inversions).to.be.greaterThan(0);
      expect(explicit.reorders).to.be.greaterThan(0);
    });

    it('a one-way partition blocks only one direction, and heals', async () => {
      const w = world();
      const at1 = w.spawn(1, () => new Recorder(), 'sink');
      const at2 = w.spawn(2, () => new Recorder(), 'sink');
      w.spawn(1, senderFactory(at2, 5), 'src');
      w.spawn(2, senderFactory(at1, 5), 'src');
      w.partitionOneWay([1], [2]);
      w.send({ thread: 1, id: 'src' }, { type: 'go' });
      w.send({ thread: 2, id: 'src' }, { type: 'go' });
      await w.runUntilIdle();
      expect(w.instance<Recorder>(at2)?.got.length).to.equal(0); // 1 → 2 blocked
      expect(w.instance<Recorder>(at1)?.got.length).to.equal(5); // 2 → 1 open
      expect(w.trace.count('partition')).to.equal(5);
      w.heal();
      w.send({ thread: 1, id: 'src' }, { type: 'go' });
      await w.runUntilIdle();
      expect(w.instance<Recorder>(at2)?.got.length).to.equal(5);
    });

    it('a two-way partition blocks both directions, including messages already in flight', async () => {
      const w = world({ latency_ms: [5, 5] });
      const at1 = w.spawn(1, () => new Recorder(), 'sink');
      const at3 = w.spawn(3, () => new Recorder(), 'sink');
      w.spawn(1, senderFactory(at3, 4), 'src');
      w.spawn(3, senderFactory(at1, 4), 'src');
      w.send({ thread: 1, id: 'src' }, { type: 'go' });
      w.send({ thread: 3, id: 'src' }, { type: 'go' });
      await w.runUntil(1); // sent, still on the wire
      w.partition([1, 2], [3]);
      await w.runUntilIdle();
      expect(w.instance<Recorder>(at1)?.got.length).to.equal(0);
      expect(w.instance<Recorder>(at3)?.got.length).to.equal(0);
      w.heal([1, 2], [3]);
      w.send({ thread: 3, id: 'src' }, { type: 'go' });
      await w.runUntilIdle();
      expect(w.instance<Recorder>(at1)?.got.length).to.equal(4);
    });

    it('copies cross-node messages, so actors cannot share state', async () => {
      const w = world();
      const remote = w.spawn(2, () => new Recorder(), 'sink');
      const shared = { items: [1, 2, 3] };
      w.spawn(1, () => ({
        receive(_m: { type: string }, ctx: ActorContext) {
          ctx.send(remote, { type: 'note', n: 0, payload: shared } as { type: string });
          shared.items.push(4); // mutating after send must not reach the receiver
        },
      }), 'src');
      w.send({ thread: 1, id: 'src' }, { type: 'go' });
      await w.runUntilIdle();
      const got = w.instance<Recorder>(remote)?.got[0]?.payload;
      expect(got).to.deep.equal({ items: [1, 2, 3] });
      expect(got).to.not.equal(shared);
    });
  });

  describe('crash and restart', () => {
    it('a crash loses state, timers and asks; restart re-creates the actors from their factories', async () => {
      const starts: string[] = [];
      const w = world({ latency_ms: [1, 1] });
      const counter = w.spawn(2, (args) => new Counter(args as CounterArgs), 'counter', { starts });
      const ticker = w.spawn(2, () => new Ticker(10), 'ticker');
      const silent = w.spawn(3, (peer) => new Pinger(peer as ActorRef), 'silent', counter);
      let askSettled = false;
      w.spawn(2, () => ({
        receive(_m: { type: string }, ctx: ActorContext) {
          ctx.ask(silent, { type: 'silent' }, 50).then(() => (askSettled = true), () => (askSettled = true));
        },
      }), 'asker');
      w.send({ thread: 2, id: 'asker' }, { type: 'go' });
      w.send(counter, { type: 'add', client: 'test', req: 'r1', amount: 5 });
      await w.runUntil(35);
      expect(w.instance<Counter>(counter)?.total).to.equal(5);
      expect(w.instance<Ticker>(ticker)?.ticks).to.equal(3);

      w.crash(2);
      expect(w.isUp(2)).to.equal(false);
      expect(w.instance<Counter>(counter)).to.equal(undefined);
      w.spawn(1, senderFactory({ thread: 2, id: 'counter' }, 3), 'src');
      w.send({ thread: 1, id: 'src' }, { type: 'go' });
      await w.runUntil(200);
      expect(w.trace.count('dead')).to.be.greaterThanOrEqual(3); // sent to a down node
      expect(w.trace.count('timer')).to.equal(3); // the ticker's timers died with it
      expect(w.trace.count('timeout')).to.equal(0); // and so did the pending ask
      expect(askSettled).to.equal(false);

      w.restart(2);
      expect(starts).to.deep.equal(['started@0', 'started@200']);
      expect(w.instance<Counter>(counter)?.total).to.equal(0); // fresh state
      await w.runUntil(225);
      expect(w.instance<Ticker>(ticker)?.ticks).to.equal(2); // re-armed by the new `started`
      expect(w.trace.count('crash')).to.equal(1);
      expect(w.trace.count('restart')).to.equal(1);
    });

    it('a crash plan crashes and restarts nodes at random, reproducibly', async () => {
      const run = async (seed: number) => {
        const w = world({ crash_plan: { nodes: [1, 2, 3], interval_ms: [20, 60], downtime_ms: [5, 30], stop_ms: 500 } }, seed);
        for (const n of [1, 2, 3]) w.spawn(n, () => new Ticker(7), 'ticker');
        await w.runUntil(600);
        return { hash: w.traceHash(), crashes: w.trace.count('crash'), restarts: w.trace.count('restart'), up: w.nodeIds().every((n) => w.isUp(n)) };
      };
      const a = await run(SEED);
      expect(a.crashes).to.be.greaterThan(3);
      expect(a.restarts).to.equal(a.crashes);
      expect(a.up).to.equal(true);
      expect(await run(SEED)).to.deep.equal(a);
    });
  });

  describe('clock skew', () => {
    it("skews what a node's actors read, not when their timers fire", async () => {
      const w = world();
      const seen: { node: number; now: number; world: number }[] = [];
      const clockReader = () => ({
        started(ctx: ActorContext) {
          ctx.schedule(100, { type: 'tick' });
        },
        receive(_msg: { type: string }, ctx: ActorContext) {
          seen.push({ node: ctx.self.thread, now: ctx.now(), world: w.now() });
        },
      });
      w.setClockSkew(2, 750);
      w.spawn(1, clockReader, 'clock');
      w.spawn(2, clockReader, 'clock');
      await w.runUntil(1000);
      expect(seen).to.deep.equal([
        { node: 1, now: 100, world: 100 },
        { node: 2, now: 850, world: 100 },
      ]);
      expect(w.nodeNow(2) - w.nodeNow(1)).to.equal(750);
      expect(() => w.setClockSkew(1, -1)).to.throw(/offset/);
    });
  });

  describe('asks and supervision', () => {
    it('an ask times out on the virtual clock', async () => {
      const w = world();
      const silent = w.spawn(1, (peer) => new Pinger(peer as ActorRef), 'silent', { thread: 1, id: 'x' });
      let outcome: unknown = 'pending';
      w.ask(silent, { type: 'silent' }, 100).then((v) => (outcome = v), (e: unknown) => (outcome = e));
      await w.runUntil(99);
      expect(outcome).to.equal('pending');
      await w.runUntil(100);
      expect(outcome).to.be.instanceOf(TimeoutError);
      expect((outcome as TimeoutError).timeout_ms).to.equal(100);
      expect(w.now()).to.equal(100);
    });

    it('replies cross nodes; an Error reply rejects the asker with the same class', async () => {
      const w = world();
      const rec = w.spawn(2, () => new Recorder(), 'rec');
      const results: unknown[] = [];
      w.spawn(1, () => ({
        async receive(_m: { type: string }, ctx: ActorContext) {
          results.push(await ctx.ask(rec, { type: 'echo', n: 7 }));
          try {
            await ctx.ask(rec, { type: 'overload' });
          } catch (err) {
            results.push(err);
          }
        },
      }), 'asker');
      w.send({ thread: 1, id: 'asker' }, { type: 'go' });
      await w.runUntilIdle();
      expect(results[0]).to.deep.equal({ n: 7 });
      expect(results[1]).to.be.instanceOf(OverloadedError);
      expect(w.instance<Recorder>(rec)?.got[0]?.from).to.equal('t1/asker');
    });

    for (const poison of ['boom', 'boom_async'] as const) {
      it(`restarts an actor whose receive fails (${poison}), answers the ask with the error, keeps its mailbox`, async () => {
        const starts: string[] = [];
        const w = world();
        const counter = w.spawn(2, (args) => new Counter(args as CounterArgs), 'counter', { starts });
        w.send(counter, { type: 'add', client: 'test', req: 'a', amount: 3 });
        await w.runUntilIdle();
        let failure: unknown;
        w.spawn(1, () => ({
          receive(_m: { type: string }, ctx: ActorContext) {
            ctx.ask(counter, { type: poison }).catch((err: unknown) => (failure = err));
          },
        }), 'asker');
        w.send({ thread: 1, id: 'asker' }, { type: 'go' });
        await w.runUntil(w.now() + 2.5); // the poison reaches the counter...
        w.send(counter, { type: 'add', client: 'test', req: 'b', amount: 4 }); // ...this one waits in its mailbox
        await w.runUntilIdle();
        expect(failure).to.be.instanceOf(Error);
        expect((failure as Error).message).to.match(/explode/);
        expect(w.trace.count('supervise')).to.equal(1);
        expect(starts).to.have.length(2);
        expect(w.instance<Counter>(counter)?.total).to.equal(4); // fresh state, queued message kept
        expect(w.logs.all('error').some((l) => l.source === 't2/counter' && /restarting/.test(l.msg))).to.equal(true);
      });
    }

    it('answers an ask to a missing actor on a live node with a retryable UnavailableError (not handled); a reply to a plain send is a bug', async () => {
      const w = world();
      w.spawn(2, () => new Recorder(), 'rec');
      let err: unknown;
      w.ask({ thread: 2, id: 'nobody' }, { type: 'echo', n: 1 }).catch((e: unknown) => (err = e));
      await w.runUntilIdle();
      expect(err).to.be.instanceOf(UnavailableError);
      expect((err as Error).message).to.match(/was not handled: no actor 'nobody'/);
      expect(w.trace.count('dead')).to.equal(1);
      w.send({ thread: 2, id: 'rec' }, { type: 'echo', n: 2 }); // echo replies, but this is no ask
      await w.runUntilIdle();
      expect(w.trace.count('supervise')).to.equal(1);
      expect(w.logs.all('error')[0]?.fields?.['error']).to.deep.include({ name: 'AssertionError' });
    });

    it('bounds mailboxes: send returns false and ask rejects Overloaded when full', async () => {
      const w = world();
      const rec = w.spawn(1, () => new Recorder(), 'rec');
      for (let i = 0; i < MAILBOX_CAPACITY; i++) expect(w.send(rec, { type: 'note', n: i })).to.equal(true);
      expect(w.send(rec, { type: 'note', n: -1 })).to.equal(false);
      let err: unknown;
      await w.ask(rec, { type: 'echo', n: 0 }).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(OverloadedError);
      await w.runUntilIdle();
      expect(w.instance<Recorder>(rec)?.got.length).to.equal(MAILBOX_CAPACITY);
      expect(w.send(rec, { type: 'note', n: 0 })).to.equal(true);
    });

    it('reports a livelock instead of spinning forever', async () => {
      const w = new SimWorld({ seed: SEED, events_max: 1000, faults: { local_latency_ms: 0 } });
      const a: ActorRef = { thread: 1, id: 'a' };
      const b: ActorRef = { thread: 1, id: 'b' };
      w.spawn(1, () => new Pinger(b), 'a');
      w.spawn(1, () => new Pinger(a), 'b');
      w.send(a, { type: 'ping' });
      let err: unknown;
      await w.runUntilIdle().catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(SimLivelockError);
      expect((err as Error).message).to.match(/1000 events/);
    });
  });

  describe('determinism', () => {
    const NODES = [1, 2, 3, 4];

    /** Four nodes with fronts, clients and gossip; one counter on node 1; every fault at once. */
    async function workload(seed: number) {
      const w = new SimWorld({
        seed,
        kinds: actorKinds,
        faults: { drop_probability: 0.05, duplicate_probability: 0.05, latency_ms: [0.5, 5], reorder_probability: 0.05 },
      });
      const counter = w.spawn(1, { kind: 'counter', id: 'counter', args: {} });
      const fronts = NODES.map((n) => w.spawn(n, { kind: 'front', id: 'front' }));
      const gossips: ActorRef[] = NODES.map((n) => ({ thread: n, id: 'gossip' }));
      const clients = NODES.map((n) => w.spawn(n, { kind: 'client', id: 'client', args: { counter, fronts, tick_ms: 10, stop_ms: 1200 } }));
      for (const n of NODES) w.spawn(n, { kind: 'gossip', id: 'gossip', args: { peers: gossips, round_ms: 15, stop_ms: 2500 } });
      w.at(200, 'partition', () => w.partition([1, 2], [3, 4]));
      w.at(600, 'heal', () => w.heal());
      w.at(700, 'crash 3', () => w.crash(3));
      w.at(900, 'restart 3', () => w.restart(3));
      w.at(1500, 'calm', () => w.configureFaults({ drop_probability: 0, duplicate_probability: 0, reorder_probability: 0 }));
      await w.runUntilIdle(); // every timer stops by itself; retries end once all is acknowledged
      return { w, counter, clients, gossips };
    }

    function snapshot(w: SimWorld, counter: ActorRef, clients: ActorRef[], gossips: ActorRef[]) {
      return {
        total: w.instance<Counter>(counter)?.total,
        applied: [...(w.instance<Counter>(counter)?.applied ?? [])],
        clients: clients.map((c) => [...(w.instance<Client>(c)?.acked ?? [])]),
        gossip: gossips.map((g) => w.instance<Gossip>(g)?.value),
        now: w.now(),
        events: w.trace.length,
      };
    }

    it('same seed ⇒ same trace and final state; the protocol invariants hold under faults', async () => {
      const first = await workload(SEED);
      const { w, counter, clients, gossips } = first;
      try {
        for (const kind of ['drop', 'duplicate', 'reorder', 'partition', 'crash', 'restart', 'timeout', 'timer', 'reply'] as const) {
          expect(w.trace.count(kind), `trace has ${kind} events`).to.be.greaterThan(0);
        }
        const counterState = w.instance<Counter>(counter);
        expect(counterState).to.not.equal(undefined);
        const applied = counterState?.applied ?? new Map<string, number>();
        expect(counterState?.total).to.equal([...applied.values()].reduce((a, b) => a + b, 0));
        for (const c of clients) {
          const client = w.instance<Client>(c);
          expect(client?.outstanding.size, `${refName(c)} has nothing outstanding`).to.equal(0);
          const mine = [...applied].filter(([key]) => key.startsWith(`${refName(c)}|`)).map(([key, v]) => [key.split('|')[1], v]);
          const acked = [...(client?.acked ?? [])];
          // Exactly once: what a surviving client saw acknowledged is exactly what the counter applied for it.
          if (c.thread !== 3) expect(new Map(acked as [string, number][]), refName(c)).to.deep.equal(new Map(mine as [string, number][]));
          else for (const [req, v] of acked) expect(applied.get(`${refName(c)}|${req}`)).to.equal(v);
          if (c.thread !== 3) expect(acked.length).to.be.greaterThan(50);
        }
        const values = gossips.map((g) => w.instance<Gossip>(g)?.value);
        const initials = gossips.map((g) => w.instance<Gossip>(g)?.initial ?? Infinity);
        expect(new Set(values).size, 'gossip converged').to.equal(1);
        expect(values[0]).to.be.at.least(Math.max(...initials));

        const second = await workload(SEED);
        expect(second.w.traceHash()).to.equal(w.traceHash());
        expect(snapshot(second.w, second.counter, second.clients, second.gossips)).to.deep.equal(snapshot(w, counter, clients, gossips));

        const other = await workload((SEED + 1) >>> 0);
        expect(other.w.traceHash()).to.not.equal(w.traceHash());
      } catch (err) {
        console.log(w.report(60));
        throw err;
      }
    });

    it('gives each actor its own random stream, whatever the spawn order', async () => {
      const draws = (order: number[]): number[][] => {
        const w = world();
        const refs = order.map((n) => w.spawn(n, () => new Recorder(), `r${n}`));
        void refs;
        return [1, 2, 3].map((n) => {
          const draw: number[] = [];
          w.spawn(n, () => ({ started: (ctx: ActorContext) => void draw.push(ctx.random(), ctx.random()), receive: () => undefined }), 'drawer');
          return draw;
        });
      };
      const a = draws([1, 2, 3]);
      expect(draws([3, 1, 2])).to.deep.equal(a);
      expect(new Set(a.flat()).size).to.equal(6);
    });

    it('step() carries out one event at a time', async () => {
      const w = world();
      expect(await w.step()).to.equal(false);
      const rec = w.spawn(1, () => new Recorder(), 'rec');
      w.send(rec, { type: 'note', n: 1 });
      w.send(rec, { type: 'note', n: 2 });
      expect(await w.step()).to.equal(true);
      expect(w.instance<Recorder>(rec)?.got.map((g) => g.n)).to.deep.equal([1]);
      expect(await w.step()).to.equal(true);
      expect(await w.step()).to.equal(false);
      expect(w.trace.count('deliver')).to.equal(2);
    });

    it('an empty world is idle at once', async () => {
      const w = world();
      await w.runUntilIdle();
      expect(w.trace.length).to.equal(0);
      expect(w.pendingEvents).to.equal(0);
    });
  });

  describe('front/counter chain', () => {
    it('answers a client through a front on another node after an await', async () => {
      const w = world();
      const counter = w.spawn(1, (a) => new Counter(a as CounterArgs), 'counter', {});
      const front = w.spawn(2, () => new Front(), 'front');
      const answer = w.ask<{ total: number }>(front, { type: 'forward', counter, add: { type: 'add', client: 'test', req: 'x', amount: 9 } });
      await w.runUntilIdle();
      expect(await answer).to.deep.equal({ total: 9 });
    });
  });
});
