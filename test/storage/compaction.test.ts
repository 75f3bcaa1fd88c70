/**
 * Compaction equals the model. Random SSTables (sorted unique keys, each with
 * 1..3 versions carrying real vector clocks, tombstones and timestamps) are
 * written with SSTableWriter to a simulated disk and merged by
 * `runCompaction` with a random notion of now, grace period, set of
 * "other" tables and confirmation rule. Some copies of tombstones are
 * purgeable (every owner confirmed them; issue 12). The output is compared
 * with a model computed here independently: the union of each key's versions
 * (a purgeable copy wins over an unconfirmed copy of the same version),
 * minus dominated ones, minus tombstones past the grace period that are
 * purgeable (or any, when the task does not require confirmation) when no
 * other table holds the key.
 *
 * The model uses exact key membership where the code uses bloom filters: a
 * false positive only keeps a tombstone, so model-kept ⊆ output and anything
 * more in the output is a purgeable tombstone whose key is a bloom positive in
 * the other tables. The key property: no live value version is ever lost.
 *
 * Then the piscina pool executor, on real disk, must produce what the inline
 * executor produces.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCompaction, InlineCompactionExecutor, type CompactionTask } from '../../storage/compaction_task.js';
import { PoolCompactionExecutor } from '../../storage/compaction_pool.js';
import { SimFileSystem } from '../../storage/sim_fs.js';
import { RealFileSystem } from '../../storage/real_fs.js';
import { SSTableWriter } from '../../storage/sstable_writer.js';
import { SSTableReader } from '../../storage/sstable_reader.js';
import { BloomFilter } from '../../storage/bloom.js';
import { compareKeys } from '../../storage/key_order.js';
import type { FileSystem } from '../../storage/fs.js';
import type { Version } from '../../storage/version.js';
import { encodeDvv } from '../../src/core/dotted_version_vector.js';
import { hash32 } from '../../src/core/hash.js';
import { compare, encodeClock, increment, type VectorClock } from '../../src/core/vector_clock.js';
import { Prng, seedFrom } from '../../src/core/prng.js';

const WRITERS = ['a', 'b', 'c'];
const KEY_SPACE = 16;
const encoder = new TextEncoder();
const KEYS = Array.from({ length: KEY_SPACE }, (_, i) => encoder.encode(`key-${String(i).padStart(2, '0')}`));

/** A version of the model: the clock object for `compare`, the stored form, its print and the print of the version whatever its copy's flag. */
interface ModelVersion {
  clock: VectorClock;
  stored: Version;
  print: string;
  id: string;
}

/** Clock, value, timestamp, and '/purgeable' on a purgeable copy. */
function fingerprint(v: Version): string {
  const value = v.value === null ? 'tombstone' : Buffer.from(v.value).toString('hex');
  return `${Buffer.from(v.clock).toString('hex')}/${value}/${v.ts_ms}${v.purgeable ? '/purgeable' : ''}`;
}

/**
 * The version of key `keyIndex` with clock `counts` (writes per writer). Its
 * value, tombstone flag and timestamp are a function of key, clock and
 * `salt`, so equal clocks always carry equal content, as in a real store.
 */
function makeVersion(keyIndex: number, counts: readonly number[], salt: number): ModelVersion {
  let clock: VectorClock = [];
  counts.forEach((n, w) => {
    for (let i = 0; i < n; i++) clock = increment(clock, WRITERS[w]!, 1 + i);
  });
  const h = hash32(encoder.encode(`${keyIndex}:${counts.join(',')}`), salt);
  const tombstone = h % 4 === 0;
  const stored: Version = {
    clock: encodeClock(clock),
    value: tombstone ? null : encoder.encode(`v${keyIndex}.${counts.join('')}.${h % 97}`),
    ts_ms: (h >>> 4) % 1_000,
  };
  return { clock, stored, print: fingerprint(stored), id: fingerprint(stored) };
}

/** The copy of `v` that table `tableIndex` holds: tombstones are purgeable in some tables and not in others. */
function copyIn(v: ModelVersion, tableIndex: number, salt: number): ModelVersion {
  if (v.stored.value !== null || hash32(encoder.encode(`${v.id}@${tableIndex}`), salt) % 2 === 0) return v;
  const stored: Version = { ...v.stored, purgeable: true };
  return { ...v, stored, print: fingerprint(stored) };
}

/** A table as generated: key index → versions (deduplicated by clock). */
type TableSpec = Map<number, ModelVersion[]>;

const countsArb = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }))
  .filter((c) => c[0] + c[1] + c[2] > 0);
const entryArb = fc.record({ keyIndex: fc.integer({ min: 0, max: KEY_SPACE - 1 }), versions: fc.array(countsArb, { minLength: 1, maxLength: 3 }) });
const tableArb = fc.array(entryArb, { minLength: 1, maxLength: 12 });

