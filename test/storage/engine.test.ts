/**
 * The assembled storage engine: put/get semantics with siblings and
 * tombstones, scans across memtable + immutable memtables + tables, flush,
 * compaction through begin/finish/abort, retired table files kept while a
 * scan reads them, request validation, recovery from the commit log, the
 * `periodic` sync mode, and a real-disk round trip with the piscina pool.
 * Crash loops are in engine_crash.test.ts, the merge model in
 * compaction.test.ts.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageEngine, type EngineOptions } from '../../storage/engine.js';
import { SimFileSystem } from '../../storage/sim_fs.js';
import { RealFileSystem } from '../../storage/real_fs.js';
import { InlineCompactionExecutor, runCompaction, type CompactionExecutor } from '../../storage/compaction_task.js';
import { PoolCompactionExecutor } from '../../storage/compaction_pool.js';
import { SSTableWriter } from '../../storage/sstable_writer.js';
import type { CommitLogTimers } from '../../storage/commit_log.js';
import type { FileSystem } from '../../storage/fs.js';
import type { Version } from '../../storage/version.js';
import { CorruptionError, InvalidRequestError } from '../../src/core/errors.js';
import { KEY_MAX_BYTES, VALUE_MAX_BYTES } from '../../src/core/limits.js';
import { encodeClock, increment, merge, vectorClockOrder, type VectorClock } from '../../src/core/vector_clock.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { __plantBugForTests } from '../../src/core/planted_bugs.js';
import { dottedVersionVectorOrder, encodeDvv, valueDigest } from '../../src/core/dotted_version_vector.js';

const DIR = '/node/data';
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const key = (s: string): Uint8Array => encoder.encode(s);
const text = (b: Uint8Array): string => decoder.decode(b);

/** A version with a real vector clock. */
function version(clock: VectorClock, value: string | null, ts_ms = 1_000): Version {
  return { clock: encodeClock(clock), value: value === null ? null : encoder.encode(value), ts_ms };
}

/** A clock after `counts` writes by each node, e.g. { a: 2, b: 1 }. */
function vc(counts: Record<string, number>): VectorClock {
  let clock: VectorClock = [];
  for (const [node, n] of Object.entries(counts)) for (let i = 0; i < n; i++) clock = increment(clock, node, 1_000);
  return clock;
}

/** Values of a get, sorted; tombstones as '∅'. */
function values(versions: readonly Version[]): string[] {
  return versions.map((v) => (v.value === null ? '∅' : text(v.value))).sort();
}

interface Clock {
  now_ms: number;
}

function open(fs: FileSystem, extra: Partial<EngineOptions> = {}, clock: Clock = { now_ms: 1_000 }): Promise<StorageEngine> {
  return StorageEngine.open({ fs, dir: DIR, order: vectorClockOrder, now: () => clock.now_ms, ...extra });
}

/** Compact every live table (or `fileNumbers`) through begin/run/finish. */
async function compactAll(engine: StorageEngine, executor: CompactionExecutor, fileNumbers?: number[]): Promise<void> {
  const task = engine.beginCompaction(fileNumbers ?? engine.compactionCandidates().map((t) => t.fileNumber));
  expect(task, 'the tables can be reserved').to.not.equal(undefined);
  const result = await executor.compact(task!);
  await engine.finishCompaction(task!, result);
}

