/**
 * DBSIZE counts live keys (issue 13 item 13), through the status API it is
 * computed from (`estimateKeys`, the RESP DBSIZE and INFO keyspace value):
 * 100 keys set, 30 deleted, 20 overwritten → 70, on a real 3-node cluster
 * (N=3, so each key is on every replica; the old count summed every table's
 * and memtable's entries, tombstones included).
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { openCluster, type Cluster } from '../../src/index.js';
import { estimateKeys } from '../../src/server/resp_info.js';

describe('DBSIZE on worker threads (issue 13 item 13)', function () {
  this.timeout(60_000);
  let dir: string;
  let cluster: Cluster | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-dbsize-'));
  });

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('is 70 after 100 keys set, 30 deleted and 20 overwritten', async () => {
    cluster = await openCluster({ nodes: 3, dataDir: dir });
    const set = await cluster.putMany(Array.from({ length: 100 }, (_, i) => ({ key: `key-${i}`, value: `v${i}`, options: { overwrite: true } })));
    expect(set.every((o) => o.ok)).to.equal(true);
    for (let i = 0; i < 30; i++) await cluster.delete(`key-${i}`, { overwrite: true });
    for (let i = 30; i < 50; i++) await cluster.put(`key-${i}`, `w${i}`, { overwrite: true });
    // The third replica of each write may still be applying it when W=2 answered: the count converges within a recount.
    const until = Date.now() + 10_000;
    let size = estimateKeys(await cluster.status());
    while (size !== 70 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      size = estimateKeys(await cluster.status());
    }
    expect(size).to.equal(70);
    const members = (await cluster.status()).members;
    for (const m of members) expect(m.keysEstimate, m.id).to.equal(70);
  });
});
