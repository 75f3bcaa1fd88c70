/**
 * Active anti-entropy in the simulator (issue 15): real actors on simulated
 * disks, exchanges every half second of virtual time. What read repair and
 * hinted handoff cannot fix without a read (a replica that lost its disk, a
 * delete whose hint expired, a table lost to bit rot) is found by comparing
 * hash trees and fetched from the peers. Each case names its seed; replay
 * one with SEED=<n>.
 */
import { expect } from 'chai';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { memberOf } from '../../src/cluster/cluster_config.js';
import { SCAN_PAGE_MAX_ENTRIES } from '../../src/core/limits.js';
import { SimCluster } from '../../src/simulation/sim_cluster.js';
import type { AntiEntropyStats, RepairProgress } from '../../actors/anti_entropy.js';
import type { Version } from '../../storage/version.js';
import { compactAll, held, ownersOf } from '../cluster/tombstone_helpers.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const utf8 = new TextEncoder();
const AE = 'anti-entropy';

/** Exchanges start every this many virtual ms. */
const INTERVAL_MS = 500;

function startCluster(options: { nodes?: number; hintTtlMs?: number; seed?: number } = {}): SimCluster {
  return new SimCluster({
    seed: options.seed ?? SEED,
    nodes: options.nodes ?? 3,
    replication: { n: 3, w: 2, r: 2 },
    memtableFlushBytes: 8192,
    antiEntropy: { intervalMs: INTERVAL_MS },
    ...(options.hintTtlMs !== undefined ? { hintTtlMs: options.hintTtlMs, tombstoneGraceMs: 600_000 } : {}),
  });
}

/** What `label` holds for `key`, as comparable text (clock hex and value per version, sorted). */
async function holding(cluster: SimCluster, label: string, key: string): Promise<string[]> {
  const versions = await cluster.askNode<Version[]>(label, 'replica', { type: 'get', key: utf8.encode(key) });
  return versions.map((v) => `${Buffer.from(v.clock).toString('hex')}=${v.value === null ? '∅' : Buffer.from(v.value).toString()}`).sort();
}

async function aeStats(cluster: SimCluster, label: string): Promise<AntiEntropyStats> {
  return cluster.askNode<AntiEntropyStats>(label, AE, { type: 'stats' });
}

/** A repair pass on `labels`, run until none has a pair left. */
async function repair(cluster: SimCluster, labels: string[]): Promise<void> {
  for (const label of labels) await cluster.askNode(label, AE, { type: 'ae-repair' });
  for (let i = 0; i < 100; i++) {
    await cluster.world.runFor(250);
    let running = false;
    for (const label of labels) running ||= (await cluster.askNode<RepairProgress>(label, AE, { type: 'ae-progress' })).running;
    if (!running) return;
  }
  throw new Error('the repair pass did not finish');
}

