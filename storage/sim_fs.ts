/**
 * The simulated side of the file-system seam (`fs.ts`): a whole disk in
 * memory, for the deterministic simulator and for crash tests.
 *
 * Model of durability (what a crash keeps), after the POSIX rules in `fs.ts`:
 * - A file has *current* bytes (what reads see) and *durable* bytes (what a
 *   crash keeps). `sync` on a handle makes the current bytes durable.
 * - A directory has *current* entries and *durable* entries. Creating,
 *   renaming and removing a file change the current entries; `syncDir` on the
 *   directory makes them durable. A file whose name never became durable
 *   vanishes on a crash, even if its bytes were synced.
 * - `crash(prng?)` reverts every file and directory to its durable state. With
 *   a `Prng`, each file whose only unsynced change is appended bytes keeps a
 *   seeded-length prefix of them (a torn write: the kernel wrote back part of
 *   the dirty pages), and with `flipProbability` that kept prefix may have
 *   one bit flipped (a sector written back half-way). Synced bytes are never
 *   touched. A file changed otherwise since its last sync (truncated below
 *   its durable size, or recreated with mode 'create') reverts to its durable
 *   bytes exactly.
 * - Time: by default every operation settles at once. With a latency model
 *   (`setLatency`, kept across crashes like the disk itself) `append`, `sync`
 *   and `syncDir` take the virtual time the model draws, waited on the
 *   simulator's timers. An append lands in the page cache at the call (reads
 *   see it at once) and its caller waits afterwards; a sync makes durable
 *   what was written *before the call*, only when its time is up, and fails
 *   with ECRASHED if the disk crashed meanwhile (an fsync in flight at a
 *   power loss promises nothing).
 * - Simplifications: directories made by `mkdirp` are durable at once
 *   (ringkv creates its directories at startup, and `RealFileSystem.mkdirp`
 *   fsyncs the parents it changed); a failed `sync` leaves the durable state
 *   as it was (it does not model Linux dropping dirty pages after EIO).
 *
 * A crash kills the process that used the disk: `crash` returns a fresh
 * `SimFileSystem` over the recovered disk, and this instance and all of its
 * handles fail every later call with code 'ECRASHED', so code still running
 * for the dead process cannot touch the disk again.
 *
 * Deterministic: no timers, no clock, no global randomness of its own; without
 * a latency model every async method settles through already-resolved
 * promises (microtasks only), with one it waits only on the injected `wait`.
 * Single thread.
 */
import type { FileHandle, FileSystem, OpenMode } from './fs.js';
import { assert } from '../src/core/assert.js';
import type { Prng } from '../src/core/prng.js';

