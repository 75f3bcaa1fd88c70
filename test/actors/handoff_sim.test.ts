/**
 * The hinted-handoff actor in the deterministic simulator (Dynamo 2007,
 * section 4.6): real replicas on simulated disks, hint stores in memory that
 * survive a simulated crash of their node (the test hands the same store to
 * the restarted actor), and liveness events delivered by hand in place of
 * the failure detector. Prints its seed; `SEED=n` replays a run exactly.
 */
import { expect } from 'chai';
import { encodeDvv } from '../../src/core/dotted_version_vector.js';
import { CorruptionError, OverloadedError } from '../../src/core/errors.js';
import { HINT_REPLAY_ASK_TIMEOUT_MS, HINT_REPLAY_BATCH, HINT_REPLAY_INTERVAL_MS } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import type { Actor, ActorRef, Message } from '../../src/runtime/actor.js';
import { SimWorld } from '../../src/runtime/sim/index.js';
import { handoff, type HandoffStats, type HintsPending } from '../../actors/handoff.js';
import { handoffRef, replicaRef } from '../../actors/member_refs.js';
import { replica } from '../../actors/replica.js';
import type { HintBatch } from '../../storage/hint_storage.js';
import { MemoryHintStore } from '../../storage/memory_hint_store.js';
import { SimFileSystem } from '../../storage/sim_fs.js';
import type { Version } from '../../storage/version.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const utf8 = new TextEncoder();
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const text = (bytes: Uint8Array | null): string => new TextDecoder().decode(bytes ?? new Uint8Array(0));

/** Version `i` of the workload: a distinct dot, so versions of one key are concurrent siblings. */
function versionOf(i: number): Version {
  return { clock: encodeDvv({ dot: { actor: 'n9#epoch1', counter: i + 1, ts_ms: 0 }, past: [] }), value: utf8.encode(`value-${i}`), ts_ms: i };
}

/** One hint of the workload: key `k<i mod keys>`, version `i`. */
interface Hinted {
  key: string;
  version: Version;
}

/** A liveness change as the failure detector publishes it. */
function liveness(member: string, status: 'alive' | 'suspect' | 'down' | 'left', at_ms: number): Message {
  return { type: 'liveness', member, status, at_ms, incarnation: 1 };
}

/** A test cluster: nodes 1..n, each with a replica on its own simulated disk and a handoff actor on its own memory store. */
class Cluster {
  readonly world: SimWorld;
  readonly prng: Prng;
  readonly disks = new Map<number, SimFileSystem>();
  readonly stores = new Map<number, MemoryHintStore>();

  constructor(
    seed: number,
    nodes: number[],
    opts: {
      fakeReplicas?: Map<number, () => Actor<Message>>;
      /** Build node `node`'s store (default: a MemoryHintStore with default bounds). */
      makeStore?: (node: number, now: () => number) => MemoryHintStore | undefined;
      interval_ms?: number;
    } = {},
  ) {
    this.world = new SimWorld({ seed });
    this.prng = new Prng(seed ^ 0x5eed);
    for (const node of nodes) {
      this.disks.set(node, new SimFileSystem());
      const now = () => this.world.now();
      this.stores.set(node, opts.makeStore?.(node, now) ?? new MemoryHintStore({ now }));
      const fake = opts.fakeReplicas?.get(node);
      // Factories read the maps when called, so a restarted node gets its crashed disk and its surviving store.
      if (fake) this.world.spawn(node, fake, 'replica');
      else this.world.spawn(node, () => replica({ dir: `/node-${node}`, fs: this.disks.get(node)! }), 'replica');
      const interval_ms = opts.interval_ms ?? HINT_REPLAY_INTERVAL_MS;
      this.world.spawn(node, () => handoff({ self: `n${node}`, storage: this.stores.get(node)!, interval_ms }), 'handoff');
    }
  }

  crash(node: number): void {
    this.world.crash(node);
    this.disks.set(node, this.disks.get(node)!.crash(this.prng));
  }

