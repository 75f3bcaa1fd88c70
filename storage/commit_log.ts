/**
 * The commit log of a node's storage engine (Cassandra style): every mutation
 * is appended here before it enters the memtable, so a crash loses no
 * acknowledged write. Payloads are opaque bytes; the engine encodes mutations.
 *
 * Byte layout. A directory of segment files named
 * `commitlog-<id, 16 decimal digits>.log`; ids only grow, so name order is id
 * order and replay order. All integers are little-endian.
 *
 *   segment file
 *   +------------------------- segment header (20 bytes) ---------------------------+
 *   | magic u32 "RKCL" | version u16 = 1 | zero u16 | segment id u64 | hsum u32     |
 *   +--------------------------------------------------------------------------------+
 *   | record | record | ... | record |
 *
 *   record (12-byte header, then the payload)
 *   +------------+--------------------+---------------------+---------------------+
 *   | length u32 | lsum u32           | psum u32            | payload             |
 *   |            | checksum(length)   | checksum(payload)   | (length bytes)      |
 *   +------------+--------------------+---------------------+---------------------+
 *
 * Why this layout:
 * - Recovery must tell a torn tail (a crash cut the last append short: drop it)
 *   from corruption (bytes changed after they were written: stop, never skip).
 *   The file system keeps a *prefix* of an interrupted append, so every byte
 *   present is a byte that was written. Hence a record cut short at the end of
 *   the last segment is torn, and a record whose bytes are all present but
 *   whose checksum fails is corrupt, wherever it is.
 * - `lsum` lets recovery trust `length` before using it. Without it a flipped
 *   bit in the last record's length would point past the end of the file and
 *   the record would pass for torn: an acknowledged write silently dropped.
 * - The segment header's magic and version refuse a foreign or future file;
 *   its segment id catches a file renamed or copied into the wrong place; `hsum`
 *   covers the 16 bytes before it. Every bit of a segment is under a checksum.
 * - Segments let the engine drop a flushed memtable's records by deleting
 *   whole files, with no rewriting.
 * Checksums are `checksum()` (xxh32) from `src/core/hash.ts`.
 *
 * Recovery (`CommitLog.open`) replays segments in id order:
 * - end of the last segment inside a segment header or record (incomplete) ->
 *   torn tail: truncate to the last good record, fsync, continue; a last
 *   segment without a complete header (a crash while rolling) is removed;
 * - a fully present header or record with a bad checksum, a length over
 *   COMMITLOG_RECORD_MAX_BYTES, a bad magic/version/id, or anything incomplete
 *   in a segment that is not the last -> `CorruptionError` naming the file and
 *   the byte offset of the bad record. Nothing is ever skipped.
 * A closed segment is always fully synced before the next one is created, so
 * only the last segment can legitimately end torn. A file system that exposes
 * zeros or garbage past the written data after a crash (rather than a prefix)
 * makes recovery report corruption at that record: loud, never silent.
 * Recovery then starts a fresh segment; the old ones stay until the engine
 * deletes them. Records of segments whose deletion was not yet durable may be
 * replayed again after a crash: replay must be idempotent for the engine.
 *
 * Writing: group commit (leader/follower). Appends queue; one writer at a time
 * takes everything queued (up to COMMITLOG_GROUP_MAX_RECORDS, and no more
 * bytes than a segment) and does one `append` and, in batch mode, one `sync`
 * for the whole group. Appends issued meanwhile wait and form the next group.
 * - `batch`: an append resolves after the fsync that covers it. A crash loses
 *   only appends that had not resolved (some of them may survive, in order).
 * - `periodic`: an append resolves once written to the OS; an fsync runs every
 *   `periodicSync_ms`. A process crash loses nothing written, but a power loss
 *   or kernel crash loses the appends acknowledged in the last
 *   `periodicSync_ms` plus the duration of the fsync then in flight.
 * Any I/O error fails the log: that group and every later append reject, since
 * the file's tail is unknown and a failed fsync cannot be retried safely (the
 * kernel may have dropped the dirty pages). Close it and open it again:
 * recovery truncates whatever partial record the failure left.
 *
 * Thread contract: one thread. Methods may be called concurrently (they return
 * promises); all file I/O is serialized on one internal chain.
 */
