import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { InvalidRequestError } from '../../src/core/errors.js';
import { encodeClock, increment } from '../../src/core/vector_clock.js';
import type { ActorRef } from '../../src/runtime/actor.js';
import { ActorSystem } from '../../src/runtime/actor_system.js';
import type { CompactionStats } from '../../actors/compaction.js';
import type { ScanPage } from '../../actors/replica.js';
import type { Version } from '../../storage/version.js';

const utf8 = new TextEncoder();
const keyOf = (i: number) => utf8.encode(`key:${String(i).padStart(5, '0')}`);
const valueOf = (i: number) => utf8.encode(`value-${i}-${'x'.repeat(i % 50)}`);
const KEYS = 3000;

describe('actors/replica + actors/compaction (real worker threads, real disk)', function () {
  this.timeout(60000);
  let dir: string;
  let system: ActorSystem;
  const replica: ActorRef = { thread: 1, id: 'replica' };
  const compaction: ActorRef = { thread: 1, id: 'compaction' };

  before(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-replica-'));
    system = await ActorSystem.start({
      threads: 1,
      modules: [new URL('../../actors/replica.js', import.meta.url).href, new URL('../../actors/compaction.js', import.meta.url).href],
      spawn: {
        1: [
          { kind: 'replica', id: 'replica', args: { dir, memtableFlushBytes: 32 * 1024, clocks: 'vector-clock', compaction } },
          { kind: 'compaction', id: 'compaction', args: { replica, interval_ms: 200 } },
        ],
      },
    });
  });

  after(async () => {
    await system.shutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores versions durably, flushes and compacts off-thread, and serves gets and paged scans', async () => {
    const puts: Promise<unknown>[] = [];
    for (let i = 0; i < KEYS; i++) {
      const version: Version = { clock: encodeClock(increment([], 'test', 1000 + i)), value: valueOf(i), ts_ms: 1000 + i };
      puts.push(system.ask(replica, { type: 'put', key: keyOf(i), version }, 20000));
    }
    await Promise.all(puts);
    await system.ask(replica, { type: 'flush' });
    await system.ask(compaction, { type: 'settle' }, 30000);
    const stats = await system.ask<{ flushes: number; compactions: number; tables: number }>(replica, { type: 'stats' });
    expect(stats.flushes).to.be.greaterThan(4);
    expect(stats.compactions).to.be.greaterThan(0);
    // The compaction actor counts the same merges from its side (it is the only one that compacts here).
    const compacted = await system.ask<CompactionStats>(compaction, { type: 'stats' });
    expect(compacted.compactions).to.equal(stats.compactions);
    expect(stats.tables).to.be.lessThan(stats.flushes);
    for (let i = 0; i < KEYS; i += 37) {
      const got = await system.ask<Version[]>(replica, { type: 'get', key: keyOf(i) });
      expect(got.length).to.equal(1);
      expect(Buffer.from(got[0]!.value!).toString()).to.equal(Buffer.from(valueOf(i)).toString());
    }
    let seen = 0;
    let from: Uint8Array | undefined;
    for (let page = 0; page < 100; page++) {
      const result: ScanPage = await system.ask<ScanPage>(replica, { type: 'scan', ...(from ? { from } : {}), limit: 250 });
      for (const entry of result.entries) {
        expect(Buffer.from(entry.key).toString()).to.equal(Buffer.from(keyOf(seen)).toString());
        seen++;
      }
      if (!result.next) break;
      from = result.next;
    }
    expect(seen).to.equal(KEYS);
  });

  it('confirm-tombstone marks only a tombstone it holds as a current version (same clock), once', async () => {
    const confirmed = async (): Promise<number> => (await system.ask<{ tombstones_confirmed: number }>(replica, { type: 'stats' })).tombstones_confirmed;
    const get = (key: Uint8Array): Promise<Version[]> => system.ask<Version[]>(replica, { type: 'get', key });
    const confirm = (key: Uint8Array, clock: Uint8Array): Promise<unknown> => system.ask(replica, { type: 'confirm-tombstone', key, clock });
    const before = await confirmed();
    const deleted = utf8.encode('confirm:deleted');
    const first = increment([], 'test', 1);
    const tombstone: Version = { clock: encodeClock(increment(first, 'test', 2)), value: null, ts_ms: 2 };
    await system.ask(replica, { type: 'put', key: deleted, version: tombstone });
    await confirm(deleted, encodeClock(increment([], 'other', 5)));
    expect((await get(deleted)).map((v) => v.purgeable), 'another clock confirms nothing').to.deep.equal([undefined]);
    await confirm(deleted, tombstone.clock);
    await confirm(deleted, tombstone.clock);
    expect((await get(deleted)).map((v) => v.purgeable)).to.deep.equal([true]);
    // A value with that clock, or a tombstone a later write superseded, is left alone.
    const value = utf8.encode('confirm:value');
    await system.ask(replica, { type: 'put', key: value, version: { ...tombstone, value: utf8.encode('v') } });
    await confirm(value, tombstone.clock);
    expect((await get(value)).map((v) => v.purgeable)).to.deep.equal([undefined]);
    const rewritten = utf8.encode('confirm:rewritten');
    await system.ask(replica, { type: 'put', key: rewritten, version: { ...tombstone, clock: encodeClock(first) } });
    await system.ask(replica, { type: 'put', key: rewritten, version: { clock: tombstone.clock, value: utf8.encode('again'), ts_ms: 3 } });
    await confirm(rewritten, encodeClock(first));
    expect((await get(rewritten)).map((v) => [v.value === null, v.purgeable])).to.deep.equal([[false, undefined]]);
    expect((await confirmed()) - before, 'one confirmation stored').to.equal(1);
  });

  it('fails requests, without killing its thread, when its storage cannot open', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'not-a-dir'), 'a file where a directory should be');
    await system.spawn(1, { kind: 'replica', id: 'broken', args: { dir: join(dir, 'not-a-dir', 'x') } });
    await new Promise((r) => setTimeout(r, 300));
    expect(system.isAlive(1), 'the worker thread survives').to.equal(true);
    try {
      await system.ask({ thread: 1, id: 'broken' }, { type: 'get', key: keyOf(1) }, 5000);
      expect.fail('a replica without storage cannot answer');
    } catch (err) {
      expect(String(err)).to.match(/ENOTDIR|EEXIST|not a directory|failed to open|stopped|no actor/i);
    }
    expect((await system.ask<Version[]>(replica, { type: 'get', key: keyOf(1) })).length, 'other actors unaffected').to.equal(1);
  });

  it('answers a bad request with the error, without crashing', async () => {
    const version: Version = { clock: encodeClock([]), value: new Uint8Array(8), ts_ms: 1 };
    try {
      await system.ask(replica, { type: 'put', key: new Uint8Array(5000), version });
      expect.fail('an oversized key is refused');
    } catch (err) {
      expect(err).to.be.instanceOf(InvalidRequestError);
    }
    expect((await system.ask<Version[]>(replica, { type: 'get', key: keyOf(1) })).length).to.equal(1);
  });

  it('recovers every acknowledged write after its thread is killed and restarted', async () => {
    const version: Version = { clock: encodeClock(increment([], 'late', 5)), value: utf8.encode('unflushed'), ts_ms: 5 };
    await system.ask(replica, { type: 'put', key: utf8.encode('zz-last'), version });
    await system.terminateThread(1);
    expect(system.isAlive(1)).to.equal(false);
    await system.restartThread(1);
    const late = await system.ask<Version[]>(replica, { type: 'get', key: utf8.encode('zz-last') }, 20000);
    expect(Buffer.from(late[0]!.value!).toString()).to.equal('unflushed');
    for (let i = 0; i < KEYS; i += 101) {
      const got = await system.ask<Version[]>(replica, { type: 'get', key: keyOf(i) });
      expect(Buffer.from(got[0]!.value!).toString()).to.equal(Buffer.from(valueOf(i)).toString());
    }
  });
});