describe(`anti-entropy in the simulator (SEED=${SEED})`, function () {
  this.timeout(120_000);

  it('refills a replica that came back with an empty disk, without a single read', async () => {
    const cluster = startCluster();
    await cluster.world.runFor(2000);
    const client = cluster.client();
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
    for (const key of keys) await client.put(key, `v-${key}`, { w: 3 });
    await cluster.world.runFor(3000);
    const before = await aeStats(cluster, 'n1');
    expect(before.trees_ready, 'trees built').to.equal(true);
    expect(before.tree_keys, 'the tree of n1 covers every key').to.equal(keys.length);

    cluster.crash('n3', { loseDisk: true });
    cluster.restart('n3');
    expect(await holding(cluster, 'n3', keys[0]!), 'n3 came back empty').to.deep.equal([]);
    await cluster.world.runFor(20_000);
    for (const key of keys) expect(await holding(cluster, 'n3', key), `n3 holds ${key} as n1 does`).to.deep.equal(await holding(cluster, 'n1', key));
    const after = await aeStats(cluster, 'n3');
    expect(after.keys_repaired, 'n3 fetched what it lacked').to.be.at.least(keys.length);
    expect(after.tree_keys).to.equal(keys.length);
    expect(after.groups_out_of_sync, 'every pair of n3 found its peer in sync since').to.equal(0);
    cluster.dispose();
  });

  it('carries a delete whose hint expired to the replica that missed it, then confirms it; the key never comes back', async () => {
    const cluster = startCluster({ hintTtlMs: 2000 });
    await cluster.world.runFor(2000);
    const client = cluster.client();
    await client.put('doomed', 'old', { w: 3 });
    const read = await client.get('doomed', { r: 3 });
    const owners = ownersOf(cluster, 'doomed');
    const missed = owners[2]!;
    cluster.partition([[missed], owners.filter((o) => o !== missed)]);
    await cluster.world.runFor(3000);
    await client.delete('doomed', { context: read.context });
    // The hint for the missed owner expires before the partition heals: only anti-entropy can carry the delete now.
    await cluster.world.runFor(6000);
    expect(await held(cluster, missed, 'doomed')).to.deep.equal(['old']);
    cluster.heal();
    await cluster.world.runFor(20_000);
    // Carried by an exchange with no read after it, the delete is confirmed all the same: every owner holds it durably.
    for (const owner of owners) expect(await held(cluster, owner, 'doomed'), owner).to.deep.equal(['∅ purgeable']);
    const got = await client.get('doomed', { r: 3 });
    expect(got.values, 'the deleted key stays deleted').to.deep.equal([]);
    let repaired = 0;
    for (const owner of owners) repaired += (await aeStats(cluster, owner)).keys_repaired;
    expect(repaired, 'the tombstone travelled by anti-entropy').to.be.at.least(1);
    cluster.dispose();
  });

  it('keeps every tree exact through rebuilds racing writes: once replicas hold the same data, every exchange finds them in sync', async () => {
    const cluster = startCluster();
    await cluster.world.runFor(2000);
    const client = cluster.client();
    const prng = new Prng(SEED);
    // More keys than one scan page (SCAN_PAGE_MAX_ENTRIES), so a rebuild reads several pages with writes between them.
    const KEYS = 2 * SCAN_PAGE_MAX_ENTRIES + 500;
    for (let at = 0; at < KEYS; at += 250) {
      await client.putMany(Array.from({ length: 250 }, (_, i) => ({ key: `k${at + i}`, value: 'first', w: 3 })));
    }
    const writes: Promise<unknown>[] = [];
    // Writes land (w = all) while n1 rebuilds its trees again and again, all in flight as its scan pages are read.
    for (let round = 0; round < 12; round++) {
      cluster.world.send({ thread: memberOf(cluster.config, 'n1').thread, id: AE }, { type: 'ae-damaged' });
      for (let i = 0; i < 40; i++) {
        const key = `k${prng.int(KEYS)}`;
        writes.push(prng.chance(0.2) ? client.startDelete(key, { w: 3 }).catch(() => undefined) : client.startPut(key, `v${round}-${i}`, { w: 3 }).catch(() => undefined));
      }
      await cluster.world.runFor(prng.range(1, 20));
    }
    await cluster.settle(Promise.all(writes), { what: 'the writes' });
    await repair(cluster, ['n1', 'n2', 'n3']);
    const before = await Promise.all(['n1', 'n2', 'n3'].map((n) => aeStats(cluster, n)));
    await repair(cluster, ['n1', 'n2', 'n3']);
    const after = await Promise.all(['n1', 'n2', 'n3'].map((n) => aeStats(cluster, n)));
    for (let i = 0; i < 3; i++) {
      expect(after[i]!.exchanges['in-sync'], `n${i + 1} exchanged again`).to.be.above(before[i]!.exchanges['in-sync']);
      expect(after[i]!.exchanges.diverged + after[i]!.exchanges['full-sync'], `n${i + 1}: a tree that drifted from its data shows as a difference no fetch removes`).to.equal(
        before[i]!.exchanges.diverged + before[i]!.exchanges['full-sync'],
      );
    }
    cluster.dispose();
  });

  it('heals trees a compaction left stale (a confirmed tombstone purged, owners at different times, one tree rebuilt): exchanges end in sync', async () => {
    const cluster = new SimCluster({
      seed: SEED,
      nodes: 3,
      replication: { n: 3, w: 2, r: 2 },
      memtableFlushBytes: 4096,
      antiEntropy: { intervalMs: INTERVAL_MS },
      hintTtlMs: 2000,
      tombstoneGraceMs: 2000,
    });
    await cluster.world.runFor(2000);
    const client = cluster.client();
    await client.put('gone', 'v', { w: 3 });
    const read = await client.get('gone', { r: 3 });
    await client.delete('gone', { context: read.context, w: 3 });
    await cluster.world.runFor(3000);
    for (const n of ['n1', 'n2', 'n3']) expect(await held(cluster, n, 'gone'), n).to.deep.equal(['∅ purgeable']);
    // Past the grace, n1 alone compacts: its store drops the tombstone, its tree does not hear of it.
    await compactAll(cluster, 'n1');
    await cluster.world.runFor(15_000);
    await compactAll(cluster, 'n2');
    await compactAll(cluster, 'n3');
    await cluster.world.runFor(5_000);
    // Now every tree still counts the purged tombstone; n1 rebuilds from its store, which no longer has it. Its tree
    // and its peers' differ with nothing to fetch, until the drifted trees are rebuilt too.
    cluster.world.send({ thread: memberOf(cluster.config, 'n1').thread, id: AE }, { type: 'ae-damaged' });
    await cluster.world.runFor(20_000);
    await repair(cluster, ['n1', 'n2', 'n3']);
    const before = await Promise.all(['n1', 'n2', 'n3'].map((n) => aeStats(cluster, n)));
    await repair(cluster, ['n1', 'n2', 'n3']);
    const after = await Promise.all(['n1', 'n2', 'n3'].map((n) => aeStats(cluster, n)));
    for (let i = 0; i < 3; i++) {
      expect(after[i]!.exchanges.diverged + after[i]!.exchanges['full-sync'], `n${i + 1}: trees agree with the stores again`).to.equal(before[i]!.exchanges.diverged + before[i]!.exchanges['full-sync']);
    }
    expect((await client.get('gone', { r: 3 })).values).to.deep.equal([]);
    cluster.dispose();
  });

  it('runs a repair pass over every (group, peer) pair on demand and reports its progress', async () => {
    const cluster = startCluster({ nodes: 5 });
    await cluster.world.runFor(2000);
    const client = cluster.client();
    for (let i = 0; i < 30; i++) await client.put(`r${i}`, 'x');
    await cluster.world.runFor(1000);
    const started = await cluster.askNode<RepairProgress>('n2', AE, { type: 'ae-repair' });
    expect(started.running).to.equal(true);
    expect(started.pass).to.equal(1);
    // 5 nodes, N = 3: n2 is in 6 of the 10 groups, each with 2 peers.
    expect(started.pairsTotal).to.equal(12);
    let progress = started;
    for (let i = 0; i < 40 && progress.running; i++) {
      await cluster.world.runFor(500);
      progress = await cluster.askNode<RepairProgress>('n2', AE, { type: 'ae-progress' });
    }
    expect(progress.running, `pairs left: ${progress.pending.join(' ')}`).to.equal(false);
    expect(progress.pairsDone).to.equal(12);
    cluster.dispose();
  });
});