/** An I/O error of the simulated disk; `code` mirrors the node:fs codes. */
export class SimFsError extends Error {
  override name = 'SimFsError';
  constructor(
    readonly code: 'ENOENT' | 'EISDIR' | 'ENOTDIR' | 'EBADF' | 'EIO' | 'ECRASHED',
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Counters of the simulated disk, cumulative across crashes (for write amplification). */
export interface SimFsStats {
  /** Bytes passed to `append`, all files. */
  bytesWritten: number;
  /** Calls to `append` that wrote. */
  appends: number;
  /** Successful `sync` calls on file handles. */
  syncs: number;
  /** Successful `syncDir` calls. */
  dirSyncs: number;
  /** Crashes simulated so far. */
  crashes: number;
  /** Bits flipped in kept unsynced tails by crashes (`flipProbability`). */
  tailFlips: number;
}

/** Which operations a latency model times. */
export type SimDiskOp = 'append' | 'sync' | 'syncDir';

/**
 * How long simulated I/O takes. The model draws each delay (from a seeded
 * source of its own) and waits on the simulator's clock; the disk never
 * reads a clock itself.
 */
export interface SimDiskLatency {
  /** Virtual ms that `op` over `bytes` bytes takes (0 = settles at once). */
  delay_ms(op: SimDiskOp, bytes: number): number;
  /** A promise that resolves `ms` virtual ms from now. */
  wait(ms: number): Promise<void>;
}

/** How a crash damages what it keeps. */
export interface SimCrashOptions {
  /** Probability that a file's kept unsynced tail gets one bit flipped (needs a `Prng`). Default 0. */
  flipProbability?: number;
}

/** A fault to inject on the next matching operation. */
export interface SimFault {
  /** Only operations on this path match; any path when absent. */
  path?: string;
  /** For 'append': bytes of the failed append that still reach the file (a partial write). */
  partialBytes?: number;
}

/** The disk state shared by a `SimFileSystem` and its successors after crashes. */
interface SimDisk {
  root: SimDir;
  stats: SimFsStats;
  faults: { op: 'append' | 'sync'; fault: SimFault }[];
  /** How long I/O takes; null = instant. */
  latency: SimDiskLatency | null;
}

/** A file's bytes: `data[0, length)` is current; durable is described by the other fields. */
interface SimFile {
  kind: 'file';
  /** Backing store; grows by doubling so appends are amortized O(1). */
  data: Uint8Array;
  /** Current size in bytes. */
  length: number;
  /** Size of the durable content. */
  durableLength: number;
  /**
   * Null while the current bytes extend the durable ones (the durable content
   * is `data[0, durableLength)`); a copy of the durable bytes once the file was
   * changed otherwise (truncated below them) since its last sync.
   */
  durableSnapshot: Uint8Array | null;
}

interface SimDir {
  kind: 'dir';
  entries: Map<string, SimNode>;
  /** Entries as of the last `syncDir` (what a crash keeps). */
  durableEntries: Map<string, SimNode>;
}

type SimNode = SimFile | SimDir;

/** An in-memory `FileSystem` with crash, torn-write, bit-flip and fault injection. */
export class SimFileSystem implements FileSystem {
  private alive = true;

  /** A fresh empty disk, or (internally) a new process view of an existing one. */
  constructor(private readonly disk: SimDisk = newDisk()) {}

  /** Time simulated I/O from now on (null: instant again); kept across crashes. */
  setLatency(latency: SimDiskLatency | null): void {
    this.disk.latency = latency;
  }

  /** Counters since the disk was created (shared with post-crash successors). */
  stats(): Readonly<SimFsStats> {
    return { ...this.disk.stats };
  }

  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    this.checkAlive();
    const { parent, name } = this.parentOf(path);
    let node = parent.entries.get(name);
    if (node?.kind === 'dir') throw new SimFsError('EISDIR', `${path} is a directory`);
    if (node === undefined) {
      if (mode === 'read') throw new SimFsError('ENOENT', `no such file ${path}`);
      node = newFile();
      parent.entries.set(name, node);
    } else if (mode === 'create') {
      truncateFile(node, 0);
    }
    return new SimFileHandle(this, this.disk, node, path, mode !== 'read');
  }

  async readFile(path: string): Promise<Uint8Array> {
    this.checkAlive();
    const node = this.lookup(path);
    if (node === undefined) throw new SimFsError('ENOENT', `no such file ${path}`);
    if (node.kind === 'dir') throw new SimFsError('EISDIR', `${path} is a directory`);
    return node.data.slice(0, node.length);
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkAlive();
    const src = this.parentOf(from);
    const node = src.parent.entries.get(src.name);
    if (node === undefined) throw new SimFsError('ENOENT', `no such file ${from}`);
    if (node.kind === 'dir') throw new SimFsError('EISDIR', `renaming directories is not supported: ${from}`);
    const dst = this.parentOf(to);
    if (dst.parent.entries.get(dst.name)?.kind === 'dir') throw new SimFsError('EISDIR', `${to} is a directory`);
    src.parent.entries.delete(src.name);
    dst.parent.entries.set(dst.name, node);
  }

  async remove(path: string): Promise<void> {
    this.checkAlive();
    const { parent, name } = this.parentOf(path);
    const node = parent.entries.get(name);
    if (node?.kind === 'dir') throw new SimFsError('EISDIR', `${path} is a directory`);
    parent.entries.delete(name);
  }

  async list(dir: string): Promise<string[]> {
    this.checkAlive();
    const node = this.lookup(dir);
    if (node === undefined || node.kind !== 'dir') return [];
    return [...node.entries.keys()].sort();
  }

  async exists(path: string): Promise<boolean> {
    this.checkAlive();
    return this.lookup(path) !== undefined;
  }

  async mkdirp(dir: string): Promise<void> {
    this.checkAlive();
    let at = this.disk.root;
    for (const part of splitPath(dir)) {
      let next = at.entries.get(part);
      if (next === undefined) {
        next = { kind: 'dir', entries: new Map(), durableEntries: new Map() };
        at.entries.set(part, next);
        at.durableEntries.set(part, next); // see "Simplifications" above
      }
      if (next.kind !== 'dir') throw new SimFsError('ENOTDIR', `${part} in ${dir} is a file`);
      at = next;
    }
  }

  async syncDir(dir: string): Promise<void> {
    this.checkAlive();
    let node = this.lookup(dir);
    if (node === undefined) throw new SimFsError('ENOENT', `no such directory ${dir}`);
    if (node.kind !== 'dir') throw new SimFsError('ENOTDIR', `${dir} is a file`);
    const entries = new Map(node.entries); // what the call covers: changes made before it
    await this.ioTime('syncDir', 0);
    this.checkAlive();
    node = this.lookup(dir);
    if (node === undefined || node.kind !== 'dir') return; // removed meanwhile: nothing left to make durable
    node.durableEntries = entries;
    this.disk.stats.dirSyncs += 1;
  }

  /**
   * Simulate a power loss: revert the disk to its durable state (with torn
   * prefixes of unsynced appends when `prng` is given), make this instance and
   * its handles unusable, and return the file system a restarted process sees.
   */
  crash(prng?: Prng, options: SimCrashOptions = {}): SimFileSystem {
    this.checkAlive();
    const flipProbability = options.flipProbability ?? 0;
    assert(flipProbability >= 0 && flipProbability <= 1, 'flipProbability is a probability');
    assert(flipProbability === 0 || prng !== undefined, 'flipping bits on a crash needs a Prng');
    this.alive = false;
    revertDir(this.disk.root, prng === undefined ? undefined : { prng, flipProbability, stats: this.disk.stats }, new Set());
    this.disk.faults = [];
    this.disk.stats.crashes += 1;
    return new SimFileSystem(this.disk);
  }

  /** Flip bit `bitIndex` (bit 0 is the low bit of byte 0) of a file, in its current and durable bytes. */
  flipBit(path: string, bitIndex: number): void {
    this.checkAlive();
    const node = this.lookup(path);
    if (node === undefined || node.kind !== 'file') throw new SimFsError('ENOENT', `no such file ${path}`);
    const at = Math.floor(bitIndex / 8);
    const mask = 1 << bitIndex % 8;
    const inCurrent = at < node.length;
    const inSnapshot = node.durableSnapshot !== null && at < node.durableSnapshot.length;
    if (!inCurrent && !inSnapshot) throw new RangeError(`bit ${bitIndex} is past the end of ${path}`);
    // Without a snapshot the durable bytes share `data`, so one flip changes both.
    if (inCurrent) node.data[at]! ^= mask;
    if (inSnapshot) node.durableSnapshot![at]! ^= mask;
  }

  /** Make the next `op` (matching `fault.path` if given) fail with EIO. Faults are consumed in order. */
  failNext(op: 'append' | 'sync', fault: SimFault = {}): void {
    this.checkAlive();
    this.disk.faults.push({ op, fault });
  }

  /** @internal Wait the virtual time the latency model gives `op` (nothing without a model). */
  async ioTime(op: SimDiskOp, bytes: number): Promise<void> {
    const latency = this.disk.latency;
    if (latency === null) return;
    const ms = latency.delay_ms(op, bytes);
    assert(Number.isFinite(ms) && ms >= 0, 'a disk delay is a finite number >= 0');
    if (ms > 0) await latency.wait(ms);
  }

  /** @internal Throws if this process view died in a crash. */
  checkAlive(): void {
    if (!this.alive) throw new SimFsError('ECRASHED', 'this file system crashed; use the one crash() returned');
  }

  private lookup(path: string): SimNode | undefined {
    let at: SimNode = this.disk.root;
    for (const part of splitPath(path)) {
      if (at.kind !== 'dir') return undefined;
      const next: SimNode | undefined = at.entries.get(part);
      if (next === undefined) return undefined;
      at = next;
    }
    return at;
  }

  private parentOf(path: string): { parent: SimDir; name: string } {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw new SimFsError('EISDIR', `${path} is the root directory`);
    const parent = this.lookup(parts.join('/'));
    if (parent === undefined) throw new SimFsError('ENOENT', `no such directory for ${path}`);
    if (parent.kind !== 'dir') throw new SimFsError('ENOTDIR', `parent of ${path} is a file`);
    return { parent, name };
  }
}

/** A handle on a simulated file; valid until closed or until its file system crashes. */
class SimFileHandle implements FileHandle {
  private closed = false;

