/**
 * The real side of the file-system seam (`fs.ts`): node:fs, for production
 * and real-disk tests. Writes, syncs and directory operations go through
 * `fs.promises` (they may block on the device, so they leave the thread free);
 * `readSync` and `readInto` are positional `fs.readSync` calls on the
 * descriptor because reads hit the page cache and an async hop per block
 * would dominate the read path.
 *
 * Durability follows POSIX: `sync` is fdatasync (it also flushes the file
 * size, which is all the metadata an append-only file needs); `syncDir` opens
 * the directory and fsyncs it, which is what makes a create, rename or remove
 * survive a power loss.
 *
 * A handle tracks its file's size itself so that `size()` is synchronous; it
 * assumes no other process changes the file while it is open. A handle is
 * used by one thread only, and by one `append` at a time.
 */
import { promises as fsp, readSync as fsReadSync, writeSync as fsWriteSync } from 'node:fs';
import type { FileHandle as NodeFileHandle } from 'node:fs/promises';
import { dirname as parentPath, resolve as resolvePath } from 'node:path';
import type { FileHandle, FileSystem, OpenMode } from './fs.js';
import { assert } from '../src/core/assert.js';

/** `FileSystem` over node:fs. Paths are used as given (relative to the process's cwd if relative). */
export class RealFileSystem implements FileSystem {
  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    // 'a+' and 'w+' keep the descriptor readable so `readSync` works on files being written.
    const flags = mode === 'read' ? 'r' : mode === 'append' ? 'a+' : 'w+';
    const handle = await fsp.open(path, flags);
    try {
      const { size } = await handle.stat();
      return new RealFileHandle(handle, path, size);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async readFile(path: string): Promise<Uint8Array> {
    return new Uint8Array(await fsp.readFile(path));
  }

  async rename(from: string, to: string): Promise<void> {
    await fsp.rename(from, to);
  }

  async remove(path: string): Promise<void> {
    try {
      await fsp.unlink(path);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
  }

  async list(dir: string): Promise<string[]> {
    try {
      return (await fsp.readdir(dir)).sort();
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return [];
      throw err;
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await fsp.stat(path);
      return true;
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  /** Create `dir` and missing parents, then fsync the parent of each directory created so they survive a crash. */
  async mkdirp(dir: string): Promise<void> {
    const first = await fsp.mkdir(dir, { recursive: true });
    if (first === undefined) return; // nothing was created
    // `first` is the outermost directory created; every directory from it down to `dir` is new.
    const top = resolvePath(first);
    const parents: string[] = [];
    for (let at = resolvePath(dir); ; at = parentPath(at)) {
      parents.push(parentPath(at));
      if (at === top || at === parentPath(at)) break;
    }
    for (const parent of parents) await this.syncDir(parent);
  }

  async syncDir(dir: string): Promise<void> {
    const handle = await fsp.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/** An open node:fs file with its size tracked in memory. */
class RealFileHandle implements FileHandle {
  constructor(
    private readonly handle: NodeFileHandle,
    readonly path: string,
    /** Current size, updated by `append` and `truncate`. */
    private size_bytes: number,
  ) {}

  size(): number {
    return this.size_bytes;
  }

  readSync(offset: number, length: number): Uint8Array {
    // Not Buffer.allocUnsafe: small ones share a pool, and a caller reaching `.buffer` would see other data.
    const buffer = new Uint8Array(length);
    const filled = this.readInto(offset, length, buffer);
    return filled === length ? buffer : buffer.subarray(0, filled);
  }

  readInto(offset: number, length: number, target: Uint8Array): number {
    assert(offset >= 0 && length >= 0, 'read range is not negative');
    assert(length <= target.length, 'the target holds the read');
    let filled = 0;
    // A positional read may return short before end of file (rare on regular files): loop until EOF.
    while (filled < length) {
      const n = fsReadSync(this.handle.fd, target, filled, length - filled, offset + filled);
      if (n === 0) break;
      filled += n;
    }
    return filled;
  }

  async append(bytes: Uint8Array): Promise<void> {
    let written = 0;
    // `write` may be partial; the explicit position is ignored under O_APPEND and right under 'w+'.
    while (written < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, written, bytes.length - written, this.size_bytes + written);
      assert(bytesWritten > 0, 'write made progress');
      written += bytesWritten;
    }
    this.size_bytes += bytes.length;
  }

  appendSync(bytes: Uint8Array): void {
    let written = 0;
    while (written < bytes.length) {
      const n = fsWriteSync(this.handle.fd, bytes, written, bytes.length - written, this.size_bytes + written);
      assert(n > 0, 'write made progress');
      written += n;
    }
    this.size_bytes += bytes.length;
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  async truncate(size: number): Promise<void> {
    await this.handle.truncate(size);
    this.size_bytes = size;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * Timers over `setTimeout`, for the real callers of components that take an
 * injected `schedule` (the commit log's periodic sync). Unref'd: a pending
 * timer does not keep the process alive.
 */
export const realTimers = {
  schedule(delay_ms: number, fn: () => void): { cancel(): void } {
    const timer = setTimeout(fn, delay_ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
