/**
 * Tests of the simulator's stall fault (src/runtime/sim/stall.ts): a stalled
 * node runs nothing — its timers fire late, messages to it queue and arrive in
 * order at the end of the stall, its asks settle only then — while other
 * nodes keep running and what it sent before the stall still arrives; a crash
 * ends a stall; a random stall plan replays exactly from its seed. With
 * `release: 'timers-first'` the held timers (and ask deadlines) run before the
 * held messages and replies, as Node's event loop runs its timers phase
 * before polling I/O after a pause; that order replays from the seed too.
 * Prints its seed; `SEED=n` replays one.
 */
import { expect } from 'chai';
import { seedFrom } from '../../src/core/prng.js';
import type { Actor, ActorContext, ActorRef } from '../../src/runtime/actor.js';
import { SimWorld } from '../../src/runtime/sim/index.js';
import type { FaultOptions, StallRelease } from '../../src/runtime/sim/index.js';
import { Recorder } from './sim_actors.js';

const SEED = seedFrom(process.env['SEED'], Math.floor(Math.random() * 2 ** 32));

type TickMsg = { type: 'tick' };

/** Ticks every `period_ms` and notes the virtual time of each tick. */
class TickLog implements Actor<TickMsg> {
  readonly at_ms: number[] = [];
  constructor(private readonly period_ms: number) {}
  started(ctx: ActorContext<TickMsg>): void {
    ctx.schedule(this.period_ms, { type: 'tick' });
  }
  receive(_msg: TickMsg, ctx: ActorContext<TickMsg>): void {
    this.at_ms.push(ctx.now());
    ctx.schedule(this.period_ms, { type: 'tick' });
  }
}

type StreamMsg = { type: 'tick' };

/** Sends a numbered note to `target` every `period_ms`, up to `count` notes. */
class Streamer implements Actor<StreamMsg> {
  sent = 0;
  constructor(private readonly target: ActorRef, private readonly period_ms: number, private readonly count: number) {}
  started(ctx: ActorContext<StreamMsg>): void {
    ctx.schedule(this.period_ms, { type: 'tick' });
  }
  receive(_msg: StreamMsg, ctx: ActorContext<StreamMsg>): void {
    ctx.send(this.target, { type: 'note', n: this.sent++ });
    if (this.sent < this.count) ctx.schedule(this.period_ms, { type: 'tick' });
  }
}

type AskerMsg = { type: 'go'; timeout_ms: number };

/** Asks `target` an `echo` when told to and notes when and how the ask settled. */
class Asker implements Actor<AskerMsg> {
  settled: { at_ms: number; ok: boolean } | undefined;
  constructor(private readonly target: ActorRef) {}
  receive(msg: AskerMsg, ctx: ActorContext<AskerMsg>): void {
    ctx.ask(this.target, { type: 'echo', n: 1 }, msg.timeout_ms).then(
      () => (this.settled = { at_ms: ctx.now(), ok: true }),
      () => (this.settled = { at_ms: ctx.now(), ok: false }),
    );
  }
}

type LogMsg = { type: 'tick' } | { type: 'note'; n: number };

/**
 * Logs its own timer ticks and the notes it receives in one list, in the order
 * it ran them; with a `target`, sends it a numbered note on every tick.
 */
class EventLog implements Actor<LogMsg> {
  readonly ran: Array<{ what: 'tick' | 'note'; n: number; at_ms: number }> = [];
  private ticks = 0;
  constructor(private readonly period_ms: number, private readonly target?: ActorRef) {}
  started(ctx: ActorContext<LogMsg>): void {
    ctx.schedule(this.period_ms, { type: 'tick' });
  }
  receive(msg: LogMsg, ctx: ActorContext<LogMsg>): void {
    if (msg.type === 'note') {
      this.ran.push({ what: 'note', n: msg.n, at_ms: ctx.now() });
      return;
    }
    this.ran.push({ what: 'tick', n: this.ticks, at_ms: ctx.now() });
    if (this.target !== undefined) ctx.send(this.target, { type: 'note', n: this.ticks });
    this.ticks++;
    ctx.schedule(this.period_ms, { type: 'tick' });
  }
}

