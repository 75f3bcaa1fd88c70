import { expect } from 'chai';
import { InvalidRequestError } from '../../src/core/errors.js';
import { batchedWrites } from '../../src/server/write_batcher.js';
import { FakeCluster } from './fake_cluster.js';

describe('server/write_batcher', () => {
  it('sends the writes of one event-loop turn as one putMany, each answered on its own', async () => {
    const fake = new FakeCluster();
    const cluster = batchedWrites(fake);
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
    const cluster = batchedWrites(fake, 8);
    await Promise.all(Array.from({ length: 20 }, (_, i) => cluster.put(`k${i}`, 'v')));
    expect(fake.putManyCalls).to.equal(3);
  });

  it('fails every write of a batch whose putMany fails', async () => {
    const fake = new FakeCluster();
    const cluster = batchedWrites(fake);
    fake.putMany = () => Promise.reject(new Error('cluster closed'));
    const outcomes = await Promise.allSettled([cluster.put('a', '1'), cluster.put('b', '2')]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['rejected', 'rejected']);
  });
});
