/**
 * The commit log of a node's storage engine (Cassandra style): every mutation
 * is appended here before it enters the memtable, so a crash loses no
 * acknowledged write. Payloads are opaque bytes; the engine encodes mutations.
 * The byte layout of segments and records, and how recovery tells a torn
 * tail from corruption, are in `commit_log_format.ts`.
 *
 * Recovery (`CommitLog.open`) replays segments in id order:
 * - end of the last segment inside a segment header or record (incomplete) ->
 *   torn tail: truncate to the last good record, fsync, continue; a last
 *   segment without a complete header (a crash while rolling) is removed;
 * - in the last segment, a record that is all there but fails its length
 *   checksum, its length bound (COMMITLOG_RECORD_MAX_BYTES) or its payload
 *   checksum -> corrupt tail: replay stops there, the segment is truncated at
 *   that record and fsynced as for a torn tail, and `recovery.corruptTail`
 *   says where and how much was dropped (point-in-time recovery);
 * - anything wrong in a segment that is not the last (incomplete, bad
 *   checksum, bad magic/version/id), or a bad header with records after it
 *   -> `CorruptionError` naming the file and the byte offset of the bad
 *   record. Nothing is ever skipped: replay is always a prefix of the log.
 * Why the last segment is special: a closed segment was fully fsynced before
 * the next one was created, so its bytes are what was written. The last one
 * ends in bytes written after its last fsync, and a crash may keep any prefix
 * of them with garbage in it (torn sectors), which no checksum can tell from
 * a synced record that rotted. Refusing to open would silence the replica for
 * good; stopping at the damage loses only what other replicas still hold.
 * The byte-level rules are in `commit_log_format.ts`.
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
import { recoverSegment } from './commit_log_recovery.js';
import { joinPath, type FileHandle, type FileSystem } from './fs.js';
import { assert } from '../src/core/assert.js';
import { InvalidRequestError, OverloadedError } from '../src/core/errors.js';
import {
  COMMITLOG_GROUP_MAX_RECORDS,
  COMMITLOG_PENDING_MAX_RECORDS,
  COMMITLOG_PERIODIC_SYNC_MS,
  COMMITLOG_RECORD_MAX_BYTES,
  COMMITLOG_SEGMENT_BYTES,
} from '../src/core/limits.js';
import {
  encodeSegmentHeader,
  frameRecord,
  parseSegmentFileName,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
} from './commit_log_format.js';

export { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, parseSegmentFileName, segmentFileName } from './commit_log_format.js';

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
  /** The torn tail dropped from the last segment (its data ended inside a header or record), if any. */
  tornTail: DroppedTail | null;
  /**
   * The corrupt tail dropped from the last segment (a record there, all
   * present, failed a check), if any. Records from `offset` on are gone from
   * this node, and some may have been acknowledged: the owner must say so
   * loudly and stop trusting what it knew of them (the dot lease's epoch).
   */
  corruptTail: DroppedTail | null;
}

/** Bytes recovery cut off the end of the last segment. */
export interface DroppedTail {
  path: string;
  /** Byte offset in the segment file where replay stopped (0: the whole file was dropped). */
  offset: number;
  droppedBytes: number;
}

/** An append waiting for its group commit. */
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
   * through `onRecord`, cut off a torn or corrupt tail of the last segment
   * (reported in `recovery`), start a fresh segment. Throws `CorruptionError`
   * if anything before the last segment is corrupt; `onRecord` may by then have
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
    const recovery: RecoveryReport = { segments: 0, records: 0, tornTail: null, corruptTail: null };
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
    this.checkAppendable(payload.length);
    const framed = frameRecord(payload);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ framed, resolve, reject });
      if (this.leader === null) this.leader = this.lead();
    });
  }

  /** The I/O error that failed the log (it accepts nothing more: reopen it), or null. */
  get failedWith(): unknown {
    return this.failure;
  }

  /**
   * Throw what `append` would throw for a record of `payloadBytes` right now
   * (log closed or failed, queue full, record too large), so a caller can
   * refuse a write before applying it anywhere else.
   */
  checkAppendable(payloadBytes: number): void {
    assert(!this.closing, 'append on a closed commit log');
    if (payloadBytes > COMMITLOG_RECORD_MAX_BYTES) {
      throw new InvalidRequestError(
        `commit-log record of ${payloadBytes} bytes exceeds COMMITLOG_RECORD_MAX_BYTES (${COMMITLOG_RECORD_MAX_BYTES}); split the mutation`,
      );
    }
    if (this.failure !== null) throw this.failure;
    if (this.queue.length >= COMMITLOG_PENDING_MAX_RECORDS) {
      throw new OverloadedError(`commit-log queue (${COMMITLOG_PENDING_MAX_RECORDS} records)`);
    }
  }

  /**
   * Close the active segment and start a new one; returns the new segment's
   * id, the first that is not closed. Every append issued before this call
   * lands in an earlier segment, and every append issued after it in that
   * segment or a later one: once the memtable that was current before the
   * call is flushed, `deleteSegmentsBefore(id)` is safe, and replay from `id`
   * never brings that memtable's versions back.
   */
  async rollSegment(): Promise<number> {
    assert(!this.closing, 'roll on a closed commit log');
    return this.afterQueued(() => this.rollLocked());
  }

  /**
   * Sync now: resolves once every append issued before this call is on disk
   * (written, then fsynced), whatever the sync mode. Periodic mode uses it
   * when an acknowledgement must mean durable for one purpose (a replica
   * vouching that it holds a tombstone, issue 12) without waiting for the
   * timer; under batch sync, with nothing queued or unsynced, it resolves as
   * soon as the file operations before it finished. Rejects with the error
   * that failed the log.
   */
  async sync(): Promise<void> {
    assert(!this.closing, 'sync on a closed commit log');
    return this.afterQueued(() => this.syncLocked());
  }

  /**
   * Write every append issued before this call, then run `fn` in the same
   * I/O turn; a failure of `fn` fails the log. Appends left in the queue
   * could land after `fn` (in a new segment after a roll, or after a sync
   * meant to cover them), and replay would then bring a flushed memtable's
   * versions back after compaction dropped them (a purged tombstone's old
   * value, resurrected), or a sync would vouch for less than asked.
   */
  private afterQueued<T>(fn: () => Promise<T>): Promise<T> {
    const before = this.queue.splice(0);
    return this.exclusive(async () => {
      for (let i = 0; i < before.length; i += COMMITLOG_GROUP_MAX_RECORDS) {
        await this.writeGroup(before.slice(i, i + COMMITLOG_GROUP_MAX_RECORDS));
      }
      if (this.failure !== null) throw this.failure;
      try {
        return await fn();
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
      // On the node's own thread when the file system can (one write per group, no thread-pool round trip).
      if (target.handle.appendSync !== undefined) target.handle.appendSync(bytes);
      else await target.handle.append(bytes);
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