import type { FileHandle, FileSystem } from './fs.js';
import { dirName, joinPath } from './fs.js';
import { checksum } from '../src/core/hash.js';
import { assert } from '../src/core/assert.js';
import { CorruptionError, InvalidRequestError, OverloadedError } from '../src/core/errors.js';
import {
  COMMITLOG_GROUP_MAX_RECORDS,
  COMMITLOG_PENDING_MAX_RECORDS,
  COMMITLOG_PERIODIC_SYNC_MS,
  COMMITLOG_RECORD_MAX_BYTES,
  COMMITLOG_REPLAY_READ_BYTES,
  COMMITLOG_SEGMENT_BYTES,
} from '../src/core/limits.js';

/** Bytes of the header at the start of every segment file. */
export const SEGMENT_HEADER_BYTES = 20;
/** Bytes of the header before every record's payload. */
export const RECORD_HEADER_BYTES = 12;

const SEGMENT_MAGIC = 0x4c434b52; // the bytes "RKCL" read as a little-endian u32
const FORMAT_VERSION = 1;
const SEGMENT_NAME = /^commitlog-(\d{16})\.log$/;

/** When an append is acknowledged: after its fsync, or after its write with fsyncs on a timer. */
export type SyncMode = 'batch' | 'periodic';

/** Injected timers: real callers pass one over setTimeout (`realTimers`), the simulator its virtual clock. */
export interface CommitLogTimers {
  schedule(delay_ms: number, fn: () => void): { cancel(): void };
}

/** How to run a commit log. */
export interface CommitLogOptions {
  syncMode: SyncMode;
  /** fsync interval in periodic mode (default COMMITLOG_PERIODIC_SYNC_MS). */
  periodicSync_ms?: number;
  /** A segment is closed and a new one started before it would grow past this (default COMMITLOG_SEGMENT_BYTES). */
  segmentBytes?: number;
  /** Required in periodic mode. */
  timers?: CommitLogTimers;
}

/** Where a replayed record sits. */
export interface RecordPosition {
  segmentId: number;
  /** Byte offset of the record's header in its segment file. */
  offset: number;
}

/** What recovery found, for logs and tests. */
export interface RecoveryReport {
  /** Segments replayed. */
  segments: number;
  /** Records replayed. */
  records: number;
  /** The torn tail dropped from the last segment, if any. */
  tornTail: { path: string; offset: number; droppedBytes: number } | null;
}

/** The file name of segment `id` (zero-padded so that name order is id order). */
export function segmentFileName(id: number): string {
  assert(Number.isSafeInteger(id) && id > 0, 'segment ids are positive integers');
  return `commitlog-${String(id).padStart(16, '0')}.log`;
}