  constructor(
    private readonly fs: SimFileSystem,
    private readonly disk: SimDisk,
    private readonly file: SimFile,
    readonly path: string,
    private readonly writable: boolean,
  ) {}

  size(): number {
    this.check(false);
    return this.file.length;
  }

  readSync(offset: number, length: number): Uint8Array {
    this.check(false);
    assert(offset >= 0 && length >= 0, 'read range is not negative');
    const end = Math.min(this.file.length, offset + length);
    return this.file.data.slice(Math.min(offset, end), end);
  }

  readInto(offset: number, length: number, target: Uint8Array): number {
    this.check(false);
    assert(offset >= 0 && length >= 0, 'read range is not negative');
    assert(length <= target.length, 'the target holds the read');
    const end = Math.min(this.file.length, offset + length);
    const start = Math.min(offset, end);
    target.set(this.file.data.subarray(start, end));
    return end - start;
  }

  async append(bytes: Uint8Array): Promise<void> {
    this.check(true);
    const fault = this.takeFault('append');
    if (fault !== undefined) {
      const partial = Math.min(bytes.length, Math.max(0, fault.partialBytes ?? 0));
      appendFile(this.file, bytes.subarray(0, partial));
      throw new SimFsError('EIO', `injected append failure on ${this.path} (${partial} bytes written)`);
    }
    appendFile(this.file, bytes);
    this.disk.stats.bytesWritten += bytes.length;
    this.disk.stats.appends += 1;
    await this.fs.ioTime('append', bytes.length);
  }