  /** Ask and run the world until the answer comes (at most 30 s of virtual time). */
  async call<R>(to: ActorRef, msg: Message): Promise<R> {
    let outcome: { value: R } | { err: unknown } | undefined;
    this.world.ask<R>(to, msg, 30_000).then(
      (value) => (outcome = { value }),
      (err: unknown) => (outcome = { err }),
    );
    for (let step = 0; step < 30_000 && outcome === undefined; step += 5) await this.world.runFor(5);
    if (outcome === undefined) throw new Error(`ask ${msg.type} to t${to.thread}/${to.id} never settled`);
    if ('err' in outcome) throw outcome.err;
    return outcome.value;
  }

  /** Hint `hints` for `owner` at `holder`; the outcome of each ask, in order ('ok' or the error's name). */
  async hint(holder: number, owner: string, hints: Hinted[]): Promise<string[]> {
    const outcomes: string[] = [];
    for (const { key, version } of hints) {
      try {
        expect(await this.call(handoffRef(`n${holder}`), { type: 'hint', owner, key: utf8.encode(key), versions: [version] })).to.equal(true);
        outcomes.push('ok');
      } catch (err) {
        outcomes.push((err as Error).name);
      }
    }
    return outcomes;
  }

  pending(holder: number): Promise<HintsPending> {
    return this.call<HintsPending>(handoffRef(`n${holder}`), { type: 'hints-pending' });
  }

  stats(holder: number): Promise<HandoffStats> {
    return this.call<HandoffStats>(handoffRef(`n${holder}`), { type: 'stats' });
  }

  /** Hinted versions that `owner`'s replica does not hold. */
  async missing(owner: string, hints: Hinted[]): Promise<string[]> {
    const missing: string[] = [];
    for (const { key, version } of hints) {
      const got = await this.call<Version[]>(replicaRef(owner), { type: 'get', key: utf8.encode(key) });
      if (!got.some((v) => hex(v.clock) === hex(version.clock) && text(v.value) === text(version.value))) missing.push(`${key}@${text(version.value)}`);
    }
    return missing;
  }
}

/** `count` hints spread over `keys` keys (so some keys get concurrent siblings). */
function workload(count: number, keys: number): Hinted[] {
  return Array.from({ length: count }, (_, i) => ({ key: `k${i % keys}`, version: versionOf(i) }));
}

/** A stand-in owner replica that records every `merge` it acknowledges. */
function recordingReplica(log: { at_ms: number; value: string }[]): () => Actor<Message> {
  return () => ({
    receive(msg, ctx) {
      if (msg.type !== 'merge') return;
      const versions = msg['versions'] as Version[];
      log.push({ at_ms: ctx.now(), value: text(versions[0]!.value) });
      ctx.reply(true);
    },
  });
}

/**
 * The main scenario: owner n2 is down while n1 takes hints for it; replay
 * waits for `alive`; n1 itself crashes and restarts with its hints; they all
 * reach n2's replica and are deleted.
 */
async function ownerOutage(seed: number) {
  const cluster = new Cluster(seed, [1, 2, 3]);
  const { world } = cluster;
  const hints = workload(60, 25);
  cluster.crash(2);
  world.send(handoffRef('n1'), liveness('n2', 'down', world.now()));
  const taken = await cluster.hint(1, 'n2', hints.slice(0, 40));
  // Paused: several ticks pass and nothing is tried against the down owner.
  await world.runFor(10 * HINT_REPLAY_INTERVAL_MS);
  const paused = { pending: await cluster.pending(1), stats: await cluster.stats(1) };

  // The hint holder crashes; its store survives, and after the restart it has heard nothing of n2:
  // n2 counts as alive, so it tries, fails (n2 is still down) and backs off.
  cluster.crash(1);
  world.restart(1);
  taken.push(...(await cluster.hint(1, 'n2', hints.slice(40))));
  await world.runFor(10_000);
  const afterHolderRestart = { pending: await cluster.pending(1), stats: await cluster.stats(1) };

  // The owner comes back; the detector says so.
  world.restart(2);
  await world.runFor(100);
  world.send(handoffRef('n1'), liveness('n2', 'alive', world.now()));
  // A round begun while n2 was down may still wait out its ask timeout; then the next tick delivers.
  await world.runFor(HINT_REPLAY_ASK_TIMEOUT_MS + 1000);
  const delivered = { pending: await cluster.pending(1), stats: await cluster.stats(1) };
  // n2 crashes again: what was acknowledged to n1 (and so deleted there) must still be in its replica.
  cluster.crash(2);
  world.restart(2);
  await world.runFor(100);
  const missing = await cluster.missing('n2', hints);
  return { taken, paused, afterHolderRestart, delivered, missing, trace: world.traceHash() };
}

