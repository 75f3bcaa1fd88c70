/**
 * Tombstone purges in the simulator (issue 12, after Riak's delete mode): a
 * tombstone is purged only once every owner of its key is known to hold it,
 * never on a timer alone. Real actors on simulated disks, a short grace (and
 * hint TTL, which may not exceed it) so that virtual time passes it, and
 * compactions forced by flushing each owner into COMPACTION_MIN_THRESHOLD
 * small tables (size-tiered compaction then merges all of a node's tables, so
 * no other table guards the key). Each case names its seed; replay one with
 * SEED=<n>.
 */
import { expect } from 'chai';
import { InvalidRequestError } from '../../src/core/errors.js';
import { __plantBugForTests } from '../../src/core/planted_bugs.js';
import { seedFrom } from '../../src/core/prng.js';
import { SimCluster } from '../../src/simulation/sim_cluster.js';
import { compactAll, held, ownersOf } from './tombstone_helpers.js';
import { memberOf } from '../../src/cluster/cluster_config.js';
import type { HintsPending } from '../../actors/handoff.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const text = (values: readonly Uint8Array[]): string[] => values.map((v) => Buffer.from(v).toString()).sort();

/** Tombstone grace and hint TTL of these clusters (virtual ms). */
const GRACE_MS = 20_000;
const KEY = 'doomed';

/** A cluster of 5 nodes, N=3, with the short grace and hint TTL. */
async function startCluster(): Promise<SimCluster> {
  const cluster = new SimCluster({
    seed: SEED,
    nodes: 5,
    replication: { n: 3, w: 2, r: 2 },
    memtableFlushBytes: 4096,
    tombstoneGraceMs: GRACE_MS,
    hintTtlMs: GRACE_MS,
  });
  await cluster.world.runFor(2000);
  return cluster;
}

/** Write 'old' to KEY on all owners, then delete it while `down` is crashed; returns the owners. */
async function deleteWhileDown(cluster: SimCluster, pickDown: (owners: string[]) => string): Promise<{ owners: string[]; down: string; live: string[] }> {
  const owners = ownersOf(cluster, KEY);
  const down = pickDown(owners);
  const live = owners.filter((o) => o !== down);
  const client = cluster.client();
  await client.put(KEY, 'old');
  const read = await client.get(KEY, { r: 3 });
  expect(text(read.values)).to.deep.equal(['old']);
  for (const owner of owners) await cluster.askNode(owner, 'replica', { type: 'flush' });
  cluster.crash(down);
  await cluster.world.runFor(3000);
  await client.delete(KEY, { context: read.context });
  await cluster.world.runFor(1000);
  let hints = 0;
  for (const node of cluster.config.nodes) {
    if (node.label === down) continue;
    hints += (await cluster.askNode<HintsPending>(node.label, 'handoff', { type: 'hints-pending' })).byOwner[memberOf(cluster.config, down).member] ?? 0;
  }
  expect(hints, 'a fallback holds a hint of the delete for the crashed owner').to.equal(1);
  return { owners, down, live };
}

/**
 * An owner is down through a delete and longer than the hint TTL (its hint
 * expires: a lost hint), while the others compact past the grace. Then it
 * returns, holding the old value, and is read. Returns what the client reads
 * and what the live owners held before it returned.
 */
async function ownerMissesDelete(cluster: SimCluster): Promise<{ liveHeld: string[][]; readBack: string[]; owners: string[] }> {
  const { owners, down, live } = await deleteWhileDown(cluster, (o) => o[2]!);
  await cluster.world.runFor(GRACE_MS + 5000);
  for (const owner of live) expect(await compactAll(cluster, owner), `${owner} compacted`).to.be.greaterThan(0);
  const liveHeld = await Promise.all(live.map((owner) => held(cluster, owner, KEY)));
  cluster.restart(down);
  await cluster.world.runFor(8000);
  const readBack = text((await cluster.client().get(KEY, { r: 3 })).values);
  return { liveHeld, readBack, owners };
}

