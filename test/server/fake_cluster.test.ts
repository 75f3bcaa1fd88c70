import { expect } from 'chai';
import { UnavailableError } from '../../src/core/errors.js';
import { FakeCluster } from './fake_cluster.js';

describe('server/fake_cluster', () => {
  it('makes siblings without context and supersedes with the context of a read', async () => {
    const cluster = new FakeCluster();
    await cluster.put('k', 'a');
    await cluster.put('k', 'b');
    const read = await cluster.get('k');
    expect(read.values.map(String).sort()).to.deep.equal(['a', 'b']);
    expect(read.versions).to.have.length(2);
    const write = await cluster.put('k', 'c', { context: read.context });
    expect(write.receipt.version).to.match(/^n\d#epoch0:\d+$/);
    const after = await cluster.get('k');
    expect(after.values.map(String)).to.deep.equal(['c']);
    expect(after.context).to.equal(write.context);
  });

  it('delete writes a tombstone that hides what its context covers, and a stale put stays beside it', async () => {
    const cluster = new FakeCluster();
    const first = await cluster.put('k', 'a');
    await cluster.delete('k', { context: first.context });
    expect((await cluster.get('k')).values).to.deep.equal([]);
    expect(cluster.keyCount).to.equal(1);
    await cluster.put('k', 'late', { context: '' });
    expect((await cluster.get('k')).values.map(String)).to.deep.equal(['late']);
  });

  it('fails on demand and when too few owners run', async () => {
    const cluster = new FakeCluster({ nodes: 3 });
    cluster.failWith(new UnavailableError(1, 2), ['get']);
    await cluster.put('k', 'v');
    let caught: unknown = null;
    await cluster.get('k').catch((e: unknown) => (caught = e));
    expect(caught).to.be.instanceOf(UnavailableError);
    cluster.failWith(null);
    await cluster.crash('n1');
    await cluster.crash('n2');
    caught = null;
    await cluster.put('k', 'v').catch((e: unknown) => (caught = e));
    expect(caught).to.be.instanceOf(UnavailableError);
    expect((await cluster.put('k', 'v', { w: 1 })).receipt.acks).to.have.length(1);
    const status = await cluster.status();
    expect(status.members.filter((m) => m.running)).to.have.length(1);
  });
});
