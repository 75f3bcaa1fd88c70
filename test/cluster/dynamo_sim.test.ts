/**
 * The Dynamo core end to end in the deterministic simulator: every node's
 * real actors (replica, compaction, gossip, failure detector, handoff,
 * coordinator) on simulated disks, driven through the same client as
 * `openCluster`. Each case names its seed; replay one with SEED=<n>.
 */
import { expect } from 'chai';
import { InvalidRequestError, TimeoutError, UnavailableError } from '../../src/core/errors.js';
import { placeReplicas } from '../../src/core/placement.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { Ring } from '../../src/core/ring.js';
import { SimCluster } from '../../src/simulation/sim_cluster.js';
import type { Version } from '../../storage/version.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const utf8 = new TextEncoder();
const text = (values: readonly Uint8Array[]): string[] => values.map((v) => Buffer.from(v).toString()).sort();

/** Keys (k0, k1, ...) whose N owners include member `member` (or exclude it, with `include` false). */
function keysOwnedBy(cluster: SimCluster, member: string, count: number, include = true): string[] {
  const ring = Ring.fromTokens(cluster.config.ring);
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const owners = placeReplicas(ring, utf8.encode(`k${i}`), cluster.config.replication.dcs).replicas;
    if (owners.includes(member) === include) keys.push(`k${i}`);
  }
  return keys;
}

/** The versions node `label`'s replica holds for `key`. */
function held(cluster: SimCluster, label: string, key: string): Promise<Version[]> {
  return cluster.askNode<Version[]>(label, 'replica', { type: 'get', key: utf8.encode(key) });
}

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the request to fail');
}

