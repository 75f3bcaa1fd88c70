import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssertionError } from '../../src/core/assert.js';
import { CorruptionError } from '../../src/core/errors.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import type { FileHandle, FileSystem, OpenMode } from '../../storage/fs.js';
import { Manifest, MANIFEST_FILE, MANIFEST_TEMP_FILE, type ManifestState, type ManifestTable } from '../../storage/manifest.js';
import { RealFileSystem } from '../../storage/real_fs.js';
import { SimFileSystem } from '../../storage/sim_fs.js';

function table(file_number: number, tag: number): ManifestTable {
  return {
    file_number,
    file_bytes: 1000 + tag,
    entry_count: 10 + tag,
    min_key: new Uint8Array([tag]),
    max_key: new Uint8Array([tag, 255, 0]),
    min_ts_ms: 1_700_000_000_000 + tag,
    max_ts_ms: 1_700_000_000_500 + tag,
  };
}

/** A flush: a new table takes the next file number and the replay start moves on. */
async function flush(manifest: Manifest, tag: number): Promise<ManifestState> {
  const n = manifest.allocateFileNumber();
  return manifest.apply({ add: [table(n, tag)], commitlog_replay_from: manifest.current.commitlog_replay_from + 1 });
}

/** Thrown by `DyingFileSystem` at its crash point: the process "dies" there. */
class ProcessDied extends Error {}

/**
 * Wraps a file system and dies (throws) at the `dieAt`-th mutating operation
 * (open for writing, append, sync, rename, remove, syncDir), before doing it.
 */
class DyingFileSystem implements FileSystem {
  operations = 0;
  /** Operations count only once armed. */
  armed = false;
  constructor(
    private readonly inner: FileSystem,
    private readonly dieAt: number,
  ) {}

  step(): void {
    if (this.armed && this.operations++ === this.dieAt) throw new ProcessDied(`died at operation ${this.dieAt}`);
  }

  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    if (mode !== 'read') this.step();
    const handle = await this.inner.open(path, mode);
    return {
      path: handle.path,
      size: () => handle.size(),
      readSync: (offset, length) => handle.readSync(offset, length),
      append: async (bytes) => (this.step(), handle.append(bytes)),
      sync: async () => (this.step(), handle.sync()),
      truncate: async (size) => (this.step(), handle.truncate(size)),
      close: () => handle.close(),
    };
  }
  readFile = (path: string) => this.inner.readFile(path);
  rename = async (from: string, to: string) => (this.step(), this.inner.rename(from, to));
  remove = async (path: string) => (this.step(), this.inner.remove(path));
  list = (dir: string) => this.inner.list(dir);
  exists = (path: string) => this.inner.exists(path);
  mkdirp = (dir: string) => this.inner.mkdirp(dir);
  syncDir = async (dir: string) => (this.step(), this.inner.syncDir(dir));
}

