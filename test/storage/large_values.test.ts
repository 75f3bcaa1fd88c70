/**
 * Values up to VALUE_MAX_BYTES (4 MiB) through every storage layer on a real
 * disk: the commit log (replayed after a flush-free close), the memtable,
 * SSTables (a value hundreds of times SSTABLE_BLOCK_BYTES gets a block of
 * its own), a compaction on the piscina pool (another thread), and the LMDB
 * hint store. One over the limit is refused with an error naming it.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidRequestError } from '../../src/core/errors.js';
import { COMMITLOG_RECORD_MAX_BYTES, SSTABLE_BLOCK_BYTES, VALUE_MAX_BYTES } from '../../src/core/limits.js';
import { encodeClock, increment, vectorClockOrder, type VectorClock } from '../../src/core/vector_clock.js';
import { PoolCompactionExecutor } from '../../storage/compaction_pool.js';
import { StorageEngine } from '../../storage/engine.js';
import { HintStore } from '../../storage/hint_store.js';
import { RealFileSystem } from '../../storage/real_fs.js';
import type { Version } from '../../storage/version.js';

const MiB = 1024 * 1024;
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** `size` bytes that differ per `tag`, so a value read back under the wrong key or shifted is caught. */
function valueOf(tag: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 13 + tag * 101 + (i >>> 12)) & 0xff;
  return out;
}

function versionOf(writes: number, value: Uint8Array): Version {
  let clock: VectorClock = [];
  for (let i = 0; i < writes; i++) clock = increment(clock, 'node-a', 1_000 + i);
  return { clock: encodeClock(clock), value, ts_ms: 1_000 + writes };
}

/** The one value stored for `key`, as a Buffer. */
function single(engine: StorageEngine, key: string): Buffer {
  const versions = engine.get(utf8(key));
  expect(versions.length, `versions of ${key}`).to.equal(1);
  return Buffer.from(versions[0]!.value!);
}

describe('storage: values up to VALUE_MAX_BYTES', function () {
  this.timeout(60_000);
  let dir = '';
  const fs = new RealFileSystem();
  const open = (): Promise<StorageEngine> => StorageEngine.open({ fs, dir, order: vectorClockOrder, now: () => 1_000_000 });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ringkv-large-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('the limits hold a whole value: a commit-log record fits one mutation of VALUE_MAX_BYTES', () => {
    expect(VALUE_MAX_BYTES).to.equal(4 * MiB);
    expect(COMMITLOG_RECORD_MAX_BYTES).to.be.greaterThan(VALUE_MAX_BYTES);
  });

  it('keeps 3 MiB and 4 MiB values across commit-log replay, a flush to SSTables and a compaction on the pool', async () => {
    const three = valueOf(1, 3 * MiB);
    const four = valueOf(2, VALUE_MAX_BYTES);
    let engine = await open();
    await engine.put(utf8('three'), versionOf(1, three));
    await engine.put(utf8('four'), versionOf(1, four));
    try {
      await engine.put(utf8('over'), versionOf(1, new Uint8Array(VALUE_MAX_BYTES + 1)));
      expect.fail('a value over the limit is refused');
    } catch (err) {
      expect(err).to.be.instanceOf(InvalidRequestError);
      expect((err as Error).message).to.include(String(VALUE_MAX_BYTES));
    }
    await engine.close(); // flush-free: the values come back from the commit log

    engine = await open();
    expect(engine.tableCount).to.equal(0);
    expect(single(engine, 'three').equals(three), 'three from the commit log').to.equal(true);
    expect(single(engine, 'four').equals(four), 'four from the commit log').to.equal(true);
    await engine.flush();
    expect(engine.tableCount).to.equal(1);
    await engine.close();

    // Three more tables, each with a newer version of one key and a new key.
    engine = await open();
    expect(single(engine, 'three').equals(three), 'three from an SSTable').to.equal(true);
    expect(single(engine, 'four').equals(four), 'four from an SSTable (a block ~1000x SSTABLE_BLOCK_BYTES)').to.equal(true);
    expect(VALUE_MAX_BYTES / SSTABLE_BLOCK_BYTES).to.be.at.least(1000);
    for (let t = 2; t <= 4; t++) {
      await engine.put(utf8('three'), versionOf(t, valueOf(10 + t, 3 * MiB)));
      await engine.put(utf8(`new-${t}`), versionOf(1, valueOf(20 + t, 2 * MiB + t)));
      await engine.flush();
    }
    expect(engine.tableCount).to.equal(4);

    const pool = new PoolCompactionExecutor(1);
    try {
      const task = engine.beginCompaction(engine.compactionCandidates().map((table) => table.fileNumber));
      expect(task, 'the four tables can be reserved').to.not.equal(undefined);
      await engine.finishCompaction(task!, await pool.compact(task!));
    } finally {
      await pool.close();
    }
    expect(engine.tableCount).to.equal(1);
    await engine.close();

    engine = await open();
    try {
      expect(single(engine, 'three').equals(Buffer.from(valueOf(14, 3 * MiB))), 'the newest three after compaction').to.equal(true);
      expect(single(engine, 'four').equals(four), 'four after compaction').to.equal(true);
      for (let t = 2; t <= 4; t++) expect(single(engine, `new-${t}`).equals(Buffer.from(valueOf(20 + t, 2 * MiB + t))), `new-${t}`).to.equal(true);
    } finally {
      await engine.close();
    }
  });

  it('stores a hint of a 4 MiB value in LMDB and returns it intact after reopen', async () => {
    const value = valueOf(3, 4 * MiB);
    let store = new HintStore({ dir, now: () => 1_000 });
    await store.add('n2', utf8('big'), [versionOf(1, value)]);
    await store.close();
    store = new HintStore({ dir, now: () => 1_000 });
    try {
      const [hint] = store.iterate('n2', 10).hints;
      expect(Buffer.from(hint!.versions[0]!.value!).equals(Buffer.from(value))).to.equal(true);
      try {
        await store.add('n2', utf8('over'), [versionOf(1, new Uint8Array(VALUE_MAX_BYTES + 1))]);
        expect.fail('a hint of a value over the limit is refused');
      } catch (err) {
        expect(err).to.be.instanceOf(InvalidRequestError);
      }
    } finally {
      await store.close();
    }
  });
});