describe('actors/handoff in the simulator (memory hint stores, simulated disks, node crashes)', function () {
  this.timeout(120_000);
  before(() => console.log(`      handoff sim SEED=${SEED}`));
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(`      replay with SEED=${SEED}`);
  });

  it(`keeps hints for a down owner across a holder crash and delivers all of them once it is alive, replayably (SEED=${SEED})`, async () => {
    const run = await ownerOutage(SEED);
    expect(run.taken, 'every hint was acknowledged').to.deep.equal(Array(60).fill('ok'));
    expect(run.paused.pending.total, 'paused: all kept').to.equal(40);
    expect(run.paused.pending.byOwner).to.deep.equal({ n2: 40 });
    expect(run.paused.stats).to.deep.include({ stored: 40, delivered: 0, failedRounds: 0 });
    // After the holder's restart (fresh counters): the 20 new hints; tried against the down owner and backed off.
    expect(run.afterHolderRestart.pending.total, 'the holder kept its hints across its crash').to.equal(60);
    expect(run.afterHolderRestart.stats.stored).to.equal(20);
    expect(run.afterHolderRestart.stats.delivered).to.equal(0);
    expect(run.afterHolderRestart.stats.failedRounds, 'an unknown owner counts as alive: it was tried').to.be.at.least(1);
    // 10 s of 2 s timeouts without backoff would be 5 rounds; the backoff may allow at most that many.
    expect(run.afterHolderRestart.stats.failedRounds).to.be.at.most(5);
    expect(run.delivered.pending).to.deep.equal({ total: 0, bytes: 0, byOwner: {} });
    expect(run.delivered.stats.delivered).to.equal(60);
    expect(run.missing, `hinted versions missing from n2 (SEED=${SEED})`).to.deep.equal([]);
    const again = await ownerOutage(SEED);
    expect(again.trace, 'same seed, same trace').to.equal(run.trace);
  });

  it(`replays in insertion order, one round of at most HINT_REPLAY_BATCH per tick (SEED=${SEED})`, async () => {
    const merges: { at_ms: number; value: string }[] = [];
    const interval_ms = 1000;
    const cluster = new Cluster(SEED, [1, 3], { fakeReplicas: new Map([[3, recordingReplica(merges)]]), interval_ms });
    const { world } = cluster;
    const total = 3 * HINT_REPLAY_BATCH + 10;
    // Taken before the first tick (at interval_ms): adds are fast, nothing is replayed meanwhile.
    const hints = workload(total, 1000);
    world.send(handoffRef('n1'), liveness('n3', 'down', 0));
    expect(await cluster.hint(1, 'n3', hints)).to.deep.equal(Array(total).fill('ok'));
    world.send(handoffRef('n1'), liveness('n3', 'alive', world.now()));
    const alive_ms = world.now();
    await world.runFor(6 * interval_ms);
    expect(merges.map((m) => m.value), 'insertion order, each once').to.deep.equal(hints.map((h) => text(h.version.value)));
    // Rounds are runs of merges with no pause between them (a round trip is a few ms; rounds wait for a tick).
    const rounds: { start_ms: number; merges: number }[] = [];
    let last_ms = Number.NEGATIVE_INFINITY;
    for (const m of merges) {
      if (m.at_ms - last_ms > 100) rounds.push({ start_ms: m.at_ms, merges: 0 });
      rounds[rounds.length - 1]!.merges += 1;
      last_ms = m.at_ms;
    }
    expect(rounds.map((r) => r.merges), 'merges per round').to.deep.equal([HINT_REPLAY_BATCH, HINT_REPLAY_BATCH, HINT_REPLAY_BATCH, 10]);
    // The first round starts at `alive`; each later one at its own tick (ticks fall on multiples of interval_ms).
    expect(rounds[0]!.start_ms - alive_ms).to.be.within(0, 10);
    const ticks = rounds.slice(1).map((r) => Math.floor(r.start_ms / interval_ms));
    for (const [i, r] of rounds.slice(1).entries()) expect(r.start_ms - ticks[i]! * interval_ms, 'a round starts just after its tick').to.be.within(0, 10);
    expect(new Set(ticks).size, 'one round per tick').to.equal(ticks.length);
    expect(await cluster.pending(1)).to.deep.equal({ total: 0, bytes: 0, byOwner: {} });
  });

  it(`stops replay to an owner reported down mid-round and resumes on alive (SEED=${SEED})`, async () => {
    const merges: { at_ms: number; value: string }[] = [];
    const cluster = new Cluster(SEED, [1, 3], { fakeReplicas: new Map([[3, recordingReplica(merges)]]) });
    const { world } = cluster;
    const hints = workload(300, 1000);
    world.send(handoffRef('n1'), liveness('n3', 'down', 0));
    await cluster.hint(1, 'n3', hints);
    world.send(handoffRef('n1'), liveness('n3', 'alive', world.now()));
    await world.runFor(60); // part of the first round
    const before = merges.length;
    expect(before).to.be.within(1, HINT_REPLAY_BATCH - 1);
    world.send(handoffRef('n1'), liveness('n3', 'suspect', world.now()));
    await world.runFor(20 * HINT_REPLAY_INTERVAL_MS);
    expect(merges.length - before, 'at most the merge in flight completes after the pause').to.be.at.most(1);
    const stalled = merges.length;
    expect((await cluster.pending(1)).total).to.equal(300 - stalled);
    expect(await cluster.call(handoffRef('n1'), { type: 'replay-now', owner: 'n3' }), 'replay-now honours a pause').to.equal(0);
    world.send(handoffRef('n1'), liveness('n3', 'alive', world.now()));
    await world.runFor(20 * HINT_REPLAY_INTERVAL_MS);
    expect(merges.map((m) => m.value)).to.deep.equal(hints.map((h) => text(h.version.value)));
    expect((await cluster.stats(1)).failedRounds).to.equal(0);
  });

  it(`backs off from an owner whose replica refuses, and retries at once on alive (SEED=${SEED})`, async () => {
    const attempts: number[] = [];
    /** An owner replica that fails every merge at once (e.g. its disk is full). */
    const failing = () => ({
      receive(msg: Message, ctx: { now(): number; reply(value: unknown): void }) {
        if (msg.type !== 'merge') return;
        attempts.push(ctx.now());
        ctx.reply(new OverloadedError('test replica'));
      },
    });
    const cluster = new Cluster(SEED, [1, 3], { fakeReplicas: new Map([[3, failing]]) });
    const { world } = cluster;
    await cluster.hint(1, 'n3', workload(3, 3));
    await world.runFor(60_000);
    const stats = await cluster.stats(1);
    // Without backoff a tick every HINT_REPLAY_INTERVAL_MS would try 240 times in a minute; the backoff
    // (full jitter, ceiling doubling from 250 ms to 30 s) allows a handful.
    expect(attempts.length, 'attempts in a minute').to.be.within(3, 20);
    expect(stats.failedRounds, 'each attempt was one failed round (the first hint each time)').to.equal(attempts.length);
    expect(stats.delivered).to.equal(0);
    expect((await cluster.pending(1)).total).to.equal(3);
    const before = attempts.length;
    world.send(handoffRef('n1'), liveness('n3', 'alive', world.now()));
    await world.runFor(10);
    expect(attempts.length, 'alive resets the backoff and replays now').to.equal(before + 1);
  });

  it(`refuses hints with OverloadedError when its store is full, and takes them again once replay frees space (SEED=${SEED})`, async () => {
    const makeStore = (node: number, now: () => number) => (node === 1 ? new MemoryHintStore({ now, max_bytes: 2048 }) : undefined);
    const cluster = new Cluster(SEED, [1, 2], { makeStore });
    cluster.crash(2);
    cluster.world.send(handoffRef('n1'), liveness('n2', 'down', cluster.world.now()));
    const hints = workload(40, 40);
    const outcomes = await cluster.hint(1, 'n2', hints);
    const accepted = outcomes.filter((o) => o === 'ok').length;
    expect(accepted).to.be.within(5, 30);
    expect(outcomes.slice(accepted), 'after the first refusal, every hint is refused').to.deep.equal(Array(40 - accepted).fill('OverloadedError'));
    let refusal: unknown;
    try {
      await cluster.call(handoffRef('n1'), { type: 'hint', owner: 'n2', key: utf8.encode('x'), versions: [versionOf(99)] });
    } catch (err) {
      refusal = err;
    }
    expect(refusal).to.be.instanceOf(OverloadedError);
    expect((refusal as Error).message).to.match(/2048 bytes/);
    expect((await cluster.pending(1)).total).to.equal(accepted);
    expect((await cluster.stats(1)).refused).to.equal(40 - accepted + 1);

    cluster.world.restart(2);
    cluster.world.send(handoffRef('n1'), liveness('n2', 'alive', cluster.world.now()));
    await cluster.world.runFor(1000);
    expect((await cluster.pending(1)).total).to.equal(0);
    expect(await cluster.missing('n2', hints.slice(0, accepted))).to.deep.equal([]);
    expect(await cluster.hint(1, 'n2', hints.slice(accepted, accepted + 3))).to.deep.equal(['ok', 'ok', 'ok']);
  });

  it(`drops hints whose storage reports corruption, logs an error, and replays the rest (SEED=${SEED})`, async () => {
    /** A memory store whose first iterate fails its checksum, as LMDB bytes that rotted would. */
    class RottedOnce extends MemoryHintStore {
      rotted = true;
      dropped = 0;
      override iterate(owner: string, limit: number, after_id?: number): HintBatch {
        if (this.rotted) throw new CorruptionError('test store', -1, `hint for ${owner} fails its checksum`);
        return super.iterate(owner, limit, after_id);
      }
      override async dropCorrupt(owner: string): Promise<number> {
        this.rotted = false;
        this.dropped += 1;
        return super.dropCorrupt(owner);
      }
    }
    const cluster = new Cluster(SEED, [1, 2], { makeStore: (node, now) => (node === 1 ? new RottedOnce({ now }) : undefined) });
    const rotted = cluster.stores.get(1) as RottedOnce;
    const hints = workload(5, 5);
    expect(await cluster.hint(1, 'n2', hints)).to.deep.equal(Array(5).fill('ok'));
    await cluster.world.runFor(4 * HINT_REPLAY_INTERVAL_MS);
    expect(rotted.dropped).to.equal(1);
    expect(cluster.world.logs.all('error').some((line) => /corrupt hints dropped/.test(line.msg))).to.equal(true);
    expect((await cluster.pending(1)).total).to.equal(0);
    expect(await cluster.missing('n2', hints)).to.deep.equal([]);
  });

  it(`never delivers a version written more than the hint TTL ago, however recently its hint was stored (SEED=${SEED})`, async () => {
    const TTL_MS = 5000;
    const cluster = new Cluster(SEED, [1, 2], { makeStore: (_node, now) => new MemoryHintStore({ now, max_age_ms: TTL_MS }), interval_ms: 60_000 });
    await cluster.world.runFor(10_000);
    const now = cluster.world.now();
    const old: Hinted = { key: 'k-old', version: { ...versionOf(1), ts_ms: now - TTL_MS - 1 } };
    const fresh: Hinted = { key: 'k-fresh', version: { ...versionOf(2), ts_ms: now - 10 } };
    // Both hints are stored now (a late hint for an old write, e.g. after its replica ask timed out).
    expect(await cluster.hint(1, 'n2', [old, fresh])).to.deep.equal(['ok', 'ok']);
    await cluster.call(handoffRef('n1'), { type: 'replay-now', owner: 'n2' });
    expect(await cluster.missing('n2', [fresh]), 'the fresh version is delivered').to.deep.equal([]);
    expect(await cluster.missing('n2', [old]), 'the old one is not: a purged tombstone may have covered it').to.deep.equal(['k-old@value-1']);
    expect((await cluster.pending(1)).total, 'both hints are done with').to.equal(0);
    expect((await cluster.stats(1)).delivered, 'only the fresh one counts as delivered').to.equal(1);
  });

  it('treats a hint for its own node as a programmer error', async () => {
    const cluster = new Cluster(SEED, [1]);
    let failure: unknown;
    try {
      await cluster.call(handoffRef('n1'), { type: 'hint', owner: 'n1', key: utf8.encode('k'), versions: [versionOf(0)] });
    } catch (err) {
      failure = err;
    }
    expect((failure as Error).message).to.match(/assertion failed: a node never holds hints for itself/);
    expect((await cluster.pending(1)).total).to.equal(0);
  });
});
