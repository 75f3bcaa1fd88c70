import { expect } from 'chai';
import { InvalidRequestError } from '../../src/core/errors.js';
import { batchedRequests } from '../../src/server/turn_batcher.js';
import { FakeCluster } from './fake_cluster.js';

describe('server/turn_batcher', () => {
  it('sends the writes of one event-loop turn as one putMany, each answered on its own', async () => {
    const fake = new FakeCluster();
    const cluster = batchedRequests(fake);
    const writes = Array.from({ length: 50 }, (_, i) => cluster.put(`k${i}`, `v${i}`));
    const bad = cluster.put('', 'an empty key is refused').then(
      () => null,
      (err: unknown) => err,
    );
    const deleted = cluster.delete('k0');
    const results = await Promise.all(writes);
    expect(results.every((r) => r.receipt.acks.length >= 2)).to.equal(true);
    expect(await bad).to.be.instanceOf(InvalidRequestError);
    await deleted;
    expect(fake.putManyCalls).to.equal(1);
    expect(fake.calls.put + fake.calls.delete, '50 puts, the refused one, the delete').to.equal(52);
    expect((await cluster.get('k1')).values.map(String)).to.deep.equal(['v1']);
  });

  it('sends a full batch at once and the rest at the end of the turn', async () => {
    const fake = new FakeCluster();
    const cluster = batchedRequests(fake, { writes: 8 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => cluster.put(`k${i}`, 'v')));
    expect(fake.putManyCalls).to.equal(3);
  });

  it('sends the reads of one event-loop turn as one getMany, each answered on its own, full batches at once', async () => {
    const fake = new FakeCluster();
    const cluster = batchedRequests(fake, { reads: 8 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => cluster.put(`k${i}`, `v${i}`)));
    const reads = Array.from({ length: 10 }, (_, i) => cluster.get(`k${i}`));
    const bad = cluster.get('').then(
      () => null,
      (err: unknown) => err,
    );
    const results = await Promise.all(reads);
    expect(results.map((r) => r.values.map(String))).to.deep.equal(Array.from({ length: 10 }, (_, i) => [`v${i}`]));
    expect(await bad).to.be.instanceOf(InvalidRequestError);
    expect(fake.getManyCalls, '11 reads in batches of at most 8').to.equal(2);
  });

  it('fails every write of a batch whose putMany fails', async () => {
    const fake = new FakeCluster();
    const cluster = batchedRequests(fake);
    fake.putMany = () => Promise.reject(new Error('cluster closed'));
    const outcomes = await Promise.allSettled([cluster.put('a', '1'), cluster.put('b', '2')]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['rejected', 'rejected']);
  });
});
