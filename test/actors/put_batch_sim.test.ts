/**
 * A put-batch's writes and a get-batch's reads coordinated together
 * (`actors/put_batch.ts`, `actors/get_batch.ts`), in the deterministic
 * simulator: one mint ask and one merge ask per owner; a write whose owner
 * did not take the batch goes the lone way (fallbacks, hints) and keeps its
 * own quorum; two writes of one key in a batch chain as two lone writes
 * would; reads answer at R while an owner is silent, and repair a stale
 * owner. Each case names its seed; replay with SEED=<n>.
 */
import { expect } from 'chai';
import { IndeterminateError } from '../../src/core/errors.js';
import { placeReplicas } from '../../src/core/placement.js';
import { seedFrom } from '../../src/core/prng.js';
import { Ring } from '../../src/core/ring.js';
import { SimCluster } from '../../src/simulation/sim_cluster.js';
import type { CoordinatorStats } from '../../actors/coordinator.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const utf8 = new TextEncoder();
const text = (values: readonly Uint8Array[]): string[] => values.map((v) => Buffer.from(v).toString()).sort();

/** Sum of `field` over every node's coordinator counters. */
async function coordinatorTotal(cluster: SimCluster, field: 'batched_together' | 'puts' | 'read_repairs'): Promise<number> {
  let sum = 0;
  for (const node of cluster.config.nodes) {
    if (!cluster.isRunning(node.label)) continue;
    sum += (await cluster.askNode<CoordinatorStats>(node.label, 'coordinator', { type: 'stats' }))[field];
  }
  return sum;
}