/** Manual timers for the periodic sync mode: nothing fires unless the test says so. */
class ManualTimers implements CommitLogTimers {
  private pending: { fn: () => void; cancelled: boolean }[] = [];
  schedule(_delay_ms: number, fn: () => void): { cancel(): void } {
    const entry = { fn, cancelled: false };
    this.pending.push(entry);
    return { cancel: () => void (entry.cancelled = true) };
  }
  fireAll(): void {
    const due = this.pending;
    this.pending = [];
    for (const entry of due) if (!entry.cancelled) entry.fn();
  }
}

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('storage/engine', () => {
  it('loses no acknowledged write when a flush fails and later flushes are asked for', async () => {
    let fs = new SimFileSystem();
    const engine = await open(fs, { memtableFlushBytes: 2000, onError: () => undefined });
    fs.failNext('append', { path: `${DIR}/00000001.sst` });
    const acked: string[] = [];
    for (let i = 0; i < 60; i++) {
      const name = `k${String(i).padStart(3, '0')}`;
      try {
        await engine.put(key(name), version(vc({ a: 1 }), `value-${i}-${'-'.repeat(50)}`));
        acked.push(name);
      } catch {
        // refused once the flush failed
      }
    }
    let flushError: unknown;
    await engine.flush().catch((err: unknown) => (flushError = err));
    expect(flushError, 'flush() reports the earlier failure').to.be.instanceOf(Error);
    expect(acked.length).to.be.greaterThan(0);
    fs = fs.crash();
    const reopened = await open(fs);
    const missing = acked.filter((name) => reopened.get(key(name)).length === 0);
    expect(missing, 'acknowledged writes lost after the failed flush').to.deep.equal([]);
    await reopened.close();
  });

  it('refuses to open when commit-log segments the manifest needs are missing', async () => {
    const fs = new SimFileSystem();
    const engine = await open(fs, { memtableFlushBytes: 1000 });
    for (let i = 0; i < 50; i++) await engine.put(key(`k${i}`), version(vc({ a: 1 }), 'x'.repeat(40)));
    await engine.flush();
    await engine.close();
    for (const name of await fs.list(`${DIR}/commitlog`)) await fs.remove(`${DIR}/commitlog/${name}`);
    let failure: unknown;
    await open(fs).catch((err: unknown) => (failure = err));
    expect(failure).to.be.instanceOf(CorruptionError);
    expect(String(failure)).to.match(/segments are missing/);
  });

  it('recovers a key whose siblings exceed SIBLINGS_MAX across memtables (replay restores what was accepted)', async () => {
    let fs = new SimFileSystem();
    const engine = await open(fs, { memtableFlushBytes: 1 << 20 });
    for (let i = 0; i < 64; i++) await engine.put(key('k'), version(vc({ [`w${i}`]: 1 }), 'x'));
    void engine.flush().catch(() => undefined); // freeze: the 65th lands in a new memtable
    await engine.put(key('k'), version(vc({ w64: 1 }), 'x'));
    expect(engine.get(key('k')).length).to.equal(65);
    fs = fs.crash();
    const reopened = await open(fs);
    expect(reopened.get(key('k')).length, 'every accepted sibling recovered').to.equal(65);
    await reopened.flush();
    expect(reopened.get(key('k')).length).to.equal(65);
    await reopened.close();
  });

  describe('versions', () => {
    it('keeps concurrent versions as siblings and lets a descendant replace them all', async () => {
      const engine = await open(new SimFileSystem());
      const k = key('cart');
      const fromA = vc({ a: 1 });
      const fromB = vc({ b: 1 });
      await engine.put(k, version(fromA, 'apple'));
      await engine.put(k, version(fromB, 'bread'));
      expect(values(engine.get(k))).to.deep.equal(['apple', 'bread']);
      // A write that read only one sibling does not replace the other.
      await engine.put(k, version(increment(fromA, 'a', 2_000), 'apple2'));
      expect(values(engine.get(k))).to.deep.equal(['apple2', 'bread']);
      // A write whose context is both siblings replaces both.
      await engine.put(k, version(increment(merge(increment(fromA, 'a', 2_000), fromB), 'c', 3_000), 'merged'));
      expect(values(engine.get(k))).to.deep.equal(['merged']);
      // An older version arriving late is dominated and ignored.
      await engine.put(k, version(fromB, 'bread'));
      expect(values(engine.get(k))).to.deep.equal(['merged']);
      expect(engine.get(key('other'))).to.deep.equal([]);
      await engine.close();
    });

    it('returns a tombstone as a version with value null, and siblings of it', async () => {
      const engine = await open(new SimFileSystem());
      const k = key('gone');
      await engine.put(k, version(vc({ a: 1 }), 'v1'));
      await engine.put(k, version(vc({ a: 2 }), null, 1_500));
      const got = engine.get(k);
      expect(got).to.have.length(1);
      expect(got[0]!.value).to.equal(null);
      expect(got[0]!.ts_ms).to.equal(1_500);
      expect(Buffer.from(got[0]!.clock).equals(Buffer.from(encodeClock(vc({ a: 2 }))))).to.equal(true);
      await engine.put(k, version(vc({ a: 1, b: 1 }), 'concurrent'));
      expect(values(engine.get(k))).to.deep.equal(['concurrent', '∅']);
      await engine.flush();
      expect(values(engine.get(k))).to.deep.equal(['concurrent', '∅']);
      expect([...engine.scan()].map((e) => [text(e.key), values(e.versions)])).to.deep.equal([['gone', ['concurrent', '∅']]]);
      await engine.close();
    });

    it('refuses oversized keys, values and empty keys with InvalidRequestError, storing nothing', async () => {
      const engine = await open(new SimFileSystem());
      const ok = version(vc({ a: 1 }), 'x');
      const cases: [Uint8Array, Version][] = [
        [new Uint8Array(KEY_MAX_BYTES + 1), ok],
        [new Uint8Array(0), ok],
        [key('big'), { clock: ok.clock, value: new Uint8Array(VALUE_MAX_BYTES + 1), ts_ms: 1 }],
        [key('nan'), { clock: ok.clock, value: null, ts_ms: Number.NaN }],
      ];
      for (const [k, v] of cases) {
        let thrown: unknown;
        try {
          await engine.put(k, v);
        } catch (err) {
          thrown = err;
        }
        expect(thrown, `put of key ${k.length} bytes`).to.be.instanceOf(InvalidRequestError);
      }
      // The largest allowed sizes are accepted.
      await engine.put(new Uint8Array(KEY_MAX_BYTES).fill(7), { clock: ok.clock, value: new Uint8Array(VALUE_MAX_BYTES).fill(9), ts_ms: 1 });
      expect([...engine.scan()].map((e) => e.key.length)).to.deep.equal([KEY_MAX_BYTES]);
      expect(engine.get(key('big'))).to.deep.equal([]);
      await engine.close();
    });
  });

  describe('scans and flushes', () => {
    it('merges memtable, frozen memtables and tables in key order with bounds', async () => {
      const fs = new SimFileSystem();
      const engine = await open(fs, { memtableFlushBytes: 1 << 30 });
      const model = new Map<string, string[]>();
      const put = async (k: string, clock: VectorClock, value: string | null): Promise<void> => {
        await engine.put(key(k), version(clock, value));
      };
      // Table 1: k00..k19 (even values), table 2 overwrites every third key, memtable has k10..k29 siblings.
      for (let i = 0; i < 20; i++) await put(`k${String(i).padStart(2, '0')}`, vc({ a: 1 }), `t1-${i}`);
      await engine.flush();
      for (let i = 0; i < 20; i += 3) await put(`k${String(i).padStart(2, '0')}`, vc({ a: 2 }), i % 2 === 0 ? null : `t2-${i}`);
      await engine.flush();
      expect(engine.tableCount).to.equal(2);
      for (let i = 10; i < 30; i++) await put(`k${String(i).padStart(2, '0')}`, vc({ b: 1 }), `m-${i}`);
      for (let i = 0; i < 30; i++) {
        const name = `k${String(i).padStart(2, '0')}`;
        const base = i >= 20 ? [] : i % 3 === 0 ? [i % 2 === 0 ? '∅' : `t2-${i}`] : [`t1-${i}`];
        model.set(name, [...base, ...(i >= 10 ? [`m-${i}`] : [])].sort());
      }
      const check = (from?: string, to?: string): void => {
        const got = [...engine.scan(from === undefined ? undefined : key(from), to === undefined ? undefined : key(to))];
        const expected = [...model.entries()].filter(([k]) => (from === undefined || k >= from) && (to === undefined || k < to));
        expect(got.map((e) => [text(e.key), values(e.versions)]), `scan [${from}, ${to})`).to.deep.equal(expected);
        for (const e of got) expect(values(engine.get(e.key))).to.deep.equal(values(e.versions));
      };
      check();
      check('k05', 'k15');
      check('k095', 'k21'); // bounds that are not keys
      check(undefined, 'k03');
      check('k28');
      check('k15', 'k15');
      check('zz');
      // Freeze the memtable without letting the flush finish: the frozen memtable is read too.
      const flushing = engine.flush();
      await engine.put(key('k40'), version(vc({ c: 1 }), 'fresh'));
      model.set('k40', ['fresh']);
      check();
      await flushing;
      expect(engine.tableCount).to.equal(3);
      check();
      check('k12', 'k41');
      await engine.close();
    });

    it('flushes when the memtable passes memtableFlushBytes, then reads from tables', async () => {
      const fs = new SimFileSystem();
      let changes = 0;
      const engine = await open(fs, { memtableFlushBytes: 8 * 1024, onTablesChanged: () => void changes++ });
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 600; i++) writes.push(engine.put(key(`key-${i}`), version(vc({ a: 1 }), `value-${i}`)));
      await Promise.all(writes);
      await engine.flush();
      expect(engine.stats.flushes).to.be.greaterThan(5);
      expect(changes).to.equal(engine.stats.flushes);
      expect(engine.memtableBytes).to.equal(0);
      for (let i = 0; i < 600; i++) expect(values(engine.get(key(`key-${i}`)))).to.deep.equal([`value-${i}`]);
      expect([...engine.scan()]).to.have.length(600);
      await engine.close();
    });
  });

  describe('compaction', () => {
    it('keeps every key readable through begin/finish and reduces the table count', async () => {
      const fs = new SimFileSystem();
      const clock = { now_ms: 1_000 };
      const engine = await open(fs, { tombstoneGrace_ms: 100 }, clock);
      const model = new Map<string, string[]>();
      const tombstones = new Map<string, Version>();
      for (let t = 0; t < 5; t++) {
        for (let i = t; i < 50; i += 2) {
          const k = `key-${String(i).padStart(2, '0')}`;
          const tomb = (i + t) % 7 === 0;
          const v = version(vc({ a: t + 1 }), tomb ? null : `v${t}-${i}`, clock.now_ms);
          await engine.put(key(k), v);
          model.set(k, [tomb ? '∅' : `v${t}-${i}`]);
          if (tomb) tombstones.set(k, v);
          else tombstones.delete(k);
        }
        await engine.flush();
      }
      expect(engine.tableCount).to.equal(5);
      const files = (await fs.list(DIR)).filter((n) => n.endsWith('.sst'));
      expect(files).to.have.length(5);
      // Tombstones are young: all kept.
      await compactAll(engine, new InlineCompactionExecutor(fs));
      expect(engine.tableCount).to.equal(1);
      await ticks(10);
      const after = (await fs.list(DIR)).filter((n) => n.endsWith('.sst'));
      expect(after).to.have.length(1);
      expect(files).to.not.include(after[0]);
      for (const [k, v] of model) expect(values(engine.get(key(k))), k).to.deep.equal(v);
      expect([...engine.scan()].map((e) => text(e.key))).to.deep.equal([...model.keys()].sort());
      // Past the grace period, tombstones no owner confirmed stay.
      clock.now_ms += 1_000;
      await engine.put(key('zzz'), version(vc({ a: 1 }), 'fresh'));
      await engine.flush();
      await compactAll(engine, new InlineCompactionExecutor(fs));
      for (const [k, v] of model) expect(values(engine.get(key(k))), k).to.deep.equal(v);
      // Confirmed (every owner holds them) and with no other table holding them, tombstones go; values stay.
      expect(tombstones.size, 'the workload deletes').to.be.greaterThan(0);
      for (const [k, v] of tombstones) await engine.put(key(k), { ...v, purgeable: true });
      await engine.flush();
      await compactAll(engine, new InlineCompactionExecutor(fs));
      for (const [k, v] of model) expect(values(engine.get(key(k))), k).to.deep.equal(v[0] === '∅' ? [] : v);
      expect(engine.stats.compactions).to.equal(3);
      await engine.close();
      // And it all survives a reopen.
      const reopened = await open(fs, {}, clock);
      for (const [k, v] of model) expect(values(reopened.get(key(k))), k).to.deep.equal(v[0] === '∅' ? [] : v);
      await reopened.close();
    });

    it('does not purge a tombstone while an unflushed memtable holds a version it shadows', async () => {
      const fs = new SimFileSystem();
      const clock = { now_ms: 1_000 };
      const engine = await open(fs, { tombstoneGrace_ms: 10 }, clock);
      const k = key('shadowed');
      await engine.put(k, { ...version(vc({ a: 2 }), null, 1_000), purgeable: true });
      await engine.flush();
      // A stale write (hinted handoff, a slow replica) arrives: the tombstone dominates it.
      await engine.put(k, version(vc({ a: 1 }), 'stale', 900));
      expect(values(engine.get(k))).to.deep.equal(['∅']);
      clock.now_ms = 5_000; // the tombstone is long past its grace period
      await compactAll(engine, new InlineCompactionExecutor(fs));
      // The delete must still win: the stale value may not come back, now or once flushed.
      expect(values(engine.get(k))).to.deep.equal(['∅']);
      await engine.flush();
      expect(values(engine.get(k))).to.deep.equal(['∅']);
      await engine.close();
    });

    it('purges a tombstone past its grace only once confirmed; the planted timer-only-purge bug purges it unconfirmed', async () => {
      const outcomes: string[][] = [];
      for (const bug of [null, 'timer-only-purge'] as const) {
        __plantBugForTests(bug);
        try {
          const fs = new SimFileSystem();
          const clock = { now_ms: 1_000 };
          const engine = await open(fs, { tombstoneGrace_ms: 100 }, clock);
          const tombstone = version(vc({ a: 2 }), null, 1_000);
          await engine.put(key('deleted'), tombstone);
          await engine.put(key('kept'), version(vc({ a: 1 }), 'value'));
          await engine.flush();
          clock.now_ms = 5_000;
          await compactAll(engine, new InlineCompactionExecutor(fs));
          outcomes.push(values(engine.get(key('deleted'))));
          await engine.close();
        } finally {
          __plantBugForTests(null);
        }
      }
      expect(outcomes, 'kept unconfirmed; purged by the timer alone with the bug planted').to.deep.equal([['∅'], []]);
    });

    it('keeps the confirmation of a tombstone through commit-log replay, flushes and compaction', async () => {
      const fs = new SimFileSystem();
      const clock = { now_ms: 1_000 };
      const k = key('deleted');
      const tombstone = version(vc({ a: 2 }), null, 1_000);
      let engine = await open(fs, { tombstoneGrace_ms: 100 }, clock);
      await engine.put(k, tombstone);
      await engine.put(k, { ...tombstone, purgeable: true });
      // An unconfirmed copy arriving later (read repair, a replayed hint) does not undo the confirmation.
      await engine.put(k, tombstone);
      const confirmed = (e: StorageEngine): (true | undefined)[] => e.get(k).map((v) => v.purgeable);
      expect(confirmed(engine), 'memtable').to.deep.equal([true]);
      await engine.close();
      engine = await open(fs, { tombstoneGrace_ms: 100 }, clock);
      expect(confirmed(engine), 'after commit-log replay').to.deep.equal([true]);
      await engine.flush();
      await engine.put(k, tombstone);
      await engine.flush();
      await engine.close();
      engine = await open(fs, { tombstoneGrace_ms: 100 }, clock);
      expect(engine.tableCount).to.equal(2);
      expect(confirmed(engine), 'read from SSTables').to.deep.equal([true]);
      await compactAll(engine, new InlineCompactionExecutor(fs));
      expect(confirmed(engine), 'merged by a compaction (young: kept)').to.deep.equal([true]);
      clock.now_ms = 5_000;
      await engine.put(key('other'), version(vc({ a: 1 }), 'value'));
      await engine.flush();
      await compactAll(engine, new InlineCompactionExecutor(fs));
      expect(engine.get(k), 'confirmed and past its grace: purged').to.deep.equal([]);
      await engine.close();
    });

    it('keeps retired table files while a scan reads them, deleting them after the last reader', async () => {
      const fs = new SimFileSystem();
      const engine = await open(fs);
      for (let t = 0; t < 3; t++) {
        for (let i = 0; i < 40; i++) await engine.put(key(`k${String(i).padStart(2, '0')}`), version(vc({ a: t + 1 }), `v${t}-${i}`));
        await engine.flush();
      }
      const before = (await fs.list(DIR)).filter((n) => n.endsWith('.sst'));
      expect(before).to.have.length(3);
      const first = engine.scan();
      const second = engine.scan(key('k10'), key('k20'));
      const seenFirst = [first.next().value!];
      const seenSecond = [second.next().value!];
      await compactAll(engine, new InlineCompactionExecutor(fs));
      await ticks(20);
      const during = (await fs.list(DIR)).filter((n) => n.endsWith('.sst'));
      expect(during, 'inputs stay while scans read them').to.include.members(before);
      expect(during).to.have.length(4);
      for (const e of first) seenFirst.push(e);
      await ticks(20);
      expect((await fs.list(DIR)).filter((n) => n.endsWith('.sst')), 'one reader is left').to.have.length(4);
      for (const e of second) seenSecond.push(e);
      await ticks(20);
      const after = (await fs.list(DIR)).filter((n) => n.endsWith('.sst'));
      expect(after, 'the last reader released the inputs').to.have.length(1);
      expect(before).to.not.include(after[0]);
      expect(seenFirst.map((e) => `${text(e.key)}=${values(e.versions).join()}`)).to.deep.equal(
        Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, '0')}=v2-${i}`),
      );
      expect(seenSecond.map((e) => text(e.key))).to.deep.equal(Array.from({ length: 10 }, (_, i) => `k${i + 10}`));
      // A scan abandoned early (return()) releases too.
      const third = engine.scan();
      third.next();
      await engine.put(key('k99'), version(vc({ a: 9 }), 'x'));
      await engine.flush();
      await compactAll(engine, new InlineCompactionExecutor(fs));
      // The third scan read only the first compaction's output (the flushed table came later).
      const held = (await fs.list(DIR)).filter((n) => n.endsWith('.sst'));
      expect(held).to.have.length(2);
      expect(held).to.include(after[0]);
      third.return(undefined);
      await ticks(20);
      expect((await fs.list(DIR)).filter((n) => n.endsWith('.sst'))).to.have.length(1);
      await engine.close();
    });

    it('abortCompaction removes the partial output and frees the inputs', async () => {
      const fs = new SimFileSystem();
      const engine = await open(fs);
      for (let t = 0; t < 2; t++) {
        for (let i = 0; i < 30; i++) await engine.put(key(`k${i}`), version(vc({ a: t + 1 }), `v${t}`));
        await engine.flush();
      }
      const numbers = engine.compactionCandidates().map((t) => t.fileNumber);
      const task = engine.beginCompaction(numbers)!;
      expect(engine.compactionCandidates(), 'reserved tables are not candidates').to.deep.equal([]);
      expect(engine.beginCompaction(numbers), 'a table is compacted once at a time').to.equal(undefined);
      // A partial output: the merge wrote some entries and stopped.
      const writer = await SSTableWriter.create(fs, task.output);
      await writer.append(key('k0'), [version(vc({ a: 2 }), 'v1')]);
      expect(await fs.exists(task.output)).to.equal(true);
      await engine.abortCompaction(task);
      expect(await fs.exists(task.output)).to.equal(false);
      expect(engine.compactionCandidates().map((t) => t.fileNumber).sort()).to.deep.equal([...numbers].sort());
      expect(engine.tableCount).to.equal(2);
      for (let i = 0; i < 30; i++) expect(values(engine.get(key(`k${i}`)))).to.deep.equal(['v1']);
      // The inputs can be compacted again; a full run then succeeds.
      const again = engine.beginCompaction(numbers)!;
      await engine.finishCompaction(again, await runCompaction(fs, again));
      expect(engine.tableCount).to.equal(1);
      await engine.close();
    });
  });

  describe('recovery and sync modes', () => {
    it('replays the commit log after a crash with unflushed data', async () => {
      let fs = new SimFileSystem();
      const engine = await open(fs);
      for (let i = 0; i < 50; i++) await engine.put(key(`flushed-${i}`), version(vc({ a: 1 }), `f${i}`));
      await engine.flush();
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) writes.push(engine.put(key(`logged-${i}`), version(vc({ a: 1 }), `l${i}`)));
      await engine.put(key('flushed-0'), version(vc({ a: 2 }), 'newer'));
      await Promise.all(writes);
      expect(engine.memtableBytes).to.be.greaterThan(0);
      fs = fs.crash(new Prng(1));
      const recovered = await open(fs);
      for (let i = 0; i < 50; i++) {
        expect(values(recovered.get(key(`flushed-${i}`)))).to.deep.equal([i === 0 ? 'newer' : `f${i}`]);
        expect(values(recovered.get(key(`logged-${i}`)))).to.deep.equal([`l${i}`]);
      }
      expect(recovered.memtableBytes, 'the log was replayed into the memtable').to.be.greaterThan(0);
      await recovered.close();
    });

    it('periodic sync mode loses at most unsynced writes after a crash, and never corrupts', async () => {
      const seed = seedFrom(process.env.SEED, Date.now());
      console.log(`      periodic crash: SEED=${seed}`);
      const prng = new Prng(seed);
      for (let round = 0; round < 40; round++) {
        const where = `SEED=${seed} round ${round}`;
        let fs = new SimFileSystem();
        const timers = new ManualTimers();
        const engine = await open(fs, { syncMode: 'periodic', timers, periodicSync_ms: 10, memtableFlushBytes: 1 << 30 });
        const total = prng.range(10, 200);
        const syncedAt = prng.int(total + 1);
        for (let i = 0; i < total; i++) {
          // Acknowledged after the write, before any fsync.
          await engine.put(key(`w${String(i).padStart(4, '0')}`), version(vc({ a: 1 }), `value-${i}`));
          if (i + 1 === syncedAt) {
            timers.fireAll();
            await ticks(50); // the sync runs on the log's I/O chain
          }
        }
        fs = fs.crash(prng);
        const recovered = await open(fs, { syncMode: 'periodic', timers: new ManualTimers() });
        const got = [...recovered.scan()].map((e) => [text(e.key), values(e.versions)]);
        // What survives is a prefix of the writes: all synced ones, maybe some more, nothing torn or invented.
        expect(got.length, where).to.be.at.least(syncedAt);
        expect(got.length, where).to.be.at.most(total);
        expect(got, where).to.deep.equal(got.map((_, i) => [`w${String(i).padStart(4, '0')}`, [`value-${i}`]]));
        await recovered.close();
      }
    });
  });

  describe('real disk', function () {
    this.timeout(120_000);
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'ringkv-engine-'));
    });
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('writes 20k keys, reopens, compacts on the piscina pool and reads them all back', async () => {
      const fs = new RealFileSystem();
      const valueOf = (i: number): string => `value-${i}-${'x'.repeat(i % 50)}`;
      const keyOf = (i: number): Uint8Array => key(`user:${String(i).padStart(6, '0')}`);
      const N = 20_000;
      const engine = await StorageEngine.open({ fs, dir, order: vectorClockOrder, now: () => 1_000, memtableFlushBytes: 512 * 1024 });
      for (let start = 0; start < N; start += 1_000) {
        const batch: Promise<void>[] = [];
        for (let i = start; i < start + 1_000; i++) batch.push(engine.put(keyOf(i), version(vc({ a: 1 }), valueOf(i))));
        await Promise.all(batch); // concurrent puts share fsyncs (group commit)
      }
      await engine.flush();
      expect(engine.tableCount).to.be.greaterThan(3);
      await engine.close();

      const reopened = await StorageEngine.open({ fs, dir, order: vectorClockOrder, now: () => 1_000, memtableFlushBytes: 512 * 1024 });
      const readAll = (e: StorageEngine, label: string): void => {
        for (let i = 0; i < N; i++) {
          const got = e.get(keyOf(i));
          if (got.length !== 1 || got[0]!.value === null || text(got[0]!.value) !== valueOf(i)) {
            expect.fail(`${label}: key ${i} read ${JSON.stringify(values(got))}`);
          }
        }
        let n = 0;
        for (const entry of e.scan()) {
          expect(text(entry.key)).to.equal(`user:${String(n).padStart(6, '0')}`);
          n++;
        }
        expect(n, label).to.equal(N);
      };
      readAll(reopened, 'after reopen');
      const tablesBefore = reopened.tableCount;
      const pool = new PoolCompactionExecutor(1);
      try {
        await compactAll(reopened, pool);
      } finally {
        await pool.close();
      }
      expect(reopened.tableCount).to.equal(1);
      expect(tablesBefore).to.be.greaterThan(1);
      readAll(reopened, 'after compaction');
      await reopened.close();
      const again = await StorageEngine.open({ fs, dir, order: vectorClockOrder, now: () => 1_000 });
      readAll(again, 'after compaction and reopen');
      await again.close();
    });
  });
});

/** Issue 12, "Merges check what they merge": one dot, two values, through every path that reconciles. */
describe('storage/engine dot conflicts', () => {
  afterEach(() => __plantBugForTests(null));

  /** Two stored versions under one dot (a:1) with different values: a dot minted twice. */
  const conflicting = (value: string): Version => {
    const bytes = encoder.encode(value);
    return { clock: encodeDvv({ dot: { actor: 'a', counter: 1, ts_ms: 1_000, digest: valueDigest(bytes) }, past: [] }), value: bytes, ts_ms: 1_000 };
  };

  async function openDvv(fs: FileSystem, told: string[]): Promise<StorageEngine> {
    return StorageEngine.open({
      fs,
      dir: DIR,
      order: dottedVersionVectorOrder,
      now: () => 1_000,
      onDotConflict: (k, a, b) => told.push(`${text(k)}:${values([a, b]).join('|')}`),
    });
  }

  it('keeps both versions and tells onDotConflict: in the memtable, across a table, in scans and compaction, after replay', async () => {
    const fs = new SimFileSystem();
    const told: string[] = [];
    const engine = await openDvv(fs, told);
    await engine.put(key('k'), conflicting('one'));
    await engine.put(key('k'), conflicting('two'));
    expect(values(engine.get(key('k')))).to.deep.equal(['one', 'two']);
    expect(told[0], 'the memtable insert tells').to.equal('k:one|two');
    await engine.put(key('j'), conflicting('one'));
    await engine.flush();
    await engine.put(key('j'), conflicting('three'));
    told.length = 0;
    expect(values(engine.get(key('j'))), 'a table and the memtable disagree').to.deep.equal(['one', 'three']);
    expect(told).to.deep.equal(['j:one|three']);
    told.length = 0;
    expect([...engine.scan()].map((e) => `${text(e.key)}=${values(e.versions).join('|')}`)).to.deep.equal(['j=one|three', 'k=one|two']);
    expect(told).to.include('j:one|three');
    await engine.flush();
    told.length = 0;
    await compactAll(engine, new InlineCompactionExecutor(fs, dottedVersionVectorOrder));
    expect(told, 'the compaction result carries its conflicts back').to.include('j:one|three');
    expect(values(engine.get(key('j')))).to.deep.equal(['one', 'three']);
    await engine.close();
    const reopened = await openDvv(fs, told);
    expect(values(reopened.get(key('k')))).to.deep.equal(['one', 'two']);
    expect(values(reopened.get(key('j')))).to.deep.equal(['one', 'three']);
    await reopened.close();
  });

  it("planted bug 'silent-same-dot-merge': the second value is dropped and nobody is told", async () => {
    __plantBugForTests('silent-same-dot-merge');
    const told: string[] = [];
    const engine = await openDvv(new SimFileSystem(), told);
    await engine.put(key('k'), conflicting('one'));
    await engine.put(key('k'), conflicting('two'));
    expect(values(engine.get(key('k')))).to.deep.equal(['one']);
    expect(told).to.deep.equal([]);
    await engine.close();
  });
});
