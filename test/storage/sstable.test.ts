import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssertionError } from '../../src/core/assert.js';
import { CorruptionError } from '../../src/core/errors.js';
import { hashPair } from '../../src/core/hash.js';
import { VALUE_MAX_BYTES } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { encodeClock, increment } from '../../src/core/vector_clock.js';
import type { FileSystem } from '../../storage/fs.js';
import { compareKeys } from '../../storage/key_order.js';
import { RealFileSystem } from '../../storage/real_fs.js';
import { SimFileSystem } from '../../storage/sim_fs.js';
import { BlockCache } from '../../storage/block_cache.js';
import { EntryOffsets, entryBytes, walkEntries, writeEntry } from '../../storage/sstable_format.js';
import { SSTableReader, type SSTableEntry } from '../../storage/sstable_reader.js';
import { SSTableWriter, type SSTableWriterOptions } from '../../storage/sstable_writer.js';
import type { Version } from '../../storage/version.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** `count` distinct sorted keys with 1–3 versions each: values, tombstones (half of them purgeable), concurrent siblings. */
function makeEntries(prng: Prng, count: number, valueBytes: () => number): SSTableEntry[] {
  const keys = new Map<string, Uint8Array>();
  while (keys.size < count) {
    const key = prng.fill(new Uint8Array(1 + prng.int(24)));
    keys.set(hex(key), key);
  }
  const sorted = [...keys.values()].sort(compareKeys);
  return sorted.map((key, i) => {
    const versions: Version[] = [];
    const siblings = prng.chance(0.1) ? 1 + prng.int(3) : 1;
    for (let s = 0; s < siblings; s++) {
      const ts_ms = 1_700_000_000_000 + i * 10 + s;
      const clock = encodeClock(increment([], `node-${s}`, ts_ms));
      const version: Version = { clock, value: prng.chance(0.1) ? null : prng.fill(new Uint8Array(valueBytes())), ts_ms };
      if (version.value === null && prng.chance(0.5)) version.purgeable = true;
      versions.push(version);
    }
    return { key, versions };
  });
}

async function writeTable(fs: FileSystem, path: string, entries: SSTableEntry[], options: SSTableWriterOptions = {}) {
  const writer = await SSTableWriter.create(fs, path, options);
  for (const e of entries) await writer.append(e.key, e.versions);
  return writer.finish();
}

/** Keys not in the table: before the first, after the last, and between neighbours. */
function absentKeys(entries: SSTableEntry[]): Uint8Array[] {
  const present = new Set(entries.map((e) => hex(e.key)));
  const out: Uint8Array[] = [new Uint8Array(0), new Uint8Array(30).fill(255)];
  for (const e of entries.slice(0, 500)) out.push(new Uint8Array([...e.key, 0]), e.key.subarray(0, e.key.length - 1));
  return out.filter((k) => !present.has(hex(k)));
}

async function expectRoundTrip(reader: SSTableReader, entries: SSTableEntry[]): Promise<void> {
  for (const e of entries) expect(reader.get(e.key), hex(e.key)).to.deep.equal(e.versions);
  for (const k of absentKeys(entries)) expect(reader.get(k), hex(k)).to.equal(undefined);
  expect([...reader.scan()]).to.deep.equal(entries);
}