/** The segment id in a file name, or null if the name is not a segment's. */
export function parseSegmentFileName(name: string): number | null {
  const match = SEGMENT_NAME.exec(name);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** A queued append waiting for its group commit. */
interface PendingAppend {
  framed: Uint8Array;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The segment being appended to. */
interface ActiveSegment {
  id: number;
  handle: FileHandle;
  /** Bytes in the file, header included. */
  size: number;
  /** True when bytes were appended since the last fsync. */
  unsynced: boolean;
}

/** A segmented, checksummed, group-committed commit log over a `FileSystem`. */
export class CommitLog {
  /** Appends not yet taken by a group, oldest first. */
  private readonly queue: PendingAppend[] = [];
  /** The running group-commit loop, null when the queue is idle. */
  private leader: Promise<void> | null = null;
  /** Tail of the chain that serializes every file operation. */
  private ioTail: Promise<unknown> = Promise.resolve();
  /** The first I/O error; once set the log accepts nothing more. */
  private failure: unknown = null;
  private closing = false;
  /** The pending periodic-sync timer. */
  private timer: { cancel(): void } | null = null;
  private active: ActiveSegment | null = null;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly syncMode: SyncMode,
    private readonly segmentBytes: number,
    private readonly periodicSync_ms: number,
    private readonly timers: CommitLogTimers | undefined,
    /** Ids of the segments on disk, oldest first; the last one is active. */
    private liveIds: number[],
    private nextId: number,
    /** What recovery found when this log was opened. */
    readonly recovery: RecoveryReport,
  ) {}

  /**
   * Open the log in `dir` (created if missing): replay every record in order
   * through `onRecord`, repair a torn tail, start a fresh segment. Throws
   * `CorruptionError` if any record is corrupt; `onRecord` may by then have
   * seen the records before it, which the caller must discard.
   */
  static async open(
    fs: FileSystem,
    dir: string,
    options: CommitLogOptions,
    onRecord: (payload: Uint8Array, position: RecordPosition) => void,
  ): Promise<CommitLog> {
    const segmentBytes = options.segmentBytes ?? COMMITLOG_SEGMENT_BYTES;
    const periodicSync_ms = options.periodicSync_ms ?? COMMITLOG_PERIODIC_SYNC_MS;
    assert(segmentBytes >= SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES, 'a segment holds at least one record');
    assert(options.syncMode === 'batch' || options.timers !== undefined, 'periodic mode needs injected timers');
    assert(periodicSync_ms > 0, 'the periodic sync interval is positive');
    await fs.mkdirp(dir);
    const ids = (await fs.list(dir)).map(parseSegmentFileName).filter((id): id is number => id !== null);
    ids.sort((a, b) => a - b);
    const recovery: RecoveryReport = { segments: 0, records: 0, tornTail: null };
    const liveIds: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const kept = await recoverSegment(fs, joinPath(dir, segmentFileName(id)), id, i === ids.length - 1, recovery, onRecord);
      if (kept) liveIds.push(id);
    }
    const nextId = (ids[ids.length - 1] ?? 0) + 1;
    const log = new CommitLog(fs, dir, options.syncMode, segmentBytes, periodicSync_ms, options.timers, liveIds, nextId, recovery);
    await log.startSegment();
    log.schedulePeriodicSync();
    return log;
  }

  /**
   * Append one record. Resolves once it is durable (batch) or written
   * (periodic); rejects with `InvalidRequestError` if too large, with
   * `OverloadedError` if too many appends wait, or with the I/O error that
   * failed the log.
   */
  async append(payload: Uint8Array): Promise<void> {
    assert(!this.closing, 'append on a closed commit log');
    if (payload.length > COMMITLOG_RECORD_MAX_BYTES) {
      throw new InvalidRequestError(
        `commit-log record of ${payload.length} bytes exceeds COMMITLOG_RECORD_MAX_BYTES (${COMMITLOG_RECORD_MAX_BYTES}); split the mutation`,
      );
    }
    if (this.failure !== null) throw this.failure;
    if (this.queue.length >= COMMITLOG_PENDING_MAX_RECORDS) {
      throw new OverloadedError(`commit-log queue (${COMMITLOG_PENDING_MAX_RECORDS} records)`);
    }
    const framed = frameRecord(payload);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ framed, resolve, reject });
      if (this.leader === null) this.leader = this.lead();
    });
  }

  /**
   * Close the active segment and start a new one; returns the new segment's
   * id, the first that is not closed. Every append issued after this call
   * lands in that segment or a later one, so once the memtable that was
   * current before the call is flushed, `deleteSegmentsBefore(id)` is safe.
   */
  async rollSegment(): Promise<number> {
    assert(!this.closing, 'roll on a closed commit log');
    return this.exclusive(async () => {
      if (this.failure !== null) throw this.failure;
      try {
        return await this.rollLocked();
      } catch (err) {
        this.fail(err);
        throw err;
      }
    });
  }

  /** Delete every closed segment with an id below `id` (oldest first), durably. */
  async deleteSegmentsBefore(id: number): Promise<void> {
    assert(!this.closing, 'delete on a closed commit log');
    return this.exclusive(async () => {
      assert(this.active !== null && id <= this.active.id, 'the active segment is never deleted');
      const doomed = this.liveIds.filter((live) => live < id);
      for (const old of doomed) {
        await this.fs.remove(joinPath(this.dir, segmentFileName(old)));
        this.liveIds = this.liveIds.filter((live) => live !== old);
      }
      if (doomed.length > 0) await this.fs.syncDir(this.dir);
    });
  }

  /** Ids of the segments on disk, oldest first; the last is the active one. */
  segmentIds(): number[] {
    return [...this.liveIds];
  }

  /**
   * Wait for queued appends, fsync, and release the file. Rejects with the
   * error that failed the log, if one did, so a periodic-mode fsync failure
   * (which no append can report) is not silent.
   */
  async close(): Promise<void> {
    assert(!this.closing, 'commit log closed twice');
    this.closing = true;
    this.timer?.cancel();
    this.timer = null;
    if (this.leader !== null) await this.leader;
    await this.exclusive(async () => {
      const active = this.active;
      this.active = null;
      if (active === null) return;
      try {
        if (this.failure === null && active.unsynced) await active.handle.sync();
      } finally {
        await active.handle.close();
      }
    });
    if (this.failure !== null) throw this.failure;
  }

  /** The group-commit loop: one group at a time until the queue is empty. */
  private async lead(): Promise<void> {
    // One microtask first, so that appends issued in the same turn join the first group.
    await Promise.resolve();
    while (this.queue.length > 0) {
      const group = this.takeGroup();
      await this.exclusive(() => this.writeGroup(group));
    }
    this.leader = null;
  }

  /** The oldest queued appends that fit one group. */
  private takeGroup(): PendingAppend[] {
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && count < COMMITLOG_GROUP_MAX_RECORDS) {
      const next = this.queue[count]!.framed.length;
      if (count > 0 && bytes + next > this.segmentBytes) break;
      bytes += next;
      count++;
    }
    return this.queue.splice(0, count);
  }

  /** Write (and in batch mode fsync) one group, then settle its appends. Never throws. */
  private async writeGroup(group: PendingAppend[]): Promise<void> {
    try {
      if (this.failure !== null) throw this.failure;
      const bytes = concatFramed(group);
      const active = this.activeSegment();
      if (active.size > SEGMENT_HEADER_BYTES && active.size + bytes.length > this.segmentBytes) await this.rollLocked();
      const target = this.activeSegment();
      target.unsynced = true;
      await target.handle.append(bytes);
      target.size += bytes.length;
      if (this.syncMode === 'batch') await this.syncLocked();
    } catch (err) {
      this.fail(err);
      for (const pending of group) pending.reject(err);
      return;
    }
    for (const pending of group) pending.resolve();
  }

  /** Run `fn` after every file operation queued before it, and before any queued after. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.ioTail.then(fn);
    this.ioTail = run.catch(() => undefined);
    return run;
  }

  /** Close the active segment (fsynced first) and start the next. Inside `exclusive`. */
  private async rollLocked(): Promise<number> {
    // A closed segment must be fully durable: recovery calls a torn non-last segment corrupt.
    await this.syncLocked();
    const old = this.activeSegment();
    this.active = null;
    await old.handle.close();
    return this.startSegment();
  }

  /** Create segment `nextId` durably (header fsynced, directory fsynced) and make it active. */
  private async startSegment(): Promise<number> {
    const id = this.nextId++;
    const handle = await this.fs.open(joinPath(this.dir, segmentFileName(id)), 'create');
    try {
      await handle.append(encodeSegmentHeader(id));
      await handle.sync();
      // The name must be durable before any record in this segment is acknowledged.
      await this.fs.syncDir(this.dir);
    } catch (err) {
      await handle.close().catch(() => undefined); // the original error is the one to report
      throw err;
    }
    this.active = { id, handle, size: SEGMENT_HEADER_BYTES, unsynced: false };
    this.liveIds.push(id);
    return id;
  }

  private async syncLocked(): Promise<void> {
    const active = this.activeSegment();
    if (!active.unsynced) return;
    await active.handle.sync();
    active.unsynced = false;
  }

  private schedulePeriodic(): void {
    assert(this.timers !== undefined, 'periodic mode has timers');
    this.timer = this.timers.schedule(this.periodicSync_ms, () => {
      this.timer = null;
      if (this.closing || this.failure !== null) return;
      this.exclusive(() => (this.active === null ? Promise.resolve() : this.syncLocked())).then(
        () => {
          if (!this.closing && this.failure === null) this.schedulePeriodic();
        },
        (err: unknown) => this.fail(err),
      );
    });
  }

  private schedulePeriodicSync(): void {
    if (this.syncMode === 'periodic') this.schedulePeriodic();
  }

  private activeSegment(): ActiveSegment {
    assert(this.active !== null, 'the commit log has an active segment');
    return this.active;
  }

  private fail(err: unknown): void {
    if (this.failure === null) this.failure = err;
  }
}