describe('Dynamo core in the simulator', function () {
  this.timeout(120_000);

  it(`W+R>N: every acknowledged write is read back, under message loss, duplication and reordering (SEED=${SEED})`, async () => {
    const cluster = new SimCluster({ seed: SEED, nodes: 5, replication: { n: 3, w: 2, r: 2 } });
    await cluster.world.runFor(2000);
    cluster.world.configureFaults({ drop_probability: 0.02, duplicate_probability: 0.05, reorder_probability: 0.1 });
    const prng = new Prng(SEED);
    const client = cluster.client();
    const latest = new Map<string, { value: string; context: string }>();
    let acked = 0;
    for (let i = 0; i < 150; i++) {
      const key = `key-${prng.int(30)}`;
      const value = `v${i}`;
      try {
        const before = latest.get(key);
        const write = await client.put(key, value, before ? { context: before.context } : {});
        acked++;
        latest.set(key, { value, context: write.context });
        const read = await client.get(key);
        // The put's context covered everything before it, so the read shows exactly it (or a concurrent sibling, impossible here: one client).
        expect(text(read.values), `read of ${key} after put ${value}`).to.deep.equal([value]);
        latest.set(key, { value, context: read.context });
      } catch (err) {
        // A lost message may fail a request; what matters is that an acknowledged write is never lost.
        expect(err).to.satisfy((e: unknown) => e instanceof TimeoutError || e instanceof UnavailableError, String(err));
        latest.delete(key);
      }
    }
    expect(acked).to.be.greaterThan(100);
  });

  it(`concurrent writes become siblings; a write with the read's context resolves them (SEED=${SEED})`, async () => {
    const cluster = new SimCluster({ seed: SEED, nodes: 4 });
    await cluster.world.runFor(1500);
    const [a, b, c] = [cluster.client('a'), cluster.client('b'), cluster.client('c')];
    await a.put('cart', 'base');
    const base = await a.get('cart');
    // Two clients write from the same context at once: neither saw the other.
    const [x, y] = await Promise.all([cluster.settle(a.startPut('cart', 'add-milk', { context: base.context })), cluster.settle(b.startPut('cart', 'add-eggs', { context: base.context }))]);
    expect(x.receipt.version).to.not.equal(y.receipt.version);
    // A write without any context never destroys what is there.
    await c.put('cart', 'blind');
    const read = await a.get('cart', { r: 3 });
    expect(text(read.values)).to.deep.equal(['add-eggs', 'add-milk', 'blind']);
    expect(read.versions).to.have.length(3);
    const merged = await a.put('cart', 'milk+eggs+blind', { context: read.context });
    expect(merged.receipt.acks.length).to.be.at.least(2);
    const after = await b.get('cart', { r: 3 });
    expect(text(after.values)).to.deep.equal(['milk+eggs+blind']);
    // Delete with the context: a tombstone; the key reads as absent but keeps a context.
    await b.delete('cart', { context: after.context });
    const gone = await c.get('cart', { r: 3 });
    expect(gone.values).to.deep.equal([]);
    expect(gone.context).to.not.equal('');
    await c.put('cart', 'fresh', { context: gone.context });
    expect(text((await a.get('cart')).values)).to.deep.equal(['fresh']);
  });

  it(`an overwrite supersedes what its minting owner holds, and a write that owner never saw stays a sibling (SEED=${SEED})`, async () => {
    const cluster = new SimCluster({ seed: SEED, nodes: 5, replication: { n: 3, w: 2, r: 2 } });
    await cluster.world.runFor(2000);
    const [a, b] = [cluster.client('a'), cluster.client('b')];
    await a.put('seen', 'one');
    await b.put('seen', 'two');
    expect(text((await a.get('seen', { r: 3 })).values), 'blind writes are siblings').to.deep.equal(['one', 'two']);
    const over = await a.put('seen', 'three', { overwrite: true });
    expect(over.receipt.acks.length).to.be.at.least(2);
    expect(text((await b.get('seen', { r: 3 })).values), 'the overwrite superseded both').to.deep.equal(['three']);

    // The first owner misses a strict write (no hint for it), comes back, and mints an overwrite without having seen it.
    const [key] = keysOwnedBy(cluster, 'n1', 1);
    const ring = Ring.fromTokens(cluster.config.ring);
    const first = placeReplicas(ring, utf8.encode(key!), cluster.config.replication.dcs).replicas[0]!;
    const firstLabel = cluster.config.nodes.find((n) => n.member === first)!.label;
    cluster.crash(firstLabel);
    await cluster.world.runFor(8000);
    await b.put(key!, 'unseen', { strict: true });
    cluster.restart(firstLabel);
    await cluster.world.runFor(500);
    expect(await held(cluster, firstLabel, key!), 'the first owner missed the strict write').to.have.length(0);
    const blindOver = await a.put(key!, 'over', { overwrite: true });
    expect(blindOver.receipt.coordinator).to.equal(firstLabel);
    expect(text((await a.get(key!, { r: 3 })).values), 'never destroyed what the owner had not seen').to.deep.equal(['over', 'unseen']);
  });

  it(`putMany sends one batch per coordinator and answers each write on its own (SEED=${SEED})`, async () => {
    const cluster = new SimCluster({ seed: SEED, nodes: 5, replication: { n: 3, w: 2, r: 2 } });
    await cluster.world.runFor(2000);
    const client = cluster.client();
    const entries = Array.from({ length: 40 }, (_, i) => ({ key: `batch-${i}`, value: `value-${i}` }));
    const outcomes = await client.putMany([...entries.slice(0, 20), { key: '', value: 'bad key' }, ...entries.slice(20)]);
    expect(outcomes).to.have.length(41);
    const bad = outcomes[20]!;
    expect(bad.ok).to.equal(false);
    expect(!bad.ok && bad.error).to.be.instanceOf(InvalidRequestError);
    const good = outcomes.filter((o) => o.ok);
    expect(good).to.have.length(40);
    for (const o of good) expect(o.ok && o.result.receipt.acks.length, 'each write has its own receipt').to.be.at.least(2);
    let batches = 0;
    let batched = 0;
    for (const node of cluster.config.nodes) {
      const stats = await cluster.askNode<{ batches: number; batched_writes: number }>(node.label, 'coordinator', { type: 'stats' });
      batches += stats.batches;
      batched += stats.batched_writes;
    }
    expect(batched).to.equal(40);
    expect(batches, 'one batch per coordinator, not one per write').to.be.at.most(5);
    for (const [i, entry] of entries.entries()) {
      if (i % 7 !== 0) continue;
      expect(text((await client.get(entry.key)).values)).to.deep.equal([entry.value]);
    }
  });

  it(`a node down during writes gets every hinted write after it recovers (SEED=${SEED})`, async () => {
    const cluster = new SimCluster({ seed: SEED, nodes: 5, replication: { n: 3, w: 2, r: 2 } });
    await cluster.world.runFor(2000);
    const keys = keysOwnedBy(cluster, 'n2', 40);
    cluster.crash('n2');
    await cluster.world.runFor(8000); // the failure detectors hold n2 down
    const client = cluster.client();
    const versions = new Map<string, string>();
    let standIns = 0;
    for (const key of keys) {
      const w = await client.put(key, `hinted-${key}`);
      versions.set(key, w.receipt.version!);
      standIns += w.receipt.acks.filter((ack) => ack.standingInFor === 'n2').length;
      expect(w.receipt.acks.some((ack) => ack.node === 'n2')).to.equal(false);
    }
    expect(standIns, 'fallbacks stood in for n2').to.be.greaterThan(0);
    const pending = await cluster.askNode<{ total: number }>('n1', 'handoff', { type: 'hints-pending' });
    cluster.restart('n2');
    await cluster.world.runFor(15_000); // n2 is seen alive again; hints replay
    for (const key of keys) {
      const mine = (await held(cluster, 'n2', key)).map((v) => Buffer.from(v.value ?? []).toString());
      expect(mine, `n2 holds ${key} (${versions.get(key)})`).to.include(`hinted-${key}`);
    }
    let left = 0;
    for (const node of cluster.config.nodes) left += (await cluster.askNode<{ total: number }>(node.label, 'handoff', { type: 'hints-pending' })).total;
    expect(left, `hints left after replay (n1 had ${pending.total})`).to.equal(0);
  });

  it(`read repair brings a stale replica up to date (SEED=${SEED})`, async () => {
    const cluster = new SimCluster({ seed: SEED, nodes: 3, replication: { n: 3, w: 2, r: 2, strict: true } });
    await cluster.world.runFor(2000);
    const [key] = keysOwnedBy(cluster, 'n3', 1);
    const client = cluster.client();
    cluster.crash('n3');
    await cluster.world.runFor(8000);
    await client.put(key!, 'while-n3-was-down');
    cluster.restart('n3');
    await cluster.world.runFor(8000);
    expect(await held(cluster, 'n3', key!), 'strict mode left no hint: n3 is stale').to.have.length(0);
    const read = await client.get(key!, { r: 3 });
    expect(text(read.values)).to.deep.equal(['while-n3-was-down']);
    await cluster.world.runFor(2000);
    const repaired = await held(cluster, 'n3', key!);
    expect(repaired.map((v) => Buffer.from(v.value ?? []).toString())).to.deep.equal(['while-n3-was-down']);
    const stats = await cluster.askNode<{ read_repairs: number }>(read.receipt.coordinator, 'coordinator', { type: 'stats' });
    expect(stats.read_repairs).to.be.greaterThan(0);
  });

  it(`with a whole data center partitioned away, local_quorum keeps serving and each_quorum fails (SEED=${SEED})`, async () => {
    const nodes = [1, 2, 3, 4, 5, 6].map((i) => ({ id: `n${i}`, dc: i <= 3 ? 'east' : 'west' }));
    const cluster = new SimCluster({ seed: SEED, nodes, replication: { dcs: { east: 2, west: 2 }, w: 'quorum', r: 'quorum' } });
    await cluster.world.runFor(2000);
    const client = cluster.client();
    await client.put('before', 'x', { consistency: 'each_quorum' });
    cluster.partition([['n1', 'n2', 'n3'], ['n4', 'n5', 'n6']]);
    await cluster.world.runFor(8000);
    for (let i = 0; i < 10; i++) {
      const w = await client.put(`split-${i}`, `during-${i}`, { consistency: 'local_quorum' });
      const dc = nodes.find((n) => n.id === w.receipt.coordinator)!.dc;
      expect(w.receipt.acks.filter((a) => a.dc === dc && a.counted).length).to.be.at.least(2);
      const r = await client.get(`split-${i}`, { consistency: 'local_quorum' });
      expect(text(r.values)).to.deep.equal([`during-${i}`]);
    }
    const err = await rejects(client.put('split-x', 'y', { consistency: 'each_quorum' }));
    expect(err, String(err)).to.satisfy((e: unknown) => e instanceof UnavailableError || e instanceof TimeoutError);
    cluster.heal();
  });

  it(`strict quorum refuses fallbacks and fails cleanly (SEED=${SEED})`, async () => {
    const cluster = new SimCluster({ seed: SEED, nodes: 5, replication: { n: 3, w: 2, r: 2, strict: true } });
    await cluster.world.runFor(2000);
    const ring = Ring.fromTokens(cluster.config.ring);
    const key = 'strict-key';
    const owners = placeReplicas(ring, utf8.encode(key), cluster.config.replication.dcs).replicas;
    cluster.crash(owners[1]!);
    cluster.crash(owners[2]!);
    await cluster.world.runFor(8000);
    const client = cluster.client();
    const err = await rejects(client.put(key, 'v'));
    expect(err).to.be.instanceOf(UnavailableError);
    expect(String(err)).to.match(/1 of 3 replicas reachable, w=2 needed; strict quorum/);
    // The same write without strict mode is taken by fallbacks.
    const sloppy = await client.put(key, 'v', { strict: false });
    expect(sloppy.receipt.acks.filter((a) => a.standingInFor !== null).length).to.be.at.least(1);
    const badLevel = await rejects(client.get(key, { r: 4 }));
    expect(badLevel).to.be.instanceOf(InvalidRequestError);
  });

  it(`a node that lost its disk comes back under a new identity, so its new writes are never taken for old ones (SEED=${SEED})`, async () => {
    const cluster = new SimCluster({ seed: SEED, nodes: 3, replication: { n: 3, w: 3, r: 3 } });
    await cluster.world.runFor(2000);
    const ring = Ring.fromTokens(cluster.config.ring);
    let key = '';
    for (let i = 0; key === ''; i++) if (placeReplicas(ring, utf8.encode(`id-${i}`), { dc1: 3 }).replicas[0] === 'n2') key = `id-${i}`;
    const client = cluster.client();
    let context = '';
    for (let i = 0; i < 5; i++) context = (await client.put(key, `old-${i}`, { context })).context;
    const before = await client.get(key);
    expect(before.versions[0]).to.match(/^n2#epoch\d+:5$/);
    cluster.crash('n2', { loseDisk: true });
    cluster.restart('n2');
    await cluster.world.runFor(3000);
    // A blind write minted by n2 again: under its old identity its dot (n2, 1) would be covered by the
    // stored version's past and silently dropped on n1 and n3.
    const blind = await client.put(key, 'after-disk-loss', { w: 2 });
    expect(blind.receipt.coordinator).to.equal('n2');
    expect(blind.receipt.version!.split(':')[0]).to.not.equal(before.versions[0]!.split(':')[0]);
    const after = await client.get(key, { r: 3 });
    expect(text(after.values)).to.deep.equal(['after-disk-loss', 'old-4']);
    for (const label of ['n1', 'n3']) {
      const values = (await held(cluster, label, key)).map((v) => Buffer.from(v.value ?? []).toString()).sort();
      expect(values, `${label} keeps both`).to.deep.equal(['after-disk-loss', 'old-4']);
    }
  });

  it(`the same seed gives the same trace (SEED=${SEED})`, async () => {
    const run = async (): Promise<string> => {
      const cluster = new SimCluster({ seed: SEED, nodes: 4, faults: { drop_probability: 0.01, duplicate_probability: 0.02 } });
      await cluster.world.runFor(1000);
      const client = cluster.client();
      for (let i = 0; i < 20; i++) await client.put(`k${i % 5}`, `v${i}`).catch(() => undefined);
      cluster.crash('n3');
      for (let i = 0; i < 10; i++) await client.get(`k${i % 5}`).catch(() => undefined);
      return cluster.world.traceHash();
    };
    expect(await run()).to.equal(await run());
  });
});
