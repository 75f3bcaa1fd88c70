/**
 * `Cluster.putMany` bounds each `put-batch` message by bytes as well as by
 * count (PUT_BATCH_MAX_BYTES), so a batch of large values (an MSET) still
 * crosses between threads as one message of at most RING_MESSAGE_MAX_BYTES.
 * The asker is scripted: it plays the coordinators and records each batch.
 */
import { expect } from 'chai';
import { ClusterClient, type Asker } from '../../src/cluster/cluster_client.js';
import { resolveCluster } from '../../src/cluster/cluster_config.js';
import { PUT_BATCH_MAX_BYTES, RING_MESSAGE_MAX_BYTES, VALUE_MAX_BYTES } from '../../src/core/limits.js';
import type { ActorRef, Message } from '../../src/runtime/actor.js';
import type { BatchOutcome, PutRequest } from '../../actors/coordinator.js';

describe('cluster_client: put-batches bounded by bytes', () => {
  it('splits large writes into batches of at most PUT_BATCH_MAX_BYTES, each write once, small writes still batched', async () => {
    expect(PUT_BATCH_MAX_BYTES + VALUE_MAX_BYTES + 64 * 1024, 'a full batch plus one more value stays one message').to.be.at.most(RING_MESSAGE_MAX_BYTES);
    const batches: { thread: number; bytes: number; keys: string[] }[] = [];
    const ask: Asker = async <R>(to: ActorRef, msg: Message): Promise<R> => {
      const requests = (msg as unknown as { requests: PutRequest[] }).requests;
      const bytes = requests.reduce((sum, r) => sum + r.key.length + (r.value?.length ?? 0), 0);
      batches.push({ thread: to.thread, bytes, keys: requests.map((r) => Buffer.from(r.key).toString()) });
      const receipt = { op: 'write', required: '2', acks: [], failures: [], coordinator: `n${to.thread}`, version: 'v' };
      return requests.map((): BatchOutcome => ({ ok: { context: '', superseded: 'none', receipt } }) as unknown as BatchOutcome) as R;
    };
    const client = new ClusterClient(resolveCluster({ nodes: 3, replication: { n: 3 } }), ask, () => true, 'test', 1_000);
    const large = Array.from({ length: 9 }, (_, i) => ({ key: `big-${i}`, value: new Uint8Array(VALUE_MAX_BYTES - i) }));
    const small = Array.from({ length: 50 }, (_, i) => ({ key: `small-${i}`, value: `v${i}` }));
    const outcomes = await client.putMany([...large, ...small]);
    expect(outcomes.every((o) => o.ok)).to.equal(true);
    for (const batch of batches) {
      if (batch.keys.length > 1) expect(batch.bytes, `batch ${batch.keys.join(',')}`).to.be.at.most(PUT_BATCH_MAX_BYTES);
    }
    expect(batches.flatMap((b) => b.keys).sort()).to.deep.equal([...large, ...small].map((e) => e.key).sort());
    expect(batches.length, 'large writes were split').to.be.greaterThan(3);
    expect(batches.some((b) => b.keys.filter((k) => k.startsWith('small-')).length > 1), 'small writes still share batches').to.equal(true);
  });
});