/** Frame one payload as a record (header + payload). */
function frameRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, checksum(out.subarray(0, 4)), true);
  view.setUint32(8, checksum(payload), true);
  out.set(payload, RECORD_HEADER_BYTES);
  return out;
}

function concatFramed(group: PendingAppend[]): Uint8Array {
  if (group.length === 1) return group[0]!.framed;
  const out = new Uint8Array(group.reduce((sum, pending) => sum + pending.framed.length, 0));
  let at = 0;
  for (const pending of group) {
    out.set(pending.framed, at);
    at += pending.framed.length;
  }
  return out;
}

function encodeSegmentHeader(id: number): Uint8Array {
  const out = new Uint8Array(SEGMENT_HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, SEGMENT_MAGIC, true);
  view.setUint16(4, FORMAT_VERSION, true);
  view.setUint16(6, 0, true);
  view.setBigUint64(8, BigInt(id), true);
  view.setUint32(16, checksum(out.subarray(0, 16)), true);
  return out;
}

/**
 * Replay one segment; repair it if it is the last and ends torn. Returns false
 * when the segment was removed (a last segment without a complete header).
 */
async function recoverSegment(
  fs: FileSystem,
  path: string,
  id: number,
  isLast: boolean,
  recovery: RecoveryReport,
  onRecord: (payload: Uint8Array, position: RecordPosition) => void,
): Promise<boolean> {
  // The last segment is opened writable: a torn tail is truncated through this handle.
  const handle = await fs.open(path, isLast ? 'append' : 'read');
  let goodEnd: number;
  const size = handle.size();
  try {
    goodEnd = scanSegment(new ChunkedReader(handle), size, path, id, isLast, (payload, offset) => {
      recovery.records += 1;
      onRecord(payload, { segmentId: id, offset });
    });
    if (goodEnd >= SEGMENT_HEADER_BYTES) recovery.segments += 1;
    if (goodEnd < size && goodEnd >= SEGMENT_HEADER_BYTES) {
      await handle.truncate(goodEnd);
      await handle.sync(); // before a later segment exists, or this one would read as torn mid-log
    }
  } finally {
    await handle.close();
  }
  // An empty segment (goodEnd = size = 0) is torn too: its header never made it.
  if (goodEnd < size || goodEnd < SEGMENT_HEADER_BYTES) recovery.tornTail = { path, offset: goodEnd, droppedBytes: size - goodEnd };
  if (goodEnd >= SEGMENT_HEADER_BYTES) return true;
  // A crash while rolling left a segment without a complete header: it never held a record.
  await fs.remove(path);
  await fs.syncDir(dirName(path));
  return false;
}