describe('a put-batch coordinated together (simulator)', function () {
  this.timeout(120_000);

  for (const syncMode of ['batch', 'periodic'] as const) {
    it(`two writes of one key in a batch: the later supersedes the earlier, as two lone overwrites would (${syncMode} sync, SEED=${SEED})`, async () => {
      const cluster = new SimCluster({ seed: SEED, nodes: 3, replication: { n: 3, w: 2, r: 2 }, syncMode });
      await cluster.world.runFor(2000);
      const client = cluster.client();
      const outcomes = await client.putMany([
        { key: 'same', value: 'first', options: { overwrite: true } },
        { key: 'other', value: 'x' },
        { key: 'same', value: 'second', options: { overwrite: true } },
        { key: 'same', value: 'third', options: { overwrite: true, returnContext: false } },
      ]);
      expect(outcomes.map((o) => o.ok)).to.deep.equal([true, true, true, true]);
      const third = outcomes[3]!;
      expect(third.ok && third.result.context, 'no context built when not wanted').to.equal('');
      const first = outcomes[0]!;
      expect(first.ok && first.result.context, 'a context by default').to.not.equal('');
      const read = await client.get('same', { r: 3 });
      expect(text(read.values)).to.deep.equal(['third']);
      expect(await coordinatorTotal(cluster, 'batched_together'), 'the writes went together').to.equal(4);
      cluster.dispose();
    });
  }

  it(`an owner that does not answer the batch: its writes go the lone way to a fallback, each with its own receipt (SEED=${SEED})`, async () => {
    const cluster = new SimCluster({ seed: SEED, nodes: 5, replication: { n: 3, w: 3, r: 1 } });
    await cluster.world.runFor(3000);
    const ring = Ring.fromTokens(cluster.config.ring);
    const victim = cluster.config.nodes[4]!;
    // The client routes around the crashed node at once; the coordinators' detectors do not know yet,
    // so their batches still include it, and its merge-batch gets no answer.
    cluster.crash(victim.label);
    const client = cluster.client();
    const entries = Array.from({ length: 30 }, (_, i) => ({ key: `b${i}`, value: `v${i}` }));
    const outcomes = await client.putMany(entries);
    let viaFallback = 0;
    for (const [i, outcome] of outcomes.entries()) {
      const owners = placeReplicas(ring, utf8.encode(entries[i]!.key), cluster.config.replication.dcs).replicas;
      if (!outcome.ok) {
        // w=3 with an owner gone: only an Indeterminate failure is honest (the write is stored on the others).
        expect(outcome.error, `write ${i}`).to.be.instanceOf(IndeterminateError);
        continue;
      }
      const acks = outcome.result.receipt.acks;
      expect(acks.filter((a) => a.counted).length, `write ${i}: w=3 counted acks`).to.be.at.least(3);
      if (owners.includes(victim.member)) {
        expect(acks.some((a) => a.standingInFor === victim.label), `write ${i}: a fallback stood in for ${victim.label}`).to.equal(true);
        viaFallback++;
      } else {
        expect(acks.every((a) => a.standingInFor === null), `write ${i}: owners only`).to.equal(true);
      }
    }
    expect(viaFallback, 'some writes needed the crashed owner').to.be.greaterThan(0);
    expect(await coordinatorTotal(cluster, 'batched_together'), 'the batch went together').to.be.greaterThan(0);
    for (const [i, entry] of entries.entries()) {
      if (!outcomes[i]!.ok) continue;
      expect(text((await client.get(entry.key, { r: 2 })).values), `read ${entry.key}`).to.deep.equal([entry.value]);
    }
    cluster.dispose();
  });

  it(`a get-batch answers each read at R while an owner is silent, fails a bad key alone, and repairs a stale owner (SEED=${SEED})`, async () => {
    const cluster = new SimCluster({ seed: SEED, nodes: 5, replication: { n: 3, w: 2, r: 2 } });
    await cluster.world.runFor(3000);
    const ring = Ring.fromTokens(cluster.config.ring);
    const client = cluster.client();
    const keys = Array.from({ length: 24 }, (_, i) => `g${i}`);
    const written = await client.putMany(keys.map((key) => ({ key, value: `v-${key}` })));
    expect(written.every((o) => o.ok)).to.equal(true);
    // A stale owner: one key's third owner is given nothing of a newer write (the merge never reaches it).
    const stale = keys[0]!;
    const owners = placeReplicas(ring, utf8.encode(stale), cluster.config.replication.dcs).replicas;
    const lagging = cluster.config.nodes.find((n) => n.member === owners[2])!.label;
    cluster.partition([[lagging], cluster.config.nodes.filter((n) => n.label !== lagging).map((n) => n.label)]);
    expect((await client.put(stale, 'newer', { overwrite: true })).receipt.acks.length).to.be.at.least(2);
    cluster.heal();
    const repairsBefore = await coordinatorTotal(cluster, 'read_repairs');
    const victim = cluster.config.nodes.find((n) => n.label !== lagging && !owners.includes(n.member)) ?? cluster.config.nodes[4]!;
    cluster.crash(victim.label); // coordinators do not hold it down yet: its get-batch asks go unanswered
    const outcomes = await client.getMany([...keys.map((key) => ({ key, options: { r: 2 } })), { key: '' }]);
    expect(outcomes).to.have.length(keys.length + 1);
    const bad = outcomes[keys.length]!;
    expect(!bad.ok && bad.error.name, 'an empty key fails alone').to.equal('InvalidRequestError');
    for (const [i, key] of keys.entries()) {
      const outcome = outcomes[i]!;
      expect(outcome.ok, `read of ${key}`).to.equal(true);
      expect(outcome.ok && text(outcome.result.values), `read of ${key}`).to.deep.equal([key === stale ? 'newer' : `v-${key}`]);
      expect(outcome.ok && outcome.result.receipt.acks.length, `read of ${key}: r=2`).to.be.at.least(2);
    }
    await cluster.world.runFor(5000); // the silent owner's asks end; every key's read repair runs
    expect(await coordinatorTotal(cluster, 'read_repairs'), 'the stale owner was repaired').to.be.greaterThan(repairsBefore);
    const held = await cluster.askNode<{ value: Uint8Array | null }[]>(lagging, 'replica', { type: 'get', key: utf8.encode(stale) });
    expect(text(held.map((v) => v.value!))).to.deep.equal(['newer']);
    cluster.dispose();
  });
});
