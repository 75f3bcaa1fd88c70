/**
 * The fence a node crash puts around its replica's files (`storage/fenced_fs.ts`)
 * when other nodes share its thread: after `fence()` nothing of the dead
 * engine reaches the disk, what was in flight has landed, and its files are
 * closed, so a restarted engine opens the directory alone.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { UnavailableError } from '../../src/core/errors.js';
import { FencedFileSystem } from '../../storage/fenced_fs.js';
import type { FileHandle, FileSystem, OpenMode } from '../../storage/fs.js';
import { RealFileSystem } from '../../storage/real_fs.js';

describe('storage/fenced_fs', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-fenced-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lets the operations in flight land, then refuses every operation and closes every file', async () => {
    // The real file system, counting closes of the files it opened.
    const real = new RealFileSystem();
    let closed = 0;
    const counting: FileSystem = Object.assign(Object.create(real) as FileSystem, {
      open: async (path: string, mode: OpenMode): Promise<FileHandle> => {
        const handle = await real.open(path, mode);
        const close = handle.close.bind(handle);
        handle.close = async () => {
          closed++;
          await close();
        };
        return handle;
      },
    });
    const fs = new FencedFileSystem(counting);
    const path = join(dir, 'log');
    const file = await fs.open(path, 'append');
    file.appendSync!(new Uint8Array([1, 2]));
    const inFlight = file.append(new Uint8Array([3, 4])); // not awaited: the fence must wait for it
    await fs.fence();
    expect(closed, 'the fence closed the open file').to.equal(1);
    await inFlight;
    expect([...(await readFile(path))], 'what was written, and what was in flight, is in the file').to.deep.equal([1, 2, 3, 4]);
    const refused = async (op: () => Promise<unknown>): Promise<unknown> => op().then(() => 'done', (err: unknown) => err);
    expect(() => file.appendSync!(new Uint8Array([5]))).to.throw(UnavailableError, /node crashed/);
    expect(await refused(() => file.append(new Uint8Array([5])))).to.be.instanceOf(UnavailableError);
    expect(await refused(() => file.sync())).to.be.instanceOf(UnavailableError);
    expect(() => file.readSync(0, 2)).to.throw(UnavailableError);
    expect(await refused(() => fs.open(join(dir, 'other'), 'create'))).to.be.instanceOf(UnavailableError);
    expect(await refused(() => fs.rename(path, join(dir, 'moved')))).to.be.instanceOf(UnavailableError);
    expect(await refused(() => fs.remove(path))).to.be.instanceOf(UnavailableError);
    expect([...(await readFile(path))], 'nothing reached the disk after the fence').to.deep.equal([1, 2, 3, 4]);
    await file.close(); // a late close of the dead engine is harmless, and closes nothing twice
    expect(closed).to.equal(1);
  });

  it('works as the file system it wraps until fenced', async () => {
    const fs = new FencedFileSystem(new RealFileSystem());
    const path = join(dir, 'data');
    const file = await fs.open(path, 'create');
    await file.append(new TextEncoder().encode('hello'));
    await file.sync();
    expect(new TextDecoder().decode(file.readSync(0, 5))).to.equal('hello');
    const target = new Uint8Array(5);
    expect(file.readInto!(0, 5, target)).to.equal(5);
    await file.close();
    expect(await fs.list(dir)).to.deep.equal(['data']);
    expect(await fs.exists(path)).to.equal(true);
    await fs.fence();
    expect(await fs.exists(path).catch((err: unknown) => err)).to.be.instanceOf(UnavailableError);
  });
});