/**
 * Check a segment's header and records, calling `onRecord` for each good one.
 * Returns the end of the last good record (less than `size` only for a torn
 * tail of the last segment); throws `CorruptionError` otherwise.
 */
function scanSegment(
  reader: ChunkedReader,
  size: number,
  path: string,
  id: number,
  isLast: boolean,
  onRecord: (payload: Uint8Array, offset: number) => void,
): number {
  const tornOrCorrupt = (offset: number, detail: string): number => {
    if (isLast) return offset;
    throw new CorruptionError(path, offset, `${detail} in a segment that is not the last`);
  };
  if (size < SEGMENT_HEADER_BYTES) return tornOrCorrupt(0, 'the segment header is incomplete');
  checkSegmentHeader(reader.read(0, SEGMENT_HEADER_BYTES), path, id);
  let offset = SEGMENT_HEADER_BYTES;
  while (offset < size) {
    if (size - offset < RECORD_HEADER_BYTES) return tornOrCorrupt(offset, 'the record header is incomplete');
    const header = viewOf(reader.read(offset, RECORD_HEADER_BYTES));
    const length = header.getUint32(0, true);
    if (checksum(new Uint8Array(header.buffer, header.byteOffset, 4)) !== header.getUint32(4, true)) {
      throw new CorruptionError(path, offset, 'the record length fails its checksum');
    }
    if (length > COMMITLOG_RECORD_MAX_BYTES) {
      throw new CorruptionError(path, offset, `record length ${length} exceeds COMMITLOG_RECORD_MAX_BYTES`);
    }
    const payloadSum = header.getUint32(8, true);
    if (size - offset - RECORD_HEADER_BYTES < length) return tornOrCorrupt(offset, 'the record payload is incomplete');
    const payload = reader.read(offset + RECORD_HEADER_BYTES, length);
    assert(payload.length === length, 'a record inside the file reads whole');
    if (checksum(payload) !== payloadSum) throw new CorruptionError(path, offset, 'the record payload fails its checksum');
    onRecord(payload.slice(), offset);
    offset += RECORD_HEADER_BYTES + length;
  }
  return offset;
}

