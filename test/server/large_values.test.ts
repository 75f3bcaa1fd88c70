/**
 * Values up to VALUE_MAX_BYTES (4 MiB) over RESP against a real server on
 * worker threads: SET/GET of exactly 4 MiB, one byte more refused with an
 * error naming the limit (the connection stays usable), MSET of large values
 * to one coordinator (more than one put-batch of bytes), KV.PUT, CONFIG GET
 * proto-max-bulk-len telling the value limit, a 3 MiB value surviving a node
 * crash (commit-log replay) and a server restart (flushed to SSTables).
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { resolveCluster } from '../../src/cluster/cluster_config.js';
import { PUT_BATCH_MAX_BYTES, VALUE_MAX_BYTES } from '../../src/core/limits.js';
import { placeReplicas } from '../../src/core/placement.js';
import { Ring } from '../../src/core/ring.js';
import { startServer, type RingkvServer } from '../../src/server/start.js';
import { RawClient, type Decoded } from './resp_test_client.js';

const MiB = 1024 * 1024;
/** Replies to large requests may take longer than the client's default wait. */
const LARGE_REPLY_MS = 30_000;

/** `size` bytes that differ per `tag`. */
function valueOf(tag: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + tag * 31 + (i >>> 10)) & 0xff;
  return out;
}

/** `count` keys whose first owner (their coordinator) is the same node, among `nodes` nodes. */
function keysOfOneCoordinator(nodes: number, count: number): string[] {
  const config = resolveCluster({ nodes });
  const ring = Ring.fromTokens(config.ring);
  const first = (key: string): string => placeReplicas(ring, Buffer.from(key), config.replication.dcs).replicas[0]!;
  const target = first('mset-0');
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (first(`mset-${i}`) === target) keys.push(`mset-${i}`);
  return keys;
}

describe('server: values up to VALUE_MAX_BYTES over RESP (real cluster)', function () {
  this.timeout(120_000);
  let dir: string;
  let server: RingkvServer | undefined;
  let client: RawClient | undefined;

  const start = async (): Promise<RawClient> => {
    server = await startServer({ nodes: 3, dataDir: dir, respPort: 0, httpPort: 0 });
    client = await RawClient.connect(server.resp.port);
    return client;
  };
  const call = (resp: RawClient, ...args: (string | Buffer)[]): Promise<Decoded> => {
    resp.command(...args);
    return resp.reply(LARGE_REPLY_MS);
  };

  before(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-large-'));
  });
  afterEach(async () => {
    client?.close();
    client = undefined;
    await server?.close();
    server = undefined;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('advertises the value limit as proto-max-bulk-len, stores exactly 4 MiB and refuses one byte more by name', async () => {
    const resp = await start();
    expect(await call(resp, 'CONFIG', 'GET', 'proto-max-bulk-len')).to.deep.equal([Buffer.from('proto-max-bulk-len'), Buffer.from(String(VALUE_MAX_BYTES))]);
    const exact = valueOf(1, VALUE_MAX_BYTES);
    expect(await call(resp, 'SET', 'exact', exact)).to.deep.equal({ simple: 'OK' });
    expect((await call(resp, 'GET', 'exact')) as Buffer).to.deep.equal(exact);

    const over = await call(resp, 'SET', 'over', valueOf(2, VALUE_MAX_BYTES + 1));
    expect(over).to.have.property('error').that.matches(/^ERR .*value of 4194305 bytes is over the 4194304-byte limit/);
    expect(await call(resp, 'GET', 'over')).to.equal(null);
    expect(await call(resp, 'PING'), 'the connection stays usable').to.deep.equal({ simple: 'PONG' });

    const context = await call(resp, 'KV.PUT', 'kv-big', '', valueOf(3, 3 * MiB));
    expect(context).to.be.instanceOf(Buffer);
    const got = (await call(resp, 'KV.GET', 'kv-big')) as Decoded[];
    expect(got[1]).to.deep.equal([valueOf(3, 3 * MiB)]);
  });

  it('MSET of large values to one coordinator, more bytes than one put-batch, stores them all', async () => {
    const resp = await start();
    const keys = keysOfOneCoordinator(3, 3);
    expect(keys.length * VALUE_MAX_BYTES).to.be.greaterThan(PUT_BATCH_MAX_BYTES);
    const args: Buffer[] = [];
    keys.forEach((key, i) => args.push(Buffer.from(key), valueOf(10 + i, VALUE_MAX_BYTES - i)));
    expect(await call(resp, 'MSET', ...args)).to.deep.equal({ simple: 'OK' });
    const values = (await call(resp, 'MGET', ...keys)) as Buffer[];
    keys.forEach((key, i) => expect(values[i]!.equals(valueOf(10 + i, VALUE_MAX_BYTES - i)), key).to.equal(true));
  });

  it('a 3 MiB value survives a node crash (commit-log replay) and a server restart (SSTables)', async () => {
    let resp = await start();
    const value = valueOf(4, 3 * MiB);
    expect(await call(resp, 'SET', 'survivor', value)).to.deep.equal({ simple: 'OK' });
    // W=2 of 3: the SET may return before n2 stored it (its copy crosses threads); crash it once it holds it.
    const holds = async (): Promise<boolean> => (await server!.cluster.explain('survivor')).replicas.find((r) => r.node === 'n2')!.versions?.length === 1;
    for (let i = 0; i < 100 && !(await holds()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await server!.cluster.crash('n2');
    await server!.cluster.restart('n2');
    // n2 answers for itself in explain: what it holds came back from its commit log.
    const explained = await server!.cluster.explain('survivor');
    const n2 = explained.replicas.find((r) => r.node === 'n2')!;
    expect(n2.versions?.map((v) => v.value?.equals(value)), 'n2 replayed the value').to.deep.equal([true]);

    // A clean close flushes every node's memtable to an SSTable; the new server reads it from there.
    client!.close();
    await server!.close();
    server = undefined;
    resp = await start();
    expect(((await call(resp, 'GET', 'survivor')) as Buffer).equals(value)).to.equal(true);
    const again = await server!.cluster.explain('survivor');
    for (const replica of again.replicas) expect(replica.versions?.map((v) => v.value?.equals(value)), replica.node).to.deep.equal([true]);
  });
});
