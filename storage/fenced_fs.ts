/**
 * A file system a crash can cut off: the real runtime's stand-in for a
 * process exit when several nodes share one worker thread. When its node
 * crashes (`fence`), every later operation of the crashed engine fails with
 * a "node crashed" error instead of touching the disk, and every file it
 * had open is closed once the operations already in flight have landed, so
 * the restarted node that opens the same directory never shares it with a
 * ghost: no late append, sync, rename or remove of the dead engine reaches
 * the disk after `fence()` resolves.
 *
 * What a crash keeps is what the kernel already had: bytes written (to the
 * page cache) stay, as they do when a process dies; bytes never written
 * (a memtable, a pending group) are lost. The simulated disk (`sim_fs.ts`)
 * models the harsher power cut; this is the process crash of the real one.
 *
 * Thread contract: used by the one thread that hosts its node.
 */
import { notHandledError } from '../src/core/errors.js';
import type { FileHandle, FileSystem, OpenMode } from './fs.js';

/** The error every operation of a fenced file system fails with. */
function fencedError(what: string): Error {
  return notHandledError(`file operation ${what}`, 'the node crashed and its files were closed');
}

/** A `FileSystem` that `fence()` cuts off for good. */
export class FencedFileSystem implements FileSystem {
  private fenced = false;
  private readonly handles = new Set<FencedHandle>();
  /** Operations in flight, settled or not; `fence` waits for them before closing handles. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly inner: FileSystem) {}

  /** True once fenced. */
  get isFenced(): boolean {
    return this.fenced;
  }

  /**
   * Cut the file system off: from now on every operation fails; resolves
   * once the operations in flight have landed and every open file is closed.
   */
  async fence(): Promise<void> {
    this.fenced = true;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    const handles = [...this.handles];
    this.handles.clear();
    await Promise.allSettled(handles.map((handle) => handle.closeInner()));
  }

  /** Run `op` unless fenced, tracked so `fence` can wait for it. */
  track<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.fenced) return Promise.reject(fencedError(what));
    const running = op();
    this.inFlight.add(running);
    const forget = (): void => void this.inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  /** Throw unless still live (the synchronous operations). */
  check(what: string): void {
    if (this.fenced) throw fencedError(what);
  }

  /** @internal A handle closed by its owner. */
  closed(handle: FencedHandle): void {
    this.handles.delete(handle);
  }

  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    const inner = await this.track(`open ${path}`, () => this.inner.open(path, mode));
    if (this.fenced) {
      // Opened while the fence went up: the crashed engine never sees it.
      await inner.close().catch(() => undefined);
      throw fencedError(`open ${path}`);
    }
    const handle = new FencedHandle(this, inner);
    this.handles.add(handle);
    return handle;
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.track(`read ${path}`, () => this.inner.readFile(path));
  }

  rename(from: string, to: string): Promise<void> {
    return this.track(`rename ${from}`, () => this.inner.rename(from, to));
  }

  remove(path: string): Promise<void> {
    return this.track(`remove ${path}`, () => this.inner.remove(path));
  }

  list(dir: string): Promise<string[]> {
    return this.track(`list ${dir}`, () => this.inner.list(dir));
  }

  exists(path: string): Promise<boolean> {
    return this.track(`stat ${path}`, () => this.inner.exists(path));
  }

  mkdirp(dir: string): Promise<void> {
    return this.track(`mkdir ${dir}`, () => this.inner.mkdirp(dir));
  }

  syncDir(dir: string): Promise<void> {
    return this.track(`sync ${dir}`, () => this.inner.syncDir(dir));
  }
}

/** An open file of a `FencedFileSystem`. */
class FencedHandle implements FileHandle {
  readonly appendSync?: (bytes: Uint8Array) => void;
  private open = true;

  constructor(
    private readonly fs: FencedFileSystem,
    private readonly inner: FileHandle,
  ) {
    this.path = inner.path;
    if (inner.appendSync) {
      const appendSync = inner.appendSync.bind(inner);
      this.appendSync = (bytes) => {
        fs.check(`append ${this.path}`);
        appendSync(bytes);
      };
    }
  }

  readonly path: string;

  size(): number {
    return this.inner.size();
  }

  readSync(offset: number, length: number): Uint8Array {
    this.fs.check(`read ${this.path}`);
    return this.inner.readSync(offset, length);
  }

  readInto(offset: number, length: number, target: Uint8Array): number {
    this.fs.check(`read ${this.path}`);
    return this.inner.readInto ? this.inner.readInto(offset, length, target) : copyInto(this.inner.readSync(offset, length), target);
  }

  append(bytes: Uint8Array): Promise<void> {
    return this.fs.track(`append ${this.path}`, () => this.inner.append(bytes));
  }

  sync(): Promise<void> {
    return this.fs.track(`sync ${this.path}`, () => this.inner.sync());
  }

  truncate(size: number): Promise<void> {
    return this.fs.track(`truncate ${this.path}`, () => this.inner.truncate(size));
  }

  async close(): Promise<void> {
    if (this.fs.isFenced) return; // the fence closes it
    this.fs.closed(this);
    await this.closeInner();
  }

  /** Close the real file once (by its owner, or by the fence). */
  async closeInner(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.inner.close();
  }
}

function copyInto(bytes: Uint8Array, target: Uint8Array): number {
  target.set(bytes);
  return bytes.length;
}