function checkSegmentHeader(bytes: Uint8Array, path: string, id: number): void {
  const view = viewOf(bytes);
  if (checksum(bytes.subarray(0, 16)) !== view.getUint32(16, true)) {
    throw new CorruptionError(path, 0, 'the segment header fails its checksum');
  }
  if (view.getUint32(0, true) !== SEGMENT_MAGIC) throw new CorruptionError(path, 0, 'not a commit-log segment (bad magic)');
  const version = view.getUint16(4, true);
  if (version !== FORMAT_VERSION || view.getUint16(6, true) !== 0) {
    throw new CorruptionError(path, 0, `unknown segment format version ${version}`);
  }
  const headerId = view.getBigUint64(8, true);
  if (headerId !== BigInt(id)) throw new CorruptionError(path, 0, `segment header names segment ${headerId}, not ${id}`);
}

/** Positional reads served from one COMMITLOG_REPLAY_READ_BYTES window, so replay is not a syscall per record. */
class ChunkedReader {
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;

  constructor(private readonly handle: FileHandle) {}

  /** Bytes [offset, offset + length), fewer at end of file; valid until the caller drops them. */
  read(offset: number, length: number): Uint8Array {
    const end = offset + length;
    if (offset >= this.windowStart && end <= this.windowStart + this.window.length) {
      return this.window.subarray(offset - this.windowStart, end - this.windowStart);
    }
    if (length > COMMITLOG_REPLAY_READ_BYTES) return this.handle.readSync(offset, length);
    this.window = this.handle.readSync(offset, COMMITLOG_REPLAY_READ_BYTES);
    this.windowStart = offset;
    return this.window.subarray(0, Math.min(length, this.window.length));
  }
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
