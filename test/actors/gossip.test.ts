import { expect } from 'chai';
import { Prng, seedFrom } from '../../src/core/prng.js';
import type { MemberEntry } from '../../src/core/membership.js';
import { GOSSIP_INTERVAL_MS } from '../../actors/gossip.js';
import { gossipRef, memberId, threadOf } from '../../actors/member_refs.js';
import { Cluster } from './membership_cluster.js';

const SEED = seedFrom(process.env['SEED'], Date.now());

/**
 * The convergence bound asserted: a push-pull epidemic with fan-out 2 reaches
 * every node in about log3(n) rounds once the seeds know everyone; we allow
 * ceil(log2 n) + 2 gossip intervals after the last node joined.
 */
function roundsBound(n: number): number {
  return Math.ceil(Math.log2(n)) + 2;
}

/** Rounds (gossip intervals) after `since` until every listed node's table holds `n` members; -1 past `max_rounds`. */
async function roundsUntilConverged(cluster: Cluster, threads: number[], n: number, max_rounds: number): Promise<number> {
  for (let rounds = 0; rounds <= max_rounds; rounds++) {
    const tables = await cluster.tables(threads); // runs 1 ms
    if (tables.size === threads.length && [...tables.values()].every((t) => t.length === n)) return rounds;
    await cluster.world.runFor(GOSSIP_INTERVAL_MS - 1);
  }
  return -1;
}

describe('actors/gossip in the simulator', function () {
  before(() => console.log(`      SEED=${SEED} (replay with SEED=${SEED})`));

  describe('member refs', () => {
    it('maps threads to member ids and actor refs both ways', () => {
      expect(memberId(7)).to.equal('n7');
      expect(threadOf('n7')).to.equal(7);
      expect(gossipRef('n63')).to.deep.equal({ thread: 63, id: 'gossip' });
      expect(() => threadOf('x7')).to.throw(/n<thread>/);
      expect(() => threadOf('n07')).to.throw(/n<thread>/);
    });
  });

  for (const [index, n] of [5, 16, 64].entries()) {
    it(`${n} members joining through seeds: every node knows every member within ceil(log2 n) + 2 = ${roundsBound(n)} intervals of the last join`, async () => {
      const seed = (SEED + index) >>> 0;
      const threads = Array.from({ length: n }, (_, i) => (n === 64 ? i : i + 1)); // 64 nodes use threads 0..63 (THREADS_MAX)
      const seeds = threads.slice(0, n >= 16 ? 3 : 2);
      const cluster = new Cluster({ seed, threads, seeds, detectors: false });
      const prng = new Prng(seed);
      for (const s of seeds) cluster.spawnNode(s);
      // The others join at random times within two intervals, each knowing only the seeds.
      let last_join_ms = 0;
      for (const t of threads.slice(seeds.length)) {
        const at_ms = prng.int(2 * GOSSIP_INTERVAL_MS);
        last_join_ms = Math.max(last_join_ms, at_ms);
        cluster.world.at(at_ms, `join n${t}`, () => cluster.spawnNode(t));
      }
      await cluster.world.runUntil(last_join_ms);
      const rounds = await roundsUntilConverged(cluster, threads, n, 4 * roundsBound(n));
      console.log(`        n=${n}: converged ${rounds} intervals after the last join (bound ${roundsBound(n)}, seed ${seed})`);
      expect(rounds, `seed ${seed}`).to.be.within(0, roundsBound(n));
    });
  }

  it('a node joining a settled 32-node cluster is known everywhere (and knows everyone) within ceil(log2 n) + 2 intervals', async () => {
    const seed = (SEED + 10) >>> 0;
    const threads = Array.from({ length: 32 }, (_, i) => i + 1);
    const cluster = new Cluster({ seed, threads: [...threads, 40], seeds: [1, 2, 3], detectors: false });
    for (const t of threads) cluster.spawnNode(t);
    await cluster.world.runFor(10_000);
    expect(await roundsUntilConverged(cluster, threads, 32, 0)).to.equal(0);
    cluster.spawnNode(40);
    const rounds = await roundsUntilConverged(cluster, [...threads, 40], 33, 4 * roundsBound(33));
    console.log(`        late joiner known by all 33 after ${rounds} intervals (bound ${roundsBound(33)}, seed ${seed})`);
    expect(rounds, `seed ${seed}`).to.be.within(0, roundsBound(33));
  });

  it('heartbeats keep growing everywhere, under 5% loss, duplicates and reordering; a partition heals through the seeds', async () => {
    const seed = (SEED + 11) >>> 0;
    const threads = [1, 2, 3, 4, 5, 6, 7, 8];
    const cluster = new Cluster({ seed, threads, seeds: [1, 5], detectors: false, faults: { drop_probability: 0.05, duplicate_probability: 0.05, reorder_probability: 0.05 } });
    cluster.spawnAll();
    await cluster.world.runFor(5_000);
    const before = await cluster.tables(threads);
    await cluster.world.runFor(5_000);
    const after = await cluster.tables(threads);
    const heartbeat = (tables: Map<number, MemberEntry[]>, observer: number, member: string): number =>
      tables.get(observer)?.find((e) => e.id === member)?.heartbeat ?? -1;
    for (const observer of threads) {
      for (const member of threads.map(memberId)) {
        // 10 rounds apart: every member beat 10 times; every observer must have seen most of it.
        expect(heartbeat(after, observer, member) - heartbeat(before, observer, member), `${memberId(observer)} about ${member}`).to.be.greaterThan(5);
      }
    }
    // Two halves, each with one seed, then heal: both halves' news crosses again.
    cluster.world.partition([1, 2, 3, 4], [5, 6, 7, 8]);
    await cluster.world.runFor(5_000);
    const cut = await cluster.tables(threads);
    expect(heartbeat(cut, 1, 'n8') - heartbeat(before, 1, 'n8')).to.be.lessThan(heartbeat(cut, 8, 'n8') - heartbeat(before, 8, 'n8') - 5);
    cluster.world.heal();
    await cluster.world.runFor(3_000);
    const healed = await cluster.tables(threads);
    expect(heartbeat(healed, 1, 'n8')).to.be.greaterThan(heartbeat(cut, 8, 'n8'));
    expect(heartbeat(healed, 8, 'n1')).to.be.greaterThan(heartbeat(cut, 1, 'n1'));
  });

  it('replays: the same seed gives the same trace', async () => {
    const run = async (): Promise<string> => {
      const cluster = new Cluster({ seed: (SEED + 12) >>> 0, threads: [1, 2, 3, 4, 5, 6], seeds: [1], faults: { drop_probability: 0.05 } });
      cluster.spawnAll();
      await cluster.world.runFor(5_000);
      cluster.world.crash(6);
      await cluster.world.runFor(5_000);
      return cluster.world.traceHash();
    };
    expect(await run()).to.equal(await run());
  });
});
