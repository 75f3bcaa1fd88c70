/**
 * Issue 13 items 4 and 5 on real worker threads and disks: a node whose
 * storage cannot open (a corrupt MANIFEST) is reported failed and treated as
 * down, so writes still reach W through the others with hints; and a corrupt
 * SSTable block is counted, logged, served around, quarantined and repaired.
 */
import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { openCluster, type Cluster, type ClusterStatus, type MemberStatus } from '../../src/index.js';
import { resolveCluster } from '../../src/cluster/cluster_config.js';
import { placeReplicas } from '../../src/core/placement.js';
import { Ring } from '../../src/core/ring.js';
import { ServerMetrics } from '../../src/server/metrics.js';

const utf8 = new TextEncoder();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `check` until it holds (or fail after `timeout_ms`). */
async function eventually(what: string, check: () => Promise<boolean>, timeout_ms = 30_000): Promise<void> {
  const until = Date.now() + timeout_ms;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`not true within ${timeout_ms} ms: ${what}`);
}

function member(status: ClusterStatus, id: string): MemberStatus {
  return status.members.find((m) => m.id === id)!;
}

/** Keys whose preference list starts at node `label` (of a `nodes`-node cluster with default placement). */
function keysFirstOwnedBy(nodes: number, label: string, count: number): string[] {
  const config = resolveCluster({ nodes });
  const target = config.nodes.find((n) => n.label === label)!.member;
  const ring = Ring.fromTokens(config.ring);
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    if (placeReplicas(ring, utf8.encode(`first-${i}`), config.replication.dcs).replicas[0] === target) keys.push(`first-${i}`);
  }
  return keys;
}

/** Flip every bit of one byte of `path` at `offset` (from the end when negative). */
async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  const at = offset < 0 ? bytes.length + offset : offset;
  bytes[at]! ^= 0xff;
  await writeFile(path, bytes);
}

describe('storage failures on worker threads (issue 13 items 4, 5)', function () {
  this.timeout(120_000);
  let dir: string;
  let cluster: Cluster | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-storage-failure-'));
  });

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a node whose MANIFEST is corrupt as failed, and writes at W=2 still succeed around it', async () => {
    cluster = await openCluster({ nodes: 4, dataDir: dir });
    const before = Array.from({ length: 20 }, (_, i) => `old-${i}`);
    for (const key of before) await cluster.put(key, `v-${key}`, { overwrite: true });
    await cluster.close();
    await flipByte(join(dir, 'n1', 'MANIFEST'), -6);

    cluster = await openCluster({ nodes: 4, dataDir: dir });
    const opened = cluster;
    await eventually('n1 reports its storage failed', async () => member(await opened.status(), 'n1').storage?.state === 'failed');
    const n1 = member(await cluster.status(), 'n1');
    if (n1.storage?.state !== 'failed') expect.fail('n1 storage failed');
    expect(n1.storage.cause).to.match(/MANIFEST/);
    expect(n1.storage.cause).to.match(/checksum/);
    expect(n1.storage.advice).to.match(/move .*n1 aside/);
    expect(n1.storage.advice).not.to.match(/anti-entropy\)|repair command|backup/);
    for (const other of ['n2', 'n3', 'n4']) expect(member(await cluster.status(), other).storage?.state, other).to.equal('ok');

    // No wait for the other detectors: n1's own coordinator forwards, and an owner that has not heard yet gets n1's refusal and uses a fallback.
    const keys = keysFirstOwnedBy(4, 'n1', 30);
    for (const key of keys) {
      try {
        const written = await cluster.put(key, `new-${key}`, { overwrite: true });
        expect(written.receipt.acks.map((a) => a.node), key).not.to.include('n1');
      } catch (err) {
        expect(String(err)).not.to.match(/overloaded|full; back off/i);
        throw err;
      }
    }
    for (const key of keys) expect((await cluster.get(key)).values.map(String), key).to.deep.equal([`new-${key}`]);
    for (const key of before) expect((await cluster.get(key)).values.map(String), key).to.deep.equal([`v-${key}`]);
    await eventually('hints wait for n1 on the fallback', async () => (await opened.status()).members.reduce((sum, m) => sum + (m.hintsHeld ?? 0), 0) > 0);

    const metrics = new ServerMetrics({ cluster, defaultMetrics: false, statusCacheMs: 0 });
    const text = await metrics.text();
    expect(text).to.match(/ringkv_node_storage_failed\{node="n1"\} 1/);
    expect(text).to.match(/ringkv_node_storage_failed\{node="n2"\} 0/);
  });

  it('serves a key around a corrupt SSTable block, counts and quarantines the table, and repairs the key on that replica', async () => {
    cluster = await openCluster({ nodes: 3, dataDir: dir });
    for (let i = 0; i < 10; i++) await cluster.put(`key-${i}`, `value-${i}`, { overwrite: true });
    await cluster.close(); // flushes every memtable to an SSTable

    const tables = (await readdir(join(dir, 'n2'))).filter((name) => name.endsWith('.sst'));
    expect(tables.length, 'n2 flushed its memtable to one table').to.equal(1);
    const damaged = join(dir, 'n2', tables[0]!);
    await flipByte(damaged, 20); // inside data block 0, which holds these few keys

    cluster = await openCluster({ nodes: 3, dataDir: dir });
    const opened = cluster;
    expect((await cluster.get('key-3')).values.map(String)).to.deep.equal(['value-3']);

    await eventually('n2 counts the checksum failure of its table', async () => (member(await opened.status(), 'n2').storage?.checksumFailures[damaged] ?? 0) >= 1);
    const moved = join(dir, 'n2', 'quarantine', tables[0]!);
    await eventually('n2 reports the table quarantined', async () => member(await opened.status(), 'n2').storage?.quarantined.includes(moved) === true);
    expect(await readdir(join(dir, 'n2', 'quarantine')), 'kept in quarantine/').to.include(tables[0]!);
    expect(await readdir(join(dir, 'n2')), 'no longer live').not.to.include(tables[0]!);

    await eventually('read repair wrote key-3 back on n2', async () => {
      const replica = (await opened.explain('key-3')).replicas.find((r) => r.node === 'n2')!;
      return replica.versions?.map((v) => String(v.value)).join() === 'value-3';
    });
    const metrics = new ServerMetrics({ cluster, defaultMetrics: false, statusCacheMs: 0 });
    expect(await metrics.text()).to.include(`ringkv_sstable_checksum_failures_total{node="n2",file="${damaged}"} 1`);
    // Every other key is still served (from n1 and n3), and the damaged replica's storage still works.
    for (let i = 0; i < 10; i++) expect((await cluster.get(`key-${i}`)).values.map(String)).to.deep.equal([`value-${i}`]);
    expect(member(await cluster.status(), 'n2').storage?.state).to.equal('ok');
  });
});