function buildTable(entries: { keyIndex: number; versions: [number, number, number][] }[], salt: number, tableIndex: number): TableSpec {
  const table: TableSpec = new Map();
  for (const entry of entries) {
    if (table.has(entry.keyIndex)) continue;
    const versions: ModelVersion[] = [];
    for (const counts of entry.versions) {
      const v = copyIn(makeVersion(entry.keyIndex, counts, salt), tableIndex, salt);
      if (!versions.some((u) => u.print === v.print)) versions.push(v);
    }
    table.set(entry.keyIndex, versions);
  }
  return table;
}

async function writeTable(fs: FileSystem, path: string, table: TableSpec, blockBytes?: number): Promise<void> {
  const writer = await SSTableWriter.create(fs, path, blockBytes === undefined ? {} : { blockBytes });
  for (const keyIndex of [...table.keys()].sort((a, b) => a - b)) {
    await writer.append(KEYS[keyIndex]!, table.get(keyIndex)!.map((v) => v.stored));
  }
  await writer.finish();
}

/** Every entry of a table file, as key index → sorted fingerprints. */
async function readTable(fs: FileSystem, path: string): Promise<Map<number, string[]>> {
  const reader = await SSTableReader.open(fs, path);
  const out = new Map<number, string[]>();
  let previous: Uint8Array | undefined;
  try {
    for (const entry of reader.scan()) {
      if (previous !== undefined) expect(compareKeys(previous, entry.key), 'output keys strictly increase').to.be.lessThan(0);
      previous = entry.key;
      const keyIndex = KEYS.findIndex((k) => compareKeys(k, entry.key) === 0);
      expect(keyIndex, 'output keys come from the inputs').to.be.at.least(0);
      out.set(keyIndex, entry.versions.map(fingerprint).sort());
    }
  } finally {
    await reader.close();
  }
  return out;
}

/** The model's output for one key, and what may differ from it. */
function modelKey(
  versions: ModelVersion[],
  now_ms: number,
  grace_ms: number,
  inOthers: boolean,
  requireConfirmation: boolean,
): { live: ModelVersion[]; kept: ModelVersion[]; purgeable: ModelVersion[] } {
  const union: ModelVersion[] = [];
  for (const v of versions) {
    const at = union.findIndex((u) => u.id === v.id);
    if (at < 0) union.push(v);
    else if (v.stored.purgeable === true) union[at] = v; // the confirmation is never lost
  }
  const live = union.filter((v) => !union.some((u) => compare(v.clock, u.clock) === 'before'));
  const confirmed = (v: ModelVersion): boolean => v.stored.purgeable === true || !requireConfirmation;
  const purgeable = live.filter((v) => v.stored.value === null && v.stored.ts_ms < now_ms - grace_ms && confirmed(v));
  const kept = purgeable.length > 0 && !inOthers ? live.filter((v) => !purgeable.includes(v)) : live;
  return { live, kept, purgeable };
}

