/**
 * The compaction actor's `major-compact` ask (an operator's `nodetool flush`
 * then `nodetool compact`), in the simulator: the memtable is flushed and
 * every live table merged into one, even tables the size-tiered policy
 * would leave alone, and nothing stored is lost. SEED=<n> replays.
 */
import { expect } from 'chai';
import { compaction, type MajorCompactionReport } from '../../actors/compaction.js';
import { replica } from '../../actors/replica.js';
import { seedFrom } from '../../src/core/prng.js';
import { encodeClock, increment } from '../../src/core/vector_clock.js';
import type { ActorRef } from '../../src/runtime/actor.js';
import { SimWorld } from '../../src/runtime/sim/index.js';
import { InlineCompactionExecutor } from '../../storage/compaction_task.js';
import { SimFileSystem } from '../../storage/sim_fs.js';
import type { Version } from '../../storage/version.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const utf8 = new TextEncoder();

describe('actors/compaction major-compact (simulator)', function () {
  this.timeout(60_000);

  it(`flushes, merges every live table into one, and keeps every key (SEED=${SEED})`, async () => {
    const world = new SimWorld({ seed: SEED });
    const disk = new SimFileSystem();
    const replicaRef: ActorRef = { thread: 1, id: 'replica' };
    const compactionRef: ActorRef = { thread: 1, id: 'compaction' };
    world.spawn(1, () => replica({ dir: '/node-1', fs: disk, clocks: 'vector-clock', compaction: compactionRef }), 'replica');
    // A long interval and the default policy: three tables of one size are below its threshold of four.
    world.spawn(1, () => compaction({ replica: replicaRef, interval_ms: 60_000, executor: new InlineCompactionExecutor(disk) }), 'compaction');
    const ask = async <R>(to: ActorRef, msg: { type: string; [k: string]: unknown }): Promise<R> => {
      const pending = world.ask<R>(to, msg, 30_000);
      await world.runFor(50);
      return pending;
    };
    for (let table = 0; table < 3; table++) {
      for (let i = 0; i < 20; i++) {
        const version: Version = { clock: encodeClock(increment([], `w${table}`, world.now())), value: utf8.encode(`v${table}-${i}`), ts_ms: world.now() };
        await ask(replicaRef, { type: 'put', key: utf8.encode(`k${i}`), version });
      }
      await ask(replicaRef, { type: 'flush' });
    }
    // One more write left in the memtable: the major compaction flushes it first.
    await ask(replicaRef, { type: 'put', key: utf8.encode('late'), version: { clock: encodeClock(increment([], 'late', world.now())), value: utf8.encode('late'), ts_ms: world.now() } });
    expect((await ask<{ tables: number }>(replicaRef, { type: 'stats' })).tables, 'three flushed tables, none compacted yet').to.equal(3);
    const report = await ask<MajorCompactionReport>(compactionRef, { type: 'major-compact' });
    expect(report.tables, 'one table left').to.equal(1);
    expect(report.compactions).to.be.at.least(1);
    for (let i = 0; i < 20; i++) {
      const held = await ask<Version[]>(replicaRef, { type: 'get', key: utf8.encode(`k${i}`) });
      expect(held.map((v) => Buffer.from(v.value!).toString()).sort(), `k${i}`).to.deep.equal([`v0-${i}`, `v1-${i}`, `v2-${i}`]);
    }
    const late = await ask<Version[]>(replicaRef, { type: 'get', key: utf8.encode('late') });
    expect(late.map((v) => Buffer.from(v.value!).toString())).to.deep.equal(['late']);
  });
});
