import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileSystem } from '../../storage/fs.js';
import { RealFileSystem } from '../../storage/real_fs.js';
import { SimFileSystem, SimFsError } from '../../storage/sim_fs.js';
import { Prng, seedFrom } from '../../src/core/prng.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);
const popcount = (byte: number): number => {
  let bits = 0;
  for (let b = byte; b !== 0; b >>= 1) bits += b & 1;
  return bits;
};

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (err) {
    expect((err as { code?: string }).code).to.equal(code);
    return;
  }
  expect.fail(`expected a rejection with ${code}`);
}

/** A file in a durable directory, with `synced` durable and `unsynced` appended after. */
async function fileWith(fs: SimFileSystem, path: string, synced: string, unsynced: string): Promise<void> {
  await fs.mkdirp('/d');
  const h = await fs.open(path, 'create');
  await h.append(text(synced));
  await h.sync();
  await fs.syncDir('/d');
  if (unsynced !== '') await h.append(text(unsynced));
}

describe('storage/sim_fs: durability', () => {
  it('loses unsynced appended bytes on a crash and keeps synced ones', async () => {
    const fs = new SimFileSystem();
    await fileWith(fs, '/d/f', 'durable', '-lost');
    expect(str(await fs.readFile('/d/f'))).to.equal('durable-lost');
    const after = fs.crash();
    expect(str(await after.readFile('/d/f'))).to.equal('durable');
  });

  it('keeps a seeded prefix of unsynced appends (torn write), deterministically', async () => {
    const seed = seedFrom(process.env['SEED'], Date.now());
    console.log(`      sim_fs torn-write seed: SEED=${seed}`);
    const root = new Prng(seed);
    const lengths = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const crashSeed = root.nextU32();
      const results: string[] = [];
      for (let replay = 0; replay < 2; replay++) {
        const fs = new SimFileSystem();
        await fileWith(fs, '/d/f', 'AAAA', 'BBBBBBBBBB');
        results.push(str(await fs.crash(new Prng(crashSeed)).readFile('/d/f')));
      }
      const [first, second] = results as [string, string];
      expect(second, 'same seed, same crash').to.equal(first);
      expect(first.startsWith('AAAA')).to.equal(true);
      expect('AAAABBBBBBBBBB'.startsWith(first), 'a prefix of what was written').to.equal(true);
      lengths.add(first.length);
    }
    expect(lengths.size, 'torn lengths vary from nothing to everything').to.be.greaterThan(8);
  });

  it('reverts an unsynced truncate to the durable bytes', async () => {
    const fs = new SimFileSystem();
    await fileWith(fs, '/d/f', 'abcdef', '');
    const h = await fs.open('/d/f', 'append');
    await h.truncate(2);
    await h.append(text('XY'));
    expect(str(await fs.readFile('/d/f'))).to.equal('abXY');
    const after = fs.crash(new Prng(1));
    expect(str(await after.readFile('/d/f'))).to.equal('abcdef');
  });

  it('makes a truncate durable after sync', async () => {
    const fs = new SimFileSystem();
    await fileWith(fs, '/d/f', 'abcdef', '');
    const h = await fs.open('/d/f', 'append');
    await h.truncate(3);
    await h.sync();
    expect(str(await fs.crash().readFile('/d/f'))).to.equal('abc');
  });

  it('drops a created file whose directory was not synced, even if its bytes were', async () => {
    const fs = new SimFileSystem();
    await fs.mkdirp('/d');
    const h = await fs.open('/d/new', 'create');
    await h.append(text('x'));
    await h.sync();
    const after = fs.crash();
    expect(await after.exists('/d/new')).to.equal(false);
    expect(await after.list('/d')).to.deep.equal([]);
  });

  it('undoes an unsynced rename and keeps a synced one', async () => {
    const fs = new SimFileSystem();
    await fileWith(fs, '/d/a', 'one', '');
    await fs.rename('/d/a', '/d/b');
    expect(await fs.list('/d')).to.deep.equal(['b']);
    const undone = fs.crash();
    expect(await undone.list('/d')).to.deep.equal(['a']);
    expect(str(await undone.readFile('/d/a'))).to.equal('one');

    await undone.rename('/d/a', '/d/b');
    await undone.syncDir('/d');
    const kept = undone.crash();
    expect(await kept.list('/d')).to.deep.equal(['b']);
    expect(str(await kept.readFile('/d/b'))).to.equal('one');
  });

  it('undoes an unsynced remove', async () => {
    const fs = new SimFileSystem();
    await fileWith(fs, '/d/a', 'keep', '');
    await fs.remove('/d/a');
    expect(await fs.exists('/d/a')).to.equal(false);
    expect(str(await fs.crash().readFile('/d/a'))).to.equal('keep');
  });

  it('flipBit changes current and durable bytes', async () => {
    const fs = new SimFileSystem();
    await fileWith(fs, '/d/f', '\u0000\u0000', '');
    fs.flipBit('/d/f', 9); // byte 1, bit 1
    expect(await fs.readFile('/d/f')).to.deep.equal(bytes(0, 2));
    expect(await fs.crash().readFile('/d/f'), 'the flip is in the durable bytes too').to.deep.equal(bytes(0, 2));
    const fs2 = new SimFileSystem();
    await fileWith(fs2, '/d/f', '\u0000', '\u0000');
    fs2.flipBit('/d/f', 15); // in the unsynced byte only
    expect(await fs2.readFile('/d/f')).to.deep.equal(bytes(0, 128));
    expect(() => fs2.flipBit('/d/none', 0)).to.throw(SimFsError);
  });

  it('flips at most one bit per crash, only in the kept unsynced tail, and counts it', async () => {
    const seed = seedFrom(process.env['SEED'], 7);
    for (let round = 0; round < 50; round++) {
      const fs = new SimFileSystem();
      await fileWith(fs, '/d/f', 'synced-part', 'unsynced-tail-bytes');
      const after = fs.crash(new Prng(seed + round), { flipProbability: 1 });
      const kept = await after.readFile('/d/f');
      expect(str(kept.subarray(0, 11)), `synced bytes never rot (SEED=${seed})`).to.equal('synced-part');
      const expected = text('synced-partunsynced-tail-bytes').subarray(0, kept.length);
      let differing = 0;
      for (let i = 0; i < kept.length; i++) differing += popcount(kept[i]! ^ expected[i]!);
      expect(differing, `a kept tail of ${kept.length - 11} bytes has exactly one flipped bit (SEED=${seed})`).to.equal(kept.length > 11 ? 1 : 0);
      expect(after.stats().tailFlips).to.equal(kept.length > 11 ? 1 : 0);
    }
    expect(() => new SimFileSystem().crash(undefined, { flipProbability: 1 })).to.throw(/needs a Prng/);
  });

  it('with a latency model, append and sync take virtual time; a sync covers the bytes written before it', async () => {
    const waits: { ms: number; wake: () => void }[] = [];
    const fs = new SimFileSystem();
    fs.setLatency({ delay_ms: (op) => (op === 'sync' ? 30 : op === 'append' ? 2 : 5), wait: (ms) => new Promise((wake) => waits.push({ ms, wake })) });
    await fs.mkdirp('/d');
    const h = await fs.open('/d/f', 'create');
    let appended = false;
    const append = h.append(text('abc')).then(() => (appended = true));
    await Promise.resolve();
    expect(appended, 'the append waits for its time').to.equal(false);
    expect(str(await fs.readFile('/d/f')), 'but reads see it at once (page cache)').to.equal('abc');
    expect(waits.map((w) => w.ms)).to.deep.equal([2]);
    waits.shift()!.wake();
    await append;
    const dirSync = fs.syncDir('/d');
    waits.shift()!.wake();
    await dirSync;
    const sync = h.sync();
    await Promise.resolve();
    const late = h.append(text('def')); // lands during the fsync (its own wait queued)
    expect(waits.map((w) => w.ms)).to.deep.equal([30, 2]);
    for (const w of waits.splice(0)) w.wake();
    await Promise.all([sync, late]);
    expect(str(await fs.crash().readFile('/d/f')), 'the sync made durable only what preceded it').to.equal('abc');
  });

  it('a sync in flight at a crash makes nothing durable and fails ECRASHED', async () => {
    const waits: (() => void)[] = [];
    const fs = new SimFileSystem();
    await fileWith(fs, '/d/f', 'old', '');
    fs.setLatency({ delay_ms: () => 10, wait: () => new Promise((wake) => waits.push(wake)) });
    const h = await fs.open('/d/f', 'append');
    const append = h.append(text('new'));
    waits.shift()!();
    await append;
    const sync = h.sync();
    const after = fs.crash();
    waits.shift()!();
    await rejectsWith(sync, 'ECRASHED');
    expect(str(await after.readFile('/d/f'))).to.equal('old');
  });

  it('kills the crashed instance and its handles', async () => {
    const fs = new SimFileSystem();
    await fileWith(fs, '/d/f', 'x', '');
    const h = await fs.open('/d/f', 'append');
    fs.crash();
    await rejectsWith(h.append(text('y')), 'ECRASHED');
    await rejectsWith(fs.list('/d'), 'ECRASHED');
    expect(() => h.size()).to.throw(SimFsError);
  });

  it('injects append and sync failures, with partial writes', async () => {
    const fs = new SimFileSystem();
    await fileWith(fs, '/d/f', '', '');
    const h = await fs.open('/d/f', 'append');
    fs.failNext('append', { partialBytes: 2 });
    await rejectsWith(h.append(text('abcd')), 'EIO');
    expect(str(await fs.readFile('/d/f'))).to.equal('ab');
    fs.failNext('sync', { path: '/d/other' });
    fs.failNext('sync');
    await rejectsWith(h.sync(), 'EIO');
    expect(str(await fs.crash().readFile('/d/f')), 'a failed sync makes nothing durable').to.equal('');
  });

  it('counts bytes written and syncs across crashes', async () => {
    const fs = new SimFileSystem();
    await fileWith(fs, '/d/f', 'abc', 'de');
    const after = fs.crash();
    expect(after.stats()).to.deep.equal({ bytesWritten: 5, appends: 2, syncs: 1, dirSyncs: 1, crashes: 1, tailFlips: 0 });
  });
});