describe('storage/compaction', () => {
  it('equals the model: union, drop dominated, purge old confirmed tombstones only when no other table holds the key (property)', async function () {
    this.timeout(60_000);
    const seed = seedFrom(process.env.SEED, Date.now());
    console.log(`      compaction model: SEED=${seed}`);
    let purgedTotal = 0;
    let bloomKeptTotal = 0;
    let unconfirmedKeptTotal = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(tableArb, { minLength: 1, maxLength: 4 }),
        fc.array(tableArb, { minLength: 0, maxLength: 2 }),
        fc.integer({ min: 0, max: 2_000 }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(undefined, 0.5, 0.01),
        fc.boolean(),
        async (inputSpecs, otherSpecs, now_ms, grace_ms, salt, bloomFpRate, timerOnly) => {
          const requireConfirmation = !timerOnly;
          const fs = new SimFileSystem();
          await fs.mkdirp('/t');
          const inputs = inputSpecs.map((e, i) => buildTable(e, salt, i));
          const others = otherSpecs.map((e, i) => buildTable(e, salt, inputSpecs.length + i));
          const inputPaths: string[] = [];
          const otherPaths: string[] = [];
          // Loose bloom filters in the others (fp 0.5) make false positives common.
          for (const [i, t] of inputs.entries()) {
            inputPaths.push(`/t/in-${i}.sst`);
            await writeTable(fs, inputPaths[i]!, t, 128);
          }
          for (const [i, t] of others.entries()) {
            otherPaths.push(`/t/other-${i}.sst`);
            const writer = await SSTableWriter.create(fs, otherPaths[i]!, { bloomFpRate: bloomFpRate ?? 0.5 });
            for (const k of [...t.keys()].sort((a, b) => a - b)) await writer.append(KEYS[k]!, t.get(k)!.map((v) => v.stored));
            await writer.finish();
          }
          const task: CompactionTask = {
            inputs: inputPaths,
            others: otherPaths,
            output: '/t/out.sst',
            now_ms,
            tombstoneGrace_ms: grace_ms,
            requireConfirmation,
            bloomFpRate: 0.01,
          };
          const result = await runCompaction(fs, task);
          const output = result.meta === null ? new Map<number, string[]>() : await readTable(fs, task.output);
          if (result.meta === null) expect(await fs.exists(task.output), 'an empty output leaves no file').to.equal(false);

          const otherReaders = await Promise.all(otherPaths.map((p) => SSTableReader.open(fs, p)));
          let versionsOut = 0;
          for (let k = 0; k < KEY_SPACE; k++) {
            const versions = inputs.flatMap((t) => t.get(k) ?? []);
            const got = output.get(k) ?? [];
            versionsOut += got.length;
            if (versions.length === 0) {
              expect(got, `key ${k} is in no input`).to.deep.equal([]);
              continue;
            }
            const inOthers = others.some((t) => t.has(k));
            const bloomPositive = otherReaders.some((r) => r.mayContain(KEYS[k]!));
            const model = modelKey(versions, now_ms, grace_ms, inOthers, requireConfirmation);
            if (requireConfirmation) unconfirmedKeptTotal += model.live.filter((v) => v.stored.value === null && v.stored.ts_ms < now_ms - grace_ms && !v.stored.purgeable).length;
            const kept = model.kept.map((v) => v.print);
            // Never loses a live version.
            for (const v of model.live) {
              if (v.stored.value !== null) expect(got, `key ${k} lost live value ${v.print}`).to.include(v.print);
            }
            // Model-kept ⊆ output; the rest only purgeable tombstones kept by a bloom false positive.
            expect(got, `key ${k}`).to.include.members(kept);
            const extra = got.filter((p) => !kept.includes(p));
            for (const p of extra) {
              expect(model.purgeable.map((v) => v.print), `key ${k}: ${p} is not a purgeable tombstone`).to.include(p);
              expect(bloomPositive, `key ${k}: tombstone kept without a bloom positive in the others`).to.equal(true);
              bloomKeptTotal++;
            }
            // And exactly: the code keeps all live versions iff the others' blooms admit the key.
            const exact = model.purgeable.length > 0 && !bloomPositive ? kept : model.live.map((v) => v.print);
            expect(got, `key ${k}`).to.deep.equal([...exact].sort());
            if (got.length < model.live.length) purgedTotal += model.live.length - got.length;
          }
          for (const r of otherReaders) await r.close();
          expect(result.stats.keysOut).to.equal(output.size);
          expect(result.stats.versionsOut).to.equal(versionsOut);
          expect(result.stats.tombstonesPurged).to.equal(
            [...Array(KEY_SPACE).keys()].reduce((sum, k) => {
              const versions = inputs.flatMap((t) => t.get(k) ?? []);
              if (versions.length === 0) return sum;
              const live = modelKey(versions, now_ms, grace_ms, false, requireConfirmation).live.length;
              return sum + live - (output.get(k)?.length ?? 0);
            }, 0),
          );
        },
      ),
      { seed, numRuns: 400 },
    );
    console.log(`      tombstones purged: ${purgedTotal}, kept by bloom false positives: ${bloomKeptTotal}, old but unconfirmed: ${unconfirmedKeptTotal}`);
    expect(purgedTotal, 'the generator exercises purges').to.be.greaterThan(0);
    expect(unconfirmedKeptTotal, 'the generator exercises old unconfirmed tombstones').to.be.greaterThan(0);
    expect(bloomKeptTotal, 'the generator exercises bloom false positives').to.be.greaterThan(0);
  });

  it('consults the unflushed-keys filter of the task before purging', async () => {
    const fs = new SimFileSystem();
    await fs.mkdirp('/t');
    const tombstone = makeVersion(3, [2, 0, 0], 1);
    const old: Version = { ...tombstone.stored, value: null, ts_ms: 10, purgeable: true };
    const writer = await SSTableWriter.create(fs, '/t/in.sst');
    await writer.append(KEYS[3]!, [old]);
    await writer.append(KEYS[4]!, [{ ...old, ts_ms: 11 }]);
    await writer.finish();
    const unflushed = BloomFilter.forKeys(1, 0.0001);
    unflushed.add(KEYS[3]!);
    const task: CompactionTask = { inputs: ['/t/in.sst'], others: [], output: '/t/out.sst', now_ms: 10_000, tombstoneGrace_ms: 100, requireConfirmation: true, bloomFpRate: 0.01, unflushedKeys: unflushed.serialize() };
    const result = await runCompaction(fs, task);
    const out = await readTable(fs, task.output);
    expect([...out.keys()], 'key 3 may exist in a memtable: its tombstone stays; key 4 is purged').to.deep.equal([3]);
    expect(result.stats.tombstonesPurged).to.equal(1);
  });

  it("compares clocks as the task names them: dotted version vectors for a cluster's tables", async () => {
    const fs = new SimFileSystem();
    await fs.mkdirp('/t');
    const dvv = (counter: number): Uint8Array => encodeDvv({ dot: { actor: 'n1#e1', counter, ts_ms: 0 }, past: counter > 1 ? [{ actor: 'n1#e1', counter: counter - 1, ts_ms: 0 }] : [] });
    for (const [i, counter] of [1, 2].entries()) {
      const writer = await SSTableWriter.create(fs, `/t/in-${i}.sst`);
      await writer.append(KEYS[0]!, [{ clock: dvv(counter), value: encoder.encode(`v${counter}`), ts_ms: counter }]);
      await writer.finish();
    }
    const task: CompactionTask = {
      inputs: ['/t/in-0.sst', '/t/in-1.sst'],
      others: [],
      output: '/t/out.sst',
      now_ms: 10,
      tombstoneGrace_ms: 100,
      requireConfirmation: true,
      bloomFpRate: 0.01,
      clocks: 'dvv',
    };
    const result = await new InlineCompactionExecutor(fs).compact(task);
    expect(result.stats.versionsOut, 'the newer dot supersedes the older').to.equal(1);
    const out = await readTable(fs, task.output);
    expect(out.get(0)).to.deep.equal([fingerprint({ clock: dvv(2), value: encoder.encode('v2'), ts_ms: 2 })]);
  });

  describe('pool executor (piscina, real disk)', function () {
    this.timeout(60_000);
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'ringkv-compaction-'));
    });
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('produces the same table as the inline executor', async () => {
      const seed = seedFrom(process.env.SEED, Date.now());
      console.log(`      pool vs inline: SEED=${seed}`);
      const prng = new Prng(seed);
      const fs = new RealFileSystem();
      const bigKeys = (i: number): Uint8Array => encoder.encode(`user:${String(i).padStart(6, '0')}`);
      const paths: string[] = [];
      for (let t = 0; t < 4; t++) {
        const path = join(dir, `in-${t}.sst`);
        const writer = await SSTableWriter.create(fs, path);
        for (let i = t; i < 6_000; i += 1 + prng.int(3)) {
          const versions: Version[] = [];
          const writers = prng.chance(0.2) ? ['a', 'b'] : [prng.pick(WRITERS)];
          for (const w of writers) {
            let clock: VectorClock = [];
            for (let n = 0; n <= t; n++) clock = increment(clock, w, n);
            const tombstone = prng.chance(0.15);
            const version: Version = { clock: encodeClock(clock), value: tombstone ? null : prng.fill(new Uint8Array(prng.int(64))), ts_ms: prng.int(2_000) };
            if (tombstone && prng.chance(0.5)) version.purgeable = true;
            versions.push(version);
          }
          await writer.append(bigKeys(i), versions);
        }
        await writer.finish();
        paths.push(path);
      }
      const base = { inputs: paths.slice(0, 3), others: paths.slice(3), now_ms: 2_000, tombstoneGrace_ms: 1_000, requireConfirmation: true, bloomFpRate: 0.01 };
      const inlineTask: CompactionTask = { ...base, output: join(dir, 'out-inline.sst') };
      const poolTask: CompactionTask = { ...base, output: join(dir, 'out-pool.sst') };
      const inlineResult = await new InlineCompactionExecutor(fs).compact(inlineTask);
      const pool = new PoolCompactionExecutor(1);
      let poolResult;
      try {
        poolResult = await pool.compact(poolTask);
      } finally {
        await pool.close();
      }
      expect(poolResult.stats).to.deep.equal(inlineResult.stats);
      expect(inlineResult.stats.tombstonesPurged, 'the data set purges some tombstones').to.be.greaterThan(0);
      expect(poolResult.meta?.entry_count).to.equal(inlineResult.meta?.entry_count);
      const readAll = async (path: string): Promise<string[]> => {
        const reader = await SSTableReader.open(fs, path);
        try {
          return [...reader.scan()].map((e) => `${Buffer.from(e.key).toString()}=${e.versions.map(fingerprint).sort().join(',')}`);
        } finally {
          await reader.close();
        }
      };
      const inlineEntries = await readAll(inlineTask.output);
      expect(inlineEntries.length).to.be.greaterThan(1_000);
      expect(await readAll(poolTask.output)).to.deep.equal(inlineEntries);
    });
  });
});
