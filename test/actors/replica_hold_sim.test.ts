/**
 * A replica's `hold-tombstone` answer (issue 12): true only for a tombstone
 * it holds as a current version (same clock bytes), and only once that
 * tombstone is on disk, so that under periodic sync a crash right after a
 * true answer still finds it. One replica on a simulated disk; the crash
 * reverts the disk to exactly its synced bytes (no torn prefix), so an
 * unsynced tombstone is always lost. SEED=<n> replays.
 */
import { expect } from 'chai';
import { seedFrom } from '../../src/core/prng.js';
import { encodeClock, increment } from '../../src/core/vector_clock.js';
import type { ActorRef } from '../../src/runtime/actor.js';
import { SimWorld } from '../../src/runtime/sim/index.js';
import { replica } from '../../actors/replica.js';
import { SimFileSystem } from '../../storage/sim_fs.js';
import type { Version } from '../../storage/version.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const utf8 = new TextEncoder();
const ref: ActorRef = { thread: 1, id: 'replica' };

/** Run `world` in 1 ms steps until `promise` settles (well inside the 100 ms periodic-sync window). */
async function settle<T>(world: SimWorld, promise: Promise<T>): Promise<T> {
  let done = false;
  const watched = promise.finally(() => (done = true));
  for (let ms = 0; !done && ms < 5000; ms++) await world.runFor(1);
  return watched;
}

describe('actors/replica hold-tombstone (periodic sync, simulated disk)', function () {
  this.timeout(30_000);

  it(`answers true only for a tombstone it holds with that clock, and only once it is durable (SEED=${SEED})`, async () => {
    const world = new SimWorld({ seed: SEED });
    let disk = new SimFileSystem();
    world.spawn(1, () => replica({ dir: '/node-1', fs: disk, syncMode: 'periodic', clocks: 'vector-clock' }), 'replica');
    await world.runFor(200);
    const ask = <R>(msg: unknown): Promise<R> => settle(world, world.ask<R>(ref, msg as never, 5000));
    const hold = (key: Uint8Array, clock: Uint8Array): Promise<boolean> => ask<boolean>({ type: 'hold-tombstone', key, clock });

    const first = increment([], 'test', 1);
    const tombstone: Version = { clock: encodeClock(increment(first, 'test', 2)), value: null, ts_ms: 2 };
    const valued = utf8.encode('hold:value');
    await ask({ type: 'put', key: valued, version: { ...tombstone, value: utf8.encode('v') } });
    expect(await hold(valued, tombstone.clock), 'a value with that clock is no tombstone').to.equal(false);
    expect(await hold(utf8.encode('hold:unknown'), tombstone.clock), 'nothing held').to.equal(false);
    const superseded = utf8.encode('hold:superseded');
    await ask({ type: 'put', key: superseded, version: { ...tombstone, clock: encodeClock(first) } });
    await ask({ type: 'put', key: superseded, version: { clock: tombstone.clock, value: utf8.encode('again'), ts_ms: 3 } });
    expect(await hold(superseded, encodeClock(first)), 'a tombstone a later write superseded').to.equal(false);

    const deleted = utf8.encode('hold:deleted');
    await ask({ type: 'put', key: deleted, version: tombstone });
    expect(await hold(deleted, encodeClock(increment([], 'other', 5))), 'another clock').to.equal(false);
    expect(await hold(deleted, tombstone.clock)).to.equal(true);
    // At once, inside the periodic window: only what was synced survives.
    world.crash(1);
    disk = disk.crash();
    world.restart(1);
    await world.runFor(200);
    const after = await ask<Version[]>({ type: 'get', key: deleted });
    expect(after.map((v) => v.value), 'the tombstone it vouched for survived the crash').to.deep.equal([null]);
  });
});