/** The `FileSystem` contract, run against both sides of the seam. */
function contract(name: string, setup: () => { fs: FileSystem; root: string; cleanup: () => void }): void {
  describe(`storage/fs contract: ${name}`, () => {
    let fs: FileSystem;
    let root: string;
    let cleanup: () => void;
    beforeEach(() => ({ fs, root, cleanup } = setup()));
    afterEach(() => cleanup());

    it('appends, reads positionally, tracks size, truncates', async () => {
      await fs.mkdirp(`${root}/a/b`);
      const h = await fs.open(`${root}/a/b/f`, 'append');
      expect(h.size()).to.equal(0);
      await h.append(text('hello '));
      await h.append(text('world'));
      await h.sync();
      expect(h.size()).to.equal(11);
      expect(str(h.readSync(6, 100)), 'short read at end of file').to.equal('world');
      expect(h.readSync(20, 4).length).to.equal(0);
      await h.truncate(5);
      expect(h.size()).to.equal(5);
      await h.append(text('!'));
      expect(str(await fs.readFile(`${root}/a/b/f`))).to.equal('hello!');
      await h.close();
      const again = await fs.open(`${root}/a/b/f`, 'append');
      expect(again.size()).to.equal(6);
      await again.close();
    });

    it("'create' truncates, 'read' refuses writes and missing files", async () => {
      await fs.mkdirp(root);
      const h = await fs.open(`${root}/f`, 'create');
      await h.append(text('old'));
      await h.close();
      const c = await fs.open(`${root}/f`, 'create');
      expect(c.size()).to.equal(0);
      await c.close();
      const r = await fs.open(`${root}/f`, 'read');
      let failed = false;
      await r.append(text('x')).catch(() => (failed = true));
      expect(failed).to.equal(true);
      await r.close();
      failed = false;
      await fs.open(`${root}/missing`, 'read').catch(() => (failed = true));
      expect(failed).to.equal(true);
    });

    it('lists sorted names, renames over a file, removes idempotently', async () => {
      await fs.mkdirp(root);
      expect(await fs.list(`${root}/nope`)).to.deep.equal([]);
      for (const n of ['b', 'c', 'a']) await (await fs.open(`${root}/${n}`, 'create')).close();
      expect(await fs.list(root)).to.deep.equal(['a', 'b', 'c']);
      const h = await fs.open(`${root}/a`, 'append');
      await h.append(text('A'));
      await h.close();
      await fs.rename(`${root}/a`, `${root}/c`);
      await fs.syncDir(root);
      expect(await fs.list(root)).to.deep.equal(['b', 'c']);
      expect(str(await fs.readFile(`${root}/c`))).to.equal('A');
      await fs.remove(`${root}/b`);
      await fs.remove(`${root}/b`);
      expect(await fs.exists(`${root}/b`)).to.equal(false);
      expect(await fs.exists(`${root}/c`)).to.equal(true);
    });
  });
}

contract('SimFileSystem', () => ({ fs: new SimFileSystem(), root: '/data', cleanup: () => undefined }));
contract('RealFileSystem', () => {
  const root = mkdtempSync(join(tmpdir(), 'ringkv-fs-'));
  return { fs: new RealFileSystem(), root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
});
