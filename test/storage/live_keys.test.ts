/**
 * Live-key counts for DBSIZE (issue 13 item 13): deleted keys do not count
 * once the delete is stored, and a key held by several memtables and tables
 * counts once. The old estimate (entries of every table and memtable) counted
 * both.
 */
import { expect } from 'chai';
import { StorageEngine } from '../../storage/engine.js';
import { LiveKeyCounter } from '../../storage/live_keys.js';
import { SimFileSystem } from '../../storage/sim_fs.js';
import type { Version } from '../../storage/version.js';
import { encodeClock, increment, vectorClockOrder, type VectorClock } from '../../src/core/vector_clock.js';
import { LIVE_KEYS_RECOUNT_MIN_INTERVAL_MS, LIVE_KEYS_SCAN_STEP_ENTRIES } from '../../src/core/limits.js';

const utf8 = new TextEncoder();

function clockOf(writes: number): VectorClock {
  let clock: VectorClock = [];
  for (let i = 0; i < writes; i++) clock = increment(clock, 'a', 1_000);
  return clock;
}

function version(writes: number, value: string | null): Version {
  return { clock: encodeClock(clockOf(writes)), value: value === null ? null : utf8.encode(value), ts_ms: 1_000 + writes };
}

describe('storage/live_keys', () => {
  it('counts live keys once each, without deleted ones, across memtables and tables, in steps', async () => {
    const clock = { now_ms: 1_000 };
    const engine = await StorageEngine.open({ fs: new SimFileSystem(), dir: '/n', order: vectorClockOrder, now: () => clock.now_ms });
    const keys = LIVE_KEYS_SCAN_STEP_ENTRIES + 100; // more than one step
    for (let i = 0; i < keys; i++) await engine.put(utf8.encode(`k${i}`), version(1, `v${i}`));
    await engine.flush();
    // Deletes of 30 keys and overwrites of 20 others land in a second table and the memtable: each key is then in two places.
    for (let i = 0; i < 30; i++) await engine.put(utf8.encode(`k${i}`), version(2, null));
    await engine.flush();
    for (let i = 30; i < 50; i++) await engine.put(utf8.encode(`k${i}`), version(2, `w${i}`));
    expect(engine.keysEstimate, 'the old estimate counts every place a key is').to.be.greaterThan(keys);

    let turns = 0;
    const counter = new LiveKeyCounter(async () => void turns++, () => clock.now_ms);
    expect(await counter.count(engine)).to.equal(keys - 30);
    expect(turns, 'the scan let other messages run between steps').to.be.greaterThan(0);

    // A delete stored: counted out at the next recount (not before LIVE_KEYS_RECOUNT_MIN_INTERVAL_MS).
    await engine.put(utf8.encode('k40'), version(3, null));
    expect(await counter.count(engine), 'a count less than the interval old is reused').to.equal(keys - 30);
    clock.now_ms += LIVE_KEYS_RECOUNT_MIN_INTERVAL_MS;
    expect(await counter.count(engine)).to.equal(keys - 31);
    await engine.close();
  });
});