  async sync(): Promise<void> {
    this.check(false);
    if (this.takeFault('sync') !== undefined) throw new SimFsError('EIO', `injected sync failure on ${this.path}`);
    const covered = this.file.length; // an fsync promises the bytes written before it was called
    await this.fs.ioTime('sync', 0);
    this.fs.checkAlive(); // a crash while the fsync ran: it made nothing durable
    if (this.file.durableSnapshot === null && this.file.length >= covered) {
      this.file.durableLength = Math.max(this.file.durableLength, covered);
    } else {
      // Truncated while the fsync ran: the file's current bytes are what is on disk now.
      this.file.durableLength = this.file.length;
      this.file.durableSnapshot = null;
    }
    this.disk.stats.syncs += 1;
  }

  async truncate(size: number): Promise<void> {
    this.check(true);
    truncateFile(this.file, size);
  }

  async close(): Promise<void> {
    this.check(false);
    this.closed = true;
  }

  private check(write: boolean): void {
    this.fs.checkAlive();
    if (this.closed) throw new SimFsError('EBADF', `${this.path} is closed`);
    if (write && !this.writable) throw new SimFsError('EBADF', `${this.path} is open read-only`);
  }

  private takeFault(op: 'append' | 'sync'): SimFault | undefined {
    const at = this.disk.faults.findIndex((f) => f.op === op && (f.fault.path === undefined || f.fault.path === this.path));
    if (at < 0) return undefined;
    return this.disk.faults.splice(at, 1)[0]?.fault;
  }
}

function newDisk(): SimDisk {
  return {
    root: { kind: 'dir', entries: new Map(), durableEntries: new Map() },
    stats: { bytesWritten: 0, appends: 0, syncs: 0, dirSyncs: 0, crashes: 0, tailFlips: 0 },
    faults: [],
    latency: null,
  };
}

function newFile(): SimFile {
  return { kind: 'file', data: new Uint8Array(64), length: 0, durableLength: 0, durableSnapshot: null };
}

/** Path components; '' and '.' are dropped, so 'a//b/' and '/a/b' name the same file. */
function splitPath(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  assert(!parts.includes('..'), `simulated paths have no '..': ${path}`);
  return parts;
}

function ensureCapacity(file: SimFile, size: number): void {
  if (size <= file.data.length) return;
  let capacity = file.data.length;
  while (capacity < size) capacity *= 2;
  const grown = new Uint8Array(capacity);
  grown.set(file.data.subarray(0, file.length));
  file.data = grown;
}

function appendFile(file: SimFile, bytes: Uint8Array): void {
  ensureCapacity(file, file.length + bytes.length);
  file.data.set(bytes, file.length);
  file.length += bytes.length;
}

function truncateFile(file: SimFile, size: number): void {
  assert(size >= 0, 'truncate size is not negative');
  if (size < file.durableLength && file.durableSnapshot === null) {
    // The durable bytes are about to be overwritten in `data`: keep a copy.
    file.durableSnapshot = file.data.slice(0, file.durableLength);
  }
  ensureCapacity(file, size);
  // POSIX extends with zeros; clear what a shrink left behind in the backing store.
  if (size > file.length) file.data.fill(0, file.length, size);
  file.length = size;
}

/** What a crash draws its damage from: tears (and flips) come only with a `Prng`. */
interface CrashDamage {
  prng: Prng;
  flipProbability: number;
  stats: SimFsStats;
}

/** Revert a directory tree to its durable state; `seen` keeps hard-linked files from reverting twice. */
function revertDir(dir: SimDir, damage: CrashDamage | undefined, seen: Set<SimFile>): void {
  const names = [...dir.durableEntries.keys()].sort();
  dir.entries = new Map(names.map((name) => [name, dir.durableEntries.get(name)!]));
  dir.durableEntries = new Map(dir.entries);
  for (const node of dir.entries.values()) {
    if (node.kind === 'dir') revertDir(node, damage, seen);
    else if (!seen.has(node)) {
      seen.add(node);
      revertFile(node, damage);
    }
  }
}

function revertFile(file: SimFile, damage: CrashDamage | undefined): void {
  if (file.durableSnapshot !== null) {
    file.data = file.durableSnapshot;
    file.length = file.durableSnapshot.length;
    if (file.data.length === 0) file.data = new Uint8Array(64);
  } else {
    const unsynced = file.length - file.durableLength;
    const kept = damage !== undefined && unsynced > 0 ? damage.prng.int(unsynced + 1) : 0;
    // Only the kept unsynced tail may rot: synced bytes are what the disk promised.
    if (damage !== undefined && kept > 0 && damage.flipProbability > 0 && damage.prng.chance(damage.flipProbability)) {
      const bit = damage.prng.int(kept * 8);
      file.data[file.durableLength + (bit >> 3)]! ^= 1 << (bit & 7);
      damage.stats.tailFlips += 1;
    }
    file.length = file.durableLength + kept;
  }
  file.durableLength = file.length;
  file.durableSnapshot = null;
}
