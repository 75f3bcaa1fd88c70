/**
 * Membership changes of an embedded cluster on real worker threads (issue
 * 16): a node joins and one is decommissioned while a writer keeps writing,
 * a dead one is replaced; the data directory records the new members (a
 * reopen runs them, whatever node count it asks for); a change interrupted
 * by closing the cluster resumes when it opens again. After each, every
 * acknowledged write reads back and a sample of keys is held by exactly
 * their 3 replicas under the new ring.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCluster, type Cluster } from '../../src/index.js';

async function writeKeys(cluster: Cluster, from: number, to: number, round = 0): Promise<Map<string, string>> {
  const acked = new Map<string, string>();
  for (let at = from; at < to; at += 200) {
    const entries = Array.from({ length: Math.min(200, to - at) }, (_, j) => ({ key: `key-${at + j}`, value: `r${round}-${at + j}` }));
    const outcomes = await cluster.putMany(entries.map((e) => ({ ...e, options: { overwrite: true } })));
    outcomes.forEach((o, j) => {
      if (o.ok) acked.set(entries[j]!.key, entries[j]!.value);
    });
  }
  return acked;
}

/** Every acknowledged key reads back; every 25th is held, as its only value, by each of its replicas. */
async function expectHeld(cluster: Cluster, acked: Map<string, string>): Promise<void> {
  const keys = [...acked.keys()];
  for (let at = 0; at < keys.length; at += 500) {
    const batch = keys.slice(at, at + 500);
    const reads = await cluster.getMany(batch.map((key) => ({ key })));
    reads.forEach((read, i) => {
      expect(read.ok, batch[i]).to.equal(true);
      if (read.ok) expect(read.result.values.map((v) => v.toString()), batch[i]).to.deep.equal([acked.get(batch[i]!)]);
    });
  }
  for (const key of keys.filter((_, i) => i % 25 === 0)) {
    const explained = await cluster.explain(key);
    expect(explained.replicas, key).to.have.length(3);
    for (const replica of explained.replicas) expect((replica.versions ?? []).map((v) => v.value?.toString()), `${key} on ${replica.node}`).to.deep.equal([acked.get(key)]);
  }
}

/** The message `promise` rejects with ('' if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => '',
    (err: Error) => err.message,
  );
}

/** Run `change` while a writer overwrites keys; the writes acknowledged meanwhile are merged into `acked`. */
async function underWrites(cluster: Cluster, acked: Map<string, string>, change: () => Promise<unknown>): Promise<void> {
  let done = false;
  const changing = change().finally(() => (done = true));
  let round = 1;
  while (!done) {
    for (const [key, value] of await writeKeys(cluster, (round * 137) % 2000, ((round * 137) % 2000) + 100, round)) acked.set(key, value);
    round++;
  }
  await changing;
}

describe('membership changes on worker threads', function () {
  this.timeout(180_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringkv-membership-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('join, decommission and replace while writing; a reopen runs the recorded members', async () => {
    let cluster = await openCluster({ nodes: 4, dataDir: dir, replication: { n: 3, w: 2, r: 2 }, threads: 1 });
    const acked = await writeKeys(cluster, 0, 2000);
    try {
      const plan = await cluster.planChange({ kind: 'join', node: { id: 'n5' } });
      expect(plan.movedShare).to.be.within(0.2 * 0.85, 0.2 * 1.15);
      expect(plan.transfers.every((t) => t.target === 'n5')).to.equal(true);
      expect(Object.keys(plan.after)).to.include('n5');

      const seen: string[] = [];
      await underWrites(cluster, acked, async () => {
        const joining = cluster.addNode({ id: 'n5' });
        // While it runs, status names the joining node and the transfers.
        const status = await cluster.status();
        seen.push(...status.members.filter((m) => m.membership === 'joining').map((m) => m.id));
        return joining;
      });
      expect(seen).to.deep.equal(['n5']);
      expect(cluster.nodes).to.deep.equal(['n1', 'n2', 'n3', 'n4', 'n5']);
      expect((await cluster.transfers()).change).to.equal(null);
      await expectHeld(cluster, acked);

      await underWrites(cluster, acked, () => cluster.decommission('n2'));
      expect(cluster.nodes).to.deep.equal(['n1', 'n3', 'n4', 'n5']);
      await expectHeld(cluster, acked);
      expect(await rejection(cluster.restart('n2'))).to.match(/no node "n2"|left the ring/);
    } finally {
      await cluster.close();
    }

    // The record holds the new members: a reopen asking for the old shape runs them.
    cluster = await openCluster({ nodes: 4, dataDir: dir, replication: { n: 3, w: 2, r: 2 }, threads: 1 });
    try {
      expect(cluster.nodes).to.deep.equal(['n1', 'n3', 'n4', 'n5']);
      await expectHeld(cluster, acked);
      await cluster.crash('n3');
      expect(await rejection(cluster.removeNode('n4'))).to.match(/n4 is running/);
      await underWrites(cluster, acked, () => cluster.replace('n3', { id: 'n3b' }));
      expect(cluster.nodes).to.include('n3b').and.not.include('n3');
      await expectHeld(cluster, acked);
    } finally {
      await cluster.close();
    }
  });

  it('a join interrupted by closing the cluster resumes from its cursors when it opens again', async () => {
    const dir2 = await mkdtemp(join(tmpdir(), 'ringkv-membership-resume-'));
    const options = { nodes: 3, dataDir: dir2, replication: { n: 3, w: 2, r: 2 }, threads: 1, transfers: { bytesPerSecond: 150_000 } };
    let cluster = await openCluster(options);
    try {
      const acked = await writeKeys(cluster, 0, 6000);
      const joining = cluster.addNode({ id: 'n4' }).catch((err: Error) => err.message);
      let fetched = 0;
      for (let i = 0; i < 200 && fetched === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        fetched = (await cluster.transfers()).transfers.reduce((sum, t) => sum + t.keysFetched, 0);
      }
      expect(fetched, 'the join streamed some keys').to.be.greaterThan(0);
      const report = await cluster.transfers();
      expect(report.change).to.deep.include({ kind: 'join' });
      expect(report.transfers.some((t) => t.bytesPerSecond > 0)).to.equal(true);
      await cluster.close();
      expect(await joining).to.match(/closed/);

      cluster = await openCluster(options);
      expect((await cluster.transfers()).change, 'still in progress after the reopen').to.deep.include({ kind: 'join' });
      for (let i = 0; i < 600 && (await cluster.transfers()).change !== null; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await cluster.transfers()).change).to.equal(null);
      expect(cluster.nodes).to.deep.equal(['n1', 'n2', 'n3', 'n4']);
      await expectHeld(cluster, acked);
    } finally {
      await cluster.close();
      await rm(dir2, { recursive: true, force: true });
    }
  });
});
