/**
 * A replica whose commit log had a corrupt tail cut off at open (issue 12):
 * the store opens and serves what came before the damage, the cut is logged
 * at error level, and the node mints under a new dot epoch at once, since
 * records it may have synced, and built later dots on, are gone.
 * SEED=<n> replays.
 */
import { expect } from 'chai';
import { seedFrom } from '../../src/core/prng.js';
import type { ActorRef } from '../../src/runtime/actor.js';
import { SimWorld } from '../../src/runtime/sim/index.js';
import { replica, type MintReply, type ReplicaMsg } from '../../actors/replica.js';
import { segmentFileName } from '../../storage/commit_log.js';
import { SimFileSystem } from '../../storage/sim_fs.js';
import type { Version } from '../../storage/version.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const utf8 = new TextEncoder();
const DIR = '/node-1';
const REF: ActorRef = { thread: 1, id: 'replica' };

/** Ask the replica and run the world until it answers. */
async function ask<T>(world: SimWorld, msg: ReplicaMsg): Promise<T> {
  let answer: T | undefined;
  const asked = world.ask<T>(REF, msg, 5000).then((reply) => (answer = reply));
  await world.runFor(1000);
  await asked;
  return answer!;
}

function mint(world: SimWorld, key: string, value: string): Promise<MintReply> {
  return ask<MintReply>(world, { type: 'mint', key: utf8.encode(key), value: utf8.encode(value), context: '', overwrite: false, node: 'n1' });
}

async function values(world: SimWorld, key: string): Promise<string[]> {
  const versions = await ask<Version[]>(world, { type: 'get', key: utf8.encode(key) });
  return versions.map((v) => Buffer.from(v.value ?? []).toString());
}

describe('replica after a corrupt commit-log tail', function () {
  this.timeout(60_000);

  it(`opens, serves the records before the damage, logs the cut and mints under a new epoch (SEED=${SEED})`, async () => {
    const first = new SimWorld({ seed: SEED });
    const disk = new SimFileSystem();
    first.spawn(1, () => replica({ dir: DIR, fs: disk, syncMode: 'batch' }), 'replica');
    await first.runFor(200);
    const kept = await mint(first, 'kept', 'K');
    await mint(first, 'damaged', 'D'); // the last record of the log: batch sync, so synced and acknowledged
    // Power loss, then the synced last record rots (what a torn sector rewrite can do).
    const crashed = disk.crash();
    const segment = `${DIR}/commitlog/${segmentFileName(1)}`;
    const size = (await crashed.readFile(segment)).length;
    crashed.flipBit(segment, (size - 1) * 8); // the last byte of 'D''s record

    const second = new SimWorld({ seed: SEED + 1 });
    second.spawn(1, () => replica({ dir: DIR, fs: crashed, syncMode: 'batch' }), 'replica');
    await second.runFor(200);
    const cut = second.logs.all('error').find((line) => line.msg.includes('corrupt tail'));
    expect(cut, second.report()).to.not.equal(undefined);
    expect(cut!.fields).to.deep.include({ dir: DIR, path: segment });
    expect(cut!.fields!['dropped_bytes']).to.be.greaterThan(0);
    expect(String(cut!.fields!['meaning'])).to.match(/other replicas and read repair restore them/);
    const leaseOpen = second.logs.all('info').find((line) => line.msg === 'dot lease open');
    expect(leaseOpen?.fields?.['recovery'], 'the new epoch is taken at open, before any mint').to.equal('corrupt-log-tail');

    expect(await values(second, 'kept')).to.deep.equal(['K']);
    expect(await values(second, 'damaged'), 'the record after the damage is gone here').to.deep.equal([]);
    const next = await mint(second, 'damaged', 'E');
    expect(next.dot.split(':')[0], 'a new epoch: what this node knew of its own dots went backward').to.not.equal(kept.dot.split(':')[0]);
  });
});