describe('storage/sstable', () => {
  const seed = seedFrom(process.env['SEED'], Date.now());
  before(() => console.log(`      sstable SEED=${seed}`));

  it('round-trips every key, misses absent keys and scans between bounds', async () => {
    const prng = new Prng(seed);
    const fs = new SimFileSystem();
    await fs.mkdirp('/db');
    const entries = makeEntries(prng, 3000, () => prng.int(100));
    const meta = await writeTable(fs, '/db/1.sst', entries, { blockBytes: 512 });
    expect(meta.entry_count).to.equal(3000);
    expect(hex(meta.min_key)).to.equal(hex(entries[0]!.key));
    expect(hex(meta.max_key)).to.equal(hex(entries[2999]!.key));
    expect(meta.file_bytes).to.equal((await fs.readFile('/db/1.sst')).length);
    const reader = await SSTableReader.open(fs, '/db/1.sst');
    expect(reader.meta).to.deep.equal(meta);
    await expectRoundTrip(reader, entries);
    for (let i = 0; i < 200; i++) {
      const from = prng.chance(0.2) ? undefined : prng.fill(new Uint8Array(1 + prng.int(3)));
      const to = prng.chance(0.2) ? undefined : prng.fill(new Uint8Array(1 + prng.int(3)));
      const expected = entries.filter(
        (e) => (from === undefined || compareKeys(e.key, from) >= 0) && (to === undefined || compareKeys(e.key, to) < 0),
      );
      expect([...reader.scan(from, to)].map((e) => hex(e.key))).to.deep.equal(expected.map((e) => hex(e.key)));
    }
    // The bloom filter answers for every present key, through a shared precomputed pair too.
    for (const e of entries) expect(reader.mayContain(e.key, hashPair(e.key))).to.equal(true);
    await reader.close();
  });

  it('refuses a version with an unknown flag bit, or a purgeable value, as corruption', () => {
    const clock = encodeClock(increment([], 'node-0', 1));
    const encode = (version: Version): Uint8Array => {
      const key = new Uint8Array([7]);
      const block = new Uint8Array(entryBytes(key, [version]));
      writeEntry(block, new DataView(block.buffer), 0, key, [version]);
      return block;
    };
    const flagsAt = 2 + 1 + 2; // key length, key, version count
    const walk = (block: Uint8Array): string => {
      try {
        walkEntries(block, '/t.sst', 0, new EntryOffsets());
        return 'ok';
      } catch (err) {
        expect(err).to.be.instanceOf(CorruptionError);
        return (err as Error).message;
      }
    };
    const tombstone = encode({ clock, value: null, ts_ms: 1, purgeable: true });
    expect(tombstone[flagsAt]).to.equal(3);
    expect(walk(tombstone)).to.equal('ok');
    tombstone[flagsAt] = 3 | 4;
    expect(walk(tombstone)).to.match(/unknown version flags/);
    const value = encode({ clock, value: new Uint8Array([1, 2]), ts_ms: 1 });
    expect(value[flagsAt]).to.equal(0);
    value[flagsAt] = 2;
    expect(walk(value)).to.match(/purgeable flag on a value/);
    expect(() => encode({ clock, value: new Uint8Array([1]), ts_ms: 1, purgeable: true })).to.throw(AssertionError);
  });

  it('stores values larger than a block, up to VALUE_MAX_BYTES', async () => {
    const prng = new Prng(seed + 1);
    const fs = new SimFileSystem();
    const sizes = [0, 1, 4095, 4096, 4097, 70_000, VALUE_MAX_BYTES, 10];
    const entries = makeEntries(prng, sizes.length * 4, () => prng.pick(sizes));
    await writeTable(fs, '/big.sst', entries);
    const reader = await SSTableReader.open(fs, '/big.sst');
    await expectRoundTrip(reader, entries);
    await reader.close();
  });

  it('detects every single-bit flip of a small table (data, filter, index, footer)', async function () {
    this.timeout(60_000);
    const prng = new Prng(seed + 2);
    const fs = new SimFileSystem();
    const entries = makeEntries(prng, 24, () => prng.int(12));
    await writeTable(fs, '/t.sst', entries, { blockBytes: 128 });
    const bits = (await fs.readFile('/t.sst')).length * 8;
    const outcomes = { open: 0, read: 0 };
    for (let bit = 0; bit < bits; bit++) {
      fs.flipBit('/t.sst', bit);
      let opened = false;
      try {
        const reader = await SSTableReader.open(fs, '/t.sst');
        opened = true;
        try {
          for (const e of entries) reader.get(e.key);
          [...reader.scan()];
        } finally {
          await reader.close();
        }
        expect.fail(`flip of bit ${bit} (byte ${bit >> 3}) went undetected`);
      } catch (err) {
        if (!(err instanceof CorruptionError)) throw err;
        expect(err.location).to.equal('/t.sst');
        outcomes[opened ? 'read' : 'open'] += 1;
      }
      fs.flipBit('/t.sst', bit);
    }
    console.log(`      ${bits} bit flips: ${outcomes.open} caught at open, ${outcomes.read} on read`);
    expect(outcomes.open + outcomes.read).to.equal(bits);
    expect(outcomes.read, 'data-block flips are caught on read').to.be.greaterThan(0);
    // The unflipped table still reads back exactly.
    const reader = await SSTableReader.open(fs, '/t.sst');
    await expectRoundTrip(reader, entries);
  });

  it('rejects a truncated file as corruption', async () => {
    const fs = new SimFileSystem();
    const entries = makeEntries(new Prng(seed + 3), 50, () => 8);
    const meta = await writeTable(fs, '/t.sst', entries, { blockBytes: 256 });
    for (const size of [0, 10, meta.file_bytes - 65, meta.file_bytes - 1]) {
      const handle = await fs.open('/t.sst', 'append');
      await handle.truncate(size);
      await handle.close();
      let caught: unknown;
      await SSTableReader.open(fs, '/t.sst').catch((err: unknown) => (caught = err));
      expect(caught, `truncated to ${size}`).to.be.instanceOf(CorruptionError);
      await writeTable(fs, '/t.sst', entries, { blockBytes: 256 });
    }
  });

  it('asserts strictly increasing keys on write, and abort removes the file', async () => {
    const fs = new SimFileSystem();
    const writer = await SSTableWriter.create(fs, '/w.sst');
    const versions = [{ clock: encodeClock(increment([], 'n', 1)), value: null, ts_ms: 1 }];
    await writer.append(new Uint8Array([2]), versions);
    let caught: unknown;
    await writer.append(new Uint8Array([2]), versions).catch((err: unknown) => (caught = err));
    expect(caught).to.be.instanceOf(AssertionError);
    await writer.append(new Uint8Array([1]), versions).catch((err: unknown) => (caught = err));
    expect(caught).to.be.instanceOf(AssertionError);
    await writer.abort();
    expect(await fs.exists('/w.sst')).to.equal(false);
  });

  it('keeps a shared block cache within its byte bound', async () => {
    const fs = new SimFileSystem();
    const entries = makeEntries(new Prng(seed + 4), 2000, () => 50);
    await writeTable(fs, '/c.sst', entries);
    const cache = new BlockCache(64 * 1024);
    const reader = await SSTableReader.open(fs, '/c.sst', { cache });
    for (const e of entries) {
      expect(reader.get(e.key)).to.deep.equal(e.versions);
      expect(cache.heldBytes).to.be.at.most(64 * 1024);
    }
    expect(cache.heldBytes).to.be.greaterThan(32 * 1024);
  });

  it('returns copies that survive slab reuse: kept gets and a suspended scan stay intact through cache churn', async () => {
    const prng = new Prng(seed + 6);
    const fs = new SimFileSystem();
    const capacity = 64 * 1024;
    const tables = [makeEntries(prng, 3000, () => 20 + prng.int(130)), makeEntries(prng, 3000, () => 20 + prng.int(130))];
    const cache = new BlockCache(capacity);
    const readers: SSTableReader[] = [];
    for (const [i, entries] of tables.entries()) {
      const meta = await writeTable(fs, `/churn${i}.sst`, entries, { blockBytes: 1024 });
      expect(meta.file_bytes, 'each table is several caches large').to.be.greaterThan(4 * capacity);
      readers.push(await SSTableReader.open(fs, `/churn${i}.sst`, { cache }));
    }
    // A scan left suspended while gets miss and recycle slabs must not see its block change either.
    const scan = readers[0]!.scan();
    const scanned: SSTableEntry[] = [];
    const kept: { versions: Version[] | undefined; expected: Version[] }[] = [];
    for (let round = 0; round < 20_000; round++) {
      const t = prng.int(2);
      // A hot tenth of the keys gets half the reads, so eviction also rescues referenced blocks.
      const count = tables[t]!.length;
      const entry = tables[t]![prng.chance(0.5) ? prng.int(count / 10) : prng.int(count)]!;
      const versions = readers[t]!.get(entry.key);
      expect(versions, hex(entry.key)).to.deep.equal(entry.versions);
      if (round % 7 === 0) kept.push({ versions, expected: entry.versions });
      if (round % 10 === 0) {
        const next = scan.next();
        if (!next.done) scanned.push(next.value);
      }
      expect(cache.heldBytes).to.be.at.most(capacity);
    }
    for (const next of scan) scanned.push(next);
    expect(scanned).to.deep.equal(tables[0]);
    for (const { versions, expected } of kept) expect(versions).to.deep.equal(expected);
    // Once full, the cache reuses evicted slabs rather than allocating.
    expect(cache.slabsAllocated).to.equal(capacity / cache.slabBytes);
    for (const reader of readers) await reader.close();
  });

  it('round-trips on a real disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ringkv-sstable-'));
    try {
      const fs = new RealFileSystem();
      const prng = new Prng(seed + 5);
      const entries = makeEntries(prng, 20_000, () => prng.int(200));
      const meta = await writeTable(fs, join(dir, '1.sst'), entries);
      expect(meta.file_bytes).to.equal((await fs.readFile(join(dir, '1.sst'))).length);
      const reader = await SSTableReader.open(fs, join(dir, '1.sst'));
      await expectRoundTrip(reader, entries);
      await reader.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