describe('tombstone purge in the simulator (issue 12)', function () {
  this.timeout(120_000);

  afterEach(() => __plantBugForTests(null));

  it('refuses a tombstone grace shorter than the hint TTL (a late hint could undo a purge)', () => {
    const options = { seed: SEED, nodes: 3, replication: { n: 3, w: 2, r: 2 } };
    expect(() => new SimCluster({ ...options, tombstoneGraceMs: GRACE_MS, hintTtlMs: GRACE_MS + 1 })).to.throw(InvalidRequestError, /hint TTL/);
    expect(() => new SimCluster({ ...options, tombstoneGraceMs: GRACE_MS - 1 })).to.throw(InvalidRequestError, /hint TTL/);
  });

  it(`a delete all owners stored is confirmed at once, and purged after the grace (SEED=${SEED})`, async () => {
    const cluster = await startCluster();
    const owners = ownersOf(cluster, KEY);
    const client = cluster.client();
    await client.put(KEY, 'old');
    await client.delete(KEY, { context: (await client.get(KEY, { r: 3 })).context });
    await cluster.world.runFor(1000);
    for (const owner of owners) expect(await held(cluster, owner, KEY), owner).to.deep.equal(['∅ purgeable']);
    await cluster.world.runFor(GRACE_MS);
    for (const owner of owners) await compactAll(cluster, owner);
    for (const owner of owners) expect(await held(cluster, owner, KEY), `${owner} purged it`).to.deep.equal([]);
    expect((await client.get(KEY, { r: 3 })).values).to.deep.equal([]);
  });

  it(`an owner down through a delete gets it by hint; a read confirms it; then it is purged everywhere (SEED=${SEED})`, async () => {
    const cluster = await startCluster();
    const { owners, down, live } = await deleteWhileDown(cluster, (o) => o[1]!);
    for (const owner of live) await compactAll(cluster, owner);
    for (const owner of live) expect(await held(cluster, owner, KEY), `${owner}: not every owner holds it yet`).to.deep.equal(['∅']);
    cluster.restart(down);
    await cluster.world.runFor(10_000); // seen alive again; the hint replays
    expect(await held(cluster, down, KEY), `${down} got the tombstone from its hint`).to.deep.equal(['∅']);
    const client = cluster.client();
    expect((await client.get(KEY, { r: 3 })).values).to.deep.equal([]);
    await cluster.world.runFor(1000);
    for (const owner of owners) {
      expect(await held(cluster, owner, KEY), `${owner} after a read saw all owners hold it`).to.deep.equal(['∅ purgeable']);
      const stats = await cluster.askNode<{ tombstones_confirmed: number }>(owner, 'replica', { type: 'stats' });
      expect(stats.tombstones_confirmed, owner).to.be.at.least(1);
    }
    await cluster.world.runFor(GRACE_MS);
    for (const owner of owners) await compactAll(cluster, owner);
    for (const owner of owners) expect(await held(cluster, owner, KEY), `${owner} purged it`).to.deep.equal([]);
    await cluster.world.runFor(5000);
    expect((await client.get(KEY, { r: 3 })).values, 'the key stays deleted').to.deep.equal([]);
  });

  it(`an owner that missed a delete (hint expired) cannot bring the value back; the timer-only rule lets it (SEED=${SEED})`, async () => {
    // Fixed: the live owners keep the unconfirmed tombstone past the grace; the returning owner is repaired.
    const fixed = await startCluster();
    const outcome = await ownerMissesDelete(fixed);
    expect(outcome.liveHeld, 'the live owners kept the unconfirmed tombstone').to.deep.equal([['∅'], ['∅']]);
    expect(outcome.readBack, 'no resurrection').to.deep.equal([]);
    const client = fixed.client();
    await fixed.world.runFor(2000); // read repair reaches the returning owner
    expect((await client.get(KEY, { r: 3 })).values).to.deep.equal([]); // every owner holds it now: confirmed
    await fixed.world.runFor(1000);
    for (const owner of outcome.owners) expect(await held(fixed, owner, KEY), owner).to.deep.equal(['∅ purgeable']);
    for (const owner of outcome.owners) await compactAll(fixed, owner);
    for (const owner of outcome.owners) expect(await held(fixed, owner, KEY), `${owner} purged it, old value included`).to.deep.equal([]);
    await fixed.world.runFor(5000);
    expect((await client.get(KEY, { r: 3 })).values, 'the key stays deleted').to.deep.equal([]);

    // Planted: the live owners purge on the timer; the returning owner's old value comes back.
    __plantBugForTests('timer-only-purge');
    const planted = await ownerMissesDelete(await startCluster());
    expect(planted.liveHeld, 'the live owners purged the tombstone').to.deep.equal([[], []]);
    expect(planted.readBack, 'the deleted value is back').to.deep.equal(['old']);
  });
});