/** Runs of entries of `log` that ran at the same virtual time with a tick after a note in them. */
function ticksAfterNotes(log: ReadonlyArray<{ what: 'tick' | 'note'; at_ms: number }>): number {
  let count = 0;
  for (let i = 0; i < log.length; i++) {
    const note = log[i];
    if (note?.what !== 'note') continue;
    for (let j = i + 1; j < log.length && log[j]?.at_ms === note.at_ms; j++) {
      if (log[j]?.what === 'tick') {
        count++;
        break;
      }
    }
  }
  return count;
}

function world(faults: FaultOptions = {}, seed = SEED): SimWorld {
  return new SimWorld({ seed, faults });
}

describe('runtime/sim stall', function () {
  before(() => console.log(`      sim stall seed: SEED=${SEED}`));

  it("fires a stalled node's timers late, at the end of the stall, and keeps other nodes running", async () => {
    const w = world();
    const stalled = w.spawn(1, () => new TickLog(10), 'ticker');
    const other = w.spawn(2, () => new TickLog(10), 'ticker');
    await w.runUntil(25);
    w.stall(1, 100);
    expect(w.isStalled(1)).to.equal(true);
    await w.runUntil(124);
    expect(w.instance<TickLog>(stalled)?.at_ms).to.deep.equal([10, 20]); // nothing ran during the stall
    expect(w.instance<TickLog>(other)?.at_ms.length).to.equal(12); // 10, 20, ..., 120: on time
    await w.runUntil(150);
    expect(w.isStalled(1)).to.equal(false);
    // The tick due at 30 fires late, at 125; the next ones follow from there.
    expect(w.instance<TickLog>(stalled)?.at_ms).to.deep.equal([10, 20, 125, 135, 145]);
    expect(w.instance<TickLog>(other)?.at_ms.slice(-3)).to.deep.equal([130, 140, 150]);
    expect(w.trace.count('stall')).to.equal(1);
    expect(w.trace.count('unstall')).to.equal(1);
  });

  it('queues messages to a stalled node and delivers them in order when it ends; its own earlier sends still arrive', async () => {
    const w = world({ latency_ms: [0.5, 3], fifo_links: true });
    const sink = w.spawn(1, () => new Recorder(), 'sink');
    w.spawn(2, () => new Streamer(sink, 5, 60), 'streamer');
    const remoteSink = w.spawn(2, () => new Recorder(), 'sink');
    w.spawn(1, () => new Streamer(remoteSink, 7, 100), 'streamer');
    await w.runUntil(50);
    w.stall(1, 200); // 50 .. 250
    await w.runUntil(400);
    const got = w.instance<Recorder>(sink)?.got ?? [];
    expect(got.map((g) => g.n)).to.deep.equal([...Array(60).keys()]); // every note, in send order
    const during = got.filter((g) => g.at_ms > 50 && g.at_ms < 250);
    expect(during, 'nothing delivered to the stalled node').to.deep.equal([]);
    const atEnd = got.filter((g) => g.at_ms === 250);
    expect(atEnd.length, 'the queued notes arrive together at the end').to.be.greaterThan(30);
    // The stalled node sends nothing during the stall: only what it sent by t=50 reaches node 2 before t=250.
    const remote = w.instance<Recorder>(remoteSink)?.got ?? [];
    const remoteDuring = remote.filter((g) => g.at_ms > 50 && g.at_ms < 250);
    expect(remoteDuring.length).to.be.at.most(1); // the note sent at t=49 may land just after 50
    for (const g of remoteDuring) expect(g.n).to.equal(6);
    expect(remote.filter((g) => g.at_ms <= 50 + 3).length).to.equal(7); // sent at 7, 14, ..., 49
    expect(remote.some((g) => g.at_ms >= 250)).to.equal(true); // it runs again afterwards
  });

  it('holds replies to and deadlines of its asks until the stall ends', async () => {
    const w = world();
    const echo = w.spawn(2, () => new Recorder(), 'echo');
    const asker = w.spawn(1, () => new Asker(echo), 'asker');
    w.send(asker, { type: 'go', timeout_ms: 1000 });
    await w.runUntil(0.5); // the ask is on its way; the reply will come back at about 1..4 ms
    w.stall(1, 50);
    await w.runUntil(49);
    expect(w.instance<Asker>(asker)?.settled).to.equal(undefined);
    await w.runUntil(60);
    expect(w.instance<Asker>(asker)?.settled).to.deep.equal({ at_ms: 50.5, ok: true });

    const silent = w.spawn(2, () => ({ receive: () => undefined }), 'silent');
    const timedOut = w.spawn(1, () => new Asker(silent), 'asker2');
    w.send(timedOut, { type: 'go', timeout_ms: 20 });
    await w.runUntil(70);
    w.stall(1, 100); // the deadline (about 80) falls inside the stall
    await w.runUntil(169);
    expect(w.instance<Asker>(timedOut)?.settled).to.equal(undefined);
    await w.runUntil(171);
    expect(w.instance<Asker>(timedOut)?.settled).to.deep.equal({ at_ms: 170, ok: false });
  });

  it('extends a stall by a second, longer one; a crash ends it and its held messages find the node down', async () => {
    const w = world();
    const ticker = w.spawn(1, () => new TickLog(10), 'ticker');
    const sink = w.spawn(1, () => new Recorder(), 'sink');
    w.spawn(2, () => new Streamer(sink, 10, 1000), 'streamer');
    await w.runUntil(5);
    w.stall(1, 50); // until 55
    w.stall(1, 20); // shorter: no change
    await w.runUntil(30);
    w.stall(1, 70); // until 100
    await w.runUntil(99);
    expect(w.instance<TickLog>(ticker)?.at_ms).to.deep.equal([]);
    await w.runUntil(100);
    expect(w.instance<TickLog>(ticker)?.at_ms).to.deep.equal([100]);
    expect(w.trace.count('unstall')).to.equal(1); // the superseded end events did nothing

    w.stall(1, 100); // until 200
    await w.runUntil(150);
    const deadBefore = w.trace.count('dead');
    w.crash(1);
    expect(w.isStalled(1)).to.equal(false);
    await w.runUntil(151);
    expect(w.trace.count('dead') - deadBefore, 'held notes reached a down node').to.be.at.least(4);
    w.restart(1);
    await w.runUntil(300);
    expect(w.instance<TickLog>(ticker)?.at_ms).to.deep.equal([161, 171, 181, 191, 201, 211, 221, 231, 241, 251, 261, 271, 281, 291]);
  });

  for (const release of ['in-order', 'timers-first'] as const) {
    it(`release '${release}': ${release === 'timers-first' ? 'a timer due during the stall fires before a message that arrived before it came due' : 'held events run in original order'}`, async () => {
      const w = world({ latency_ms: [1, 2] });
      const log = w.spawn(1, () => new EventLog(50), 'log'); // its tick comes due at 50
      const sink = w.spawn(2, () => new Recorder(), 'sink');
      w.spawn(2, () => new EventLog(10, log), 'sender'); // notes sent at 10, 20, 30, ... arrive 1..2 ms later
      await w.runUntil(5);
      w.stall(1, 100, { release }); // 5 .. 105: notes 0..3 arrive (by 42) before the tick comes due (50)
      await w.runUntil(104);
      expect(w.instance<EventLog>(log)?.ran).to.deep.equal([]);
      await w.runUntil(105);
      const atEnd = (w.instance<EventLog>(log)?.ran ?? []).filter((e) => e.at_ms === 105);
      const notes = atEnd.filter((e) => e.what === 'note').map((e) => e.n);
      expect(notes.slice(0, 4)).to.deep.equal([0, 1, 2, 3]); // held notes keep their arrival order either way
      const tickAt = atEnd.findIndex((e) => e.what === 'tick');
      expect(atEnd.filter((e) => e.what === 'tick').length).to.equal(1);
      if (release === 'timers-first') expect(tickAt, 'the tick due at 50 runs before every held note').to.equal(0);
      else expect(tickAt, 'the tick due at 50 runs after the notes that arrived by 42, before those that arrived after 50').to.equal(4);

      // An ask deadline is a timer too: a reply that arrived in time, but during the stall, loses to it.
      const asker = w.spawn(1, () => new Asker(sink), 'asker');
      w.send(asker, { type: 'go', timeout_ms: 20 });
      await w.runUntil(105.5); // the ask is on its way; its reply arrives at about 107..109, its deadline is about 125
      w.stall(1, 50, { release }); // 105.5 .. 155.5
      await w.runUntil(160);
      expect(w.instance<Asker>(asker)?.settled).to.deep.equal({ at_ms: 155.5, ok: release === 'in-order' });
    });
  }

  it("a stall plan's release option applies to every planned stall and replays exactly from its seed", async () => {
    const run = async (seed: number, release: StallRelease) => {
      const w = world({ stall_plan: { nodes: [1, 2, 3], interval_ms: [20, 80], duration_ms: [5, 40], stop_ms: 2000, release }, latency_ms: [0.5, 3] }, seed);
      const logs = [1, 2, 3].map((n) => ({ thread: n, id: 'log' }));
      for (const n of [1, 2, 3]) w.spawn(n, () => new EventLog(3 + n, logs[n % 3]), 'log');
      await w.runUntil(2500);
      const ran = logs.map((ref) => w.instance<EventLog>(ref)?.ran ?? []);
      return { hash: w.traceHash(), stalls: w.trace.count('stall'), ran };
    };
    const first = await run(SEED, 'timers-first');
    expect(first.stalls).to.be.greaterThan(10);
    expect(first.ran.map(ticksAfterNotes), 'no tick runs after a note of the same instant').to.deep.equal([0, 0, 0]);
    for (const log of first.ran) {
      const notes = log.filter((e) => e.what === 'note').map((e) => e.n);
      expect(notes.length).to.be.greaterThan(200);
      for (let i = 1; i < notes.length; i++) expect(notes[i]).to.equal((notes[i - 1] ?? -1) + 1); // every note, in order
    }
    expect(await run(SEED, 'timers-first')).to.deep.equal(first);
    const inOrder = await run(SEED, 'in-order');
    expect(inOrder.ran.map(ticksAfterNotes).reduce((a, b) => a + b), 'in order, ticks do run after notes held before them').to.be.greaterThan(0);
    expect(inOrder.hash).to.not.equal(first.hash);
  });

  it('a stall plan stalls nodes at random, reproducibly from its seed', async () => {
    const run = async (seed: number) => {
      const w = world({ stall_plan: { nodes: [1, 2, 3], interval_ms: [20, 80], duration_ms: [5, 40], stop_ms: 2000 }, drop_probability: 0.05 }, seed);
      const sinks = [1, 2, 3].map((n) => w.spawn(n, () => new Recorder(), 'sink'));
      for (const n of [1, 2, 3]) {
        const target = sinks[n % 3];
        if (target !== undefined) w.spawn(n, () => new Streamer(target, 3, 500), 'streamer');
      }
      await w.runUntil(2500);
      const got = sinks.map((s) => (w.instance<Recorder>(s)?.got ?? []).map((g) => g.n));
      return { hash: w.traceHash(), stalls: w.trace.count('stall'), unstalls: w.trace.count('unstall'), got };
    };
    const a = await run(SEED);
    expect(a.stalls).to.be.greaterThan(10);
    expect(a.unstalls).to.equal(a.stalls);
    for (const notes of a.got) {
      expect(notes.length).to.be.greaterThan(400); // about 5% lost
      for (let i = 1; i < notes.length; i++) expect(notes[i]).to.be.greaterThan(notes[i - 1] ?? -1); // FIFO through stalls
    }
    expect(await run(SEED)).to.deep.equal(a);
    expect((await run((SEED + 1) >>> 0)).hash).to.not.equal(a.hash);
  });
});