describe('storage/manifest', () => {
  const seed = seedFrom(process.env['SEED'], Date.now());
  before(() => console.log(`      manifest SEED=${seed}`));

  it('starts empty and survives a reopen after each change', async () => {
    const fs = new SimFileSystem();
    const manifest = await Manifest.open(fs, '/db');
    expect(manifest.created).to.equal(true);
    expect(manifest.current).to.deep.equal({ sequence: 0, next_file_number: 1, commitlog_replay_from: 0, tables: [] });
    await flush(manifest, 1);
    await flush(manifest, 2);
    const compactedInto = manifest.allocateFileNumber();
    const state = await manifest.apply({ add: [table(compactedInto, 3)], remove: [1, 2] });
    expect(state.tables.map((t) => t.file_number)).to.deep.equal([3]);
    expect(state.next_file_number).to.equal(4);
    expect(state.commitlog_replay_from).to.equal(2);
    const reopened = await Manifest.open(fs, '/db');
    expect(reopened.created).to.equal(false);
    expect(reopened.current).to.deep.equal(state);
    expect(await fs.exists(`/db/${MANIFEST_TEMP_FILE}`)).to.equal(false);
  });

  it('serializes concurrent applies', async () => {
    const fs = new SimFileSystem();
    const manifest = await Manifest.open(fs, '/db');
    const a = manifest.allocateFileNumber();
    const b = manifest.allocateFileNumber();
    const [first, second] = await Promise.all([manifest.apply({ add: [table(a, 1)] }), manifest.apply({ add: [table(b, 2)] })]);
    expect(first.tables.length).to.equal(1);
    expect(second.tables.length).to.equal(2);
    expect((await Manifest.open(fs, '/db')).current).to.deep.equal(second);
  });

  it('leaves the old or the new manifest, never anything else, when a crash hits any step of a change', async () => {
    const prng = new Prng(seed);
    // The state the change produces when it completes, from an undisturbed run.
    const reference = await Manifest.open(new SimFileSystem(), '/db');
    await flush(reference, 1);
    const old = reference.current;
    const changed = await flush(reference, 2);
    const outcomes = { old: 0, changed: 0 };
    for (let dieAt = 0; dieAt < 100; dieAt++) {
      let fs = new SimFileSystem();
      await flush(await Manifest.open(fs, '/db'), 1);
      const dying = new DyingFileSystem(fs, dieAt);
      const victim = await Manifest.open(dying, '/db');
      dying.armed = true;
      let died = false;
      await flush(victim, 2).catch((err: unknown) => {
        if (!(err instanceof ProcessDied)) throw err;
        died = true;
      });
      fs = fs.crash(prng.fork());
      const recovered = (await Manifest.open(fs, '/db')).current;
      const which = recovered.sequence === old.sequence ? 'old' : 'changed';
      expect(recovered).to.deep.equal(which === 'old' ? old : changed);
      outcomes[which] += 1;
      if (!died) {
        // Every step ran: the change must be durable.
        expect(which).to.equal('changed');
        expect(dieAt, 'an apply is create, append, sync, rename, directory sync').to.equal(5);
        break;
      }
    }
    expect(outcomes).to.deep.equal({ old: 5, changed: 1 });
  });

  it('keeps the old manifest when the process dies between writing the new one and the rename', async () => {
    let fs = new SimFileSystem();
    const manifest = await Manifest.open(fs, '/db');
    await flush(manifest, 1);
    const old = manifest.current;
    const dying = new DyingFileSystem(fs, Number.MAX_SAFE_INTEGER);
    const victim = await Manifest.open(dying, '/db');
    // The new manifest is written and synced; the process dies instead of renaming it.
    dying.rename = async () => {
      throw new ProcessDied('died before rename');
    };
    let caught: unknown;
    await flush(victim, 2).catch((err: unknown) => (caught = err));
    expect(caught).to.be.instanceOf(ProcessDied);
    expect(await fs.exists(`/db/${MANIFEST_TEMP_FILE}`)).to.equal(true);
    fs = fs.crash(new Prng(seed));
    const reopened = await Manifest.open(fs, '/db');
    expect(reopened.current).to.deep.equal(old);
    expect(await fs.exists(`/db/${MANIFEST_TEMP_FILE}`)).to.equal(false);
  });

  it('detects every single-bit flip of the manifest', async () => {
    const fs = new SimFileSystem();
    const manifest = await Manifest.open(fs, '/db');
    for (let i = 1; i <= 3; i++) await flush(manifest, i);
    const path = `/db/${MANIFEST_FILE}`;
    const bits = (await fs.readFile(path)).length * 8;
    for (let bit = 0; bit < bits; bit++) {
      fs.flipBit(path, bit);
      let caught: unknown;
      await Manifest.open(fs, '/db').catch((err: unknown) => (caught = err));
      expect(caught, `bit ${bit}`).to.be.instanceOf(CorruptionError);
      expect((caught as CorruptionError).location).to.equal(path);
      fs.flipBit(path, bit);
    }
    expect((await Manifest.open(fs, '/db')).current).to.deep.equal(manifest.current);
  });

  it('refuses malformed edits', async () => {
    const manifest = await Manifest.open(new SimFileSystem(), '/db');
    await flush(manifest, 1);
    const err = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
    expect(await err(manifest.apply({ remove: [42] }))).to.be.instanceOf(AssertionError);
    expect(await err(manifest.apply({ add: [table(99, 1)] }))).to.be.instanceOf(AssertionError);
    expect(await err(manifest.apply({ commitlog_replay_from: 0 }))).to.be.instanceOf(AssertionError);
    expect(manifest.current.tables.length).to.equal(1);
  });

  it('lists table files the manifest does not name as orphans', async () => {
    const fs = new SimFileSystem();
    const manifest = await Manifest.open(fs, '/db');
    await flush(manifest, 1);
    const orphan = manifest.tablePath(manifest.allocateFileNumber());
    await (await fs.open(orphan, 'create')).close();
    await (await fs.open(manifest.tablePath(1), 'create')).close();
    expect(await manifest.orphanTables()).to.deep.equal([orphan]);
  });

  it('round-trips on a real disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ringkv-manifest-'));
    try {
      const fs = new RealFileSystem();
      const manifest = await Manifest.open(fs, dir);
      for (let i = 1; i <= 5; i++) await flush(manifest, i);
      await manifest.apply({ remove: [2, 4] });
      expect((await Manifest.open(fs, dir)).current).to.deep.equal(manifest.current);
      expect(await fs.list(dir)).to.deep.equal([MANIFEST_FILE]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
