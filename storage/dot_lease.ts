/**
 * A node's minting identity and its dot-counter lease: the epoch its
 * coordinator mints versions under (`actorId(node, epoch)` in
 * `src/core/dotted_version_vector.ts`) and the highest counter it may hand
 * out before it must record more, kept in `<dir>/DOT_LEASE`.
 *
 * Why: a version's dot (actor, counter) must name one value forever. Minting
 * the counter from what the node currently holds for the key (as ringkv did)
 * repeats a dot whenever the node forgets what it held: a purged tombstone,
 * the unsynced commit-log tail lost in a crash, a write not yet on disk, a
 * mint whose ask timed out while the store was slow. Replicas then take two
 * different values for one version and drop one: an acknowledged write lost.
 *
 * What we took from Riak 2.1 (`riak_kv_vnode_status_mgr`, "Version Vectors -
 * When History Repeats", "Per-Key Actor Epochs In Riak"): counters come from
 * a node-wide counter that never goes backward because blocks of it are
 * leased durably *before* any of them is used, and a restart resumes after
 * the recorded block (the rest of the old block is skipped, never reused).
 * Where we differ: Riak keeps per-key counters contiguous and starts a new
 * per-key actor epoch when a vnode finds its own actor in a clock of a key
 * it does not hold. We use the leased counter itself as every new dot's
 * floor (the key's clock still decides causality; the lease only makes the
 * dot unique), and we start a whole-node epoch (a new random actor id) when
 * the record cannot be trusted: missing, corrupt, or left open by a run
 * under periodic sync, whose crash may have dropped writes the node had
 * already used as the base of later ones; and when the store says it lost
 * records it may have synced (a corrupt commit-log tail cut off at open:
 * `untrusted`). Otherwise batch sync loses nothing it acknowledged or showed
 * (`StorageEngine.whenDurable`), so a batch-mode crash resumes the epoch.
 *
 * Layout (24 bytes, little-endian), written to a temporary file, fsynced,
 * renamed over, directory fsynced:
 *
 *   +-----------+-----------------+----------+--------+------------------+
 *   | f64 epoch | f64 leased_until| u8 flags | 3 x 00 | u32 xxh32 of 0..20|
 *   +-----------+-----------------+----------+--------+------------------+
 *   flags bit 0: open (a run holds the lease; cleared by a clean close)
 *   flags bit 1: that run used periodic sync
 *
 * Thread contract: one lease per data directory, owned by the replica actor
 * of the node; calls from one thread only.
 */
import { assert } from '../src/core/assert.js';
import { checksum } from '../src/core/hash.js';
import { DOT_LEASE_BLOCK, DOT_LEASE_LOW_WATER } from '../src/core/limits.js';
import { joinPath, type FileSystem } from './fs.js';

/** File name of the lease record in a data directory. */
export const DOT_LEASE_FILE = 'DOT_LEASE';

/** Epochs are drawn from [0, 2^48): unique across a node's lives with overwhelming probability. */
const EPOCH_RANGE = 2 ** 48;

const RECORD_BYTES = 24;
const FLAG_OPEN = 1;
const FLAG_PERIODIC = 2;

/** Why the lease has the epoch it has, for the log line at open. */
export type LeaseRecovery =
  | 'new' // no record: a fresh directory (or one whose record was lost): new epoch
  | 'resumed' // a clean or batch-sync record: same epoch, counters after the recorded block
  | 'corrupt' // the record failed its checksum: new epoch
  | 'unclean-periodic' // the last run used periodic sync and did not close: new epoch
  | 'corrupt-log-tail'; // the commit log cut off a corrupt tail (`DotLeaseOptions.untrusted`): new epoch

/** How the lease is opened. */
export interface DotLeaseOptions {
  fs: FileSystem;
  dir: string;
  /** A draw in [0, 1) for a new epoch (the actor context's random). */
  random: () => number;
  /** The sync mode of this run: recorded, so a crash of a periodic run starts a new epoch. */
  periodic: boolean;
  /**
   * The node's store lost records it may have synced (the commit log cut off
   * a corrupt tail, `RecoveryReport.corruptTail`): acknowledged writes this
   * node may have used as the base of later dots are gone, so what it knows
   * of its own dots per key went backward. Start a new epoch whatever the
   * record says.
   */
  untrusted?: boolean;
  /** Test-only planted bug 'dot-reuse': resume the old epoch even after an unclean periodic run. */
  trustUnclean?: boolean;
}

/** The leased dot counter of one data directory. */
export class DotLease {
  /** The next counter to hand out. */
  private next: number;
  /** Counters up to this one are durably reserved. */
  private leasedUntil: number;
  /** A record write in progress (reserving more, or closing). */
  private writing: Promise<void> | null = null;
  private closed = false;

  private constructor(
    private readonly options: DotLeaseOptions,
    /** The epoch this run mints under. */
    readonly epoch: number,
    /** Why this epoch (for the log). */
    readonly recovery: LeaseRecovery,
    resumeAfter: number,
  ) {
    this.next = resumeAfter + 1;
    this.leasedUntil = resumeAfter;
  }

  /** Read (or make) the record, decide the epoch, and durably reserve the first block before returning. */
  static async open(options: DotLeaseOptions): Promise<DotLease> {
    const { fs, dir } = options;
    const path = joinPath(dir, DOT_LEASE_FILE);
    const found = (await fs.exists(path)) ? decodeRecord(await fs.readFile(path)) : null;
    let lease: DotLease;
    if (found === null) {
      lease = new DotLease(options, newEpoch(options.random), 'new', 0);
    } else if (options.untrusted === true) {
      lease = new DotLease(options, newEpoch(options.random), 'corrupt-log-tail', 0);
    } else if (found === 'corrupt') {
      lease = new DotLease(options, newEpoch(options.random), 'corrupt', 0);
    } else if (found.open && found.periodic && options.trustUnclean !== true) {
      lease = new DotLease(options, newEpoch(options.random), 'unclean-periodic', 0);
    } else {
      lease = new DotLease(options, found.epoch, 'resumed', found.leasedUntil);
    }
    await fs.mkdirp(dir);
    await lease.reserve(lease.next + DOT_LEASE_BLOCK - 1, true);
    return lease;
  }

  /**
   * A counter for a new dot: at least `floor` (what the key's clock requires)
   * and above every counter handed out before, in this run or any earlier run
   * of this epoch. Synchronous while the lease covers it; otherwise it waits
   * for the record reserving it to be on disk.
   */
  take(floor: number): number | Promise<number> {
    assert(!this.closed, 'take on an open lease');
    assert(Number.isSafeInteger(floor) && floor >= 0, 'a counter floor is a non-negative integer');
    const counter = Math.max(floor, this.next);
    if (counter > this.leasedUntil) {
      return this.reserve(counter + DOT_LEASE_BLOCK, true).then(() => this.take(floor));
    }
    this.next = counter + 1;
    if (this.leasedUntil - counter < DOT_LEASE_LOW_WATER && this.writing === null) {
      // Reserve the next block before this one runs out, so writes rarely wait for it.
      void this.reserve(this.leasedUntil + DOT_LEASE_BLOCK, true).catch(() => undefined);
    }
    return counter;
  }

  /** Whether `take(floor)` would answer at once (the lease covers the counter), without taking it. */
  coversNow(floor: number): boolean {
    return !this.closed && Math.max(floor, this.next) <= this.leasedUntil;
  }

  /** Record a clean close: the next open resumes this epoch whatever the sync mode. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.writing !== null) await this.writing.catch(() => undefined);
    this.closed = true;
    await this.writeRecord(this.leasedUntil, false);
  }

  /** Make `until` durably reserved (one record write at a time; later callers wait and re-check). */
  private async reserve(until: number, open: boolean): Promise<void> {
    while (this.leasedUntil < until) {
      if (this.writing !== null) {
        await this.writing;
        continue;
      }
      const writing = this.writeRecord(until, open).then(() => {
        this.leasedUntil = Math.max(this.leasedUntil, until);
      });
      this.writing = writing.finally(() => (this.writing = null));
      await this.writing;
    }
  }

  private async writeRecord(leasedUntil: number, open: boolean): Promise<void> {
    const { fs, dir, periodic } = this.options;
    assert(Number.isSafeInteger(leasedUntil), 'a leased counter stays an exact integer');
    const record = new Uint8Array(RECORD_BYTES);
    const view = new DataView(record.buffer);
    view.setFloat64(0, this.epoch, true);
    view.setFloat64(8, leasedUntil, true);
    record[16] = (open ? FLAG_OPEN : 0) | (periodic ? FLAG_PERIODIC : 0);
    view.setUint32(20, checksum(record.subarray(0, 20)), true);
    const path = joinPath(dir, DOT_LEASE_FILE);
    const tmp = `${path}.tmp`;
    const handle = await fs.open(tmp, 'create');
    try {
      await handle.append(record);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
    await fs.syncDir(dir);
  }
}

function newEpoch(random: () => number): number {
  return Math.floor(random() * EPOCH_RANGE);
}

/** The record's fields, or 'corrupt' when its size, checksum or fields are wrong. */
function decodeRecord(bytes: Uint8Array): { epoch: number; leasedUntil: number; open: boolean; periodic: boolean } | 'corrupt' {
  if (bytes.length !== RECORD_BYTES) return 'corrupt';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(20, true) !== checksum(bytes.subarray(0, 20))) return 'corrupt';
  const epoch = view.getFloat64(0, true);
  const leasedUntil = view.getFloat64(8, true);
  const flags = bytes[16]!;
  if (!Number.isSafeInteger(epoch) || epoch < 0 || !Number.isSafeInteger(leasedUntil) || leasedUntil < 0) return 'corrupt';
  if ((flags & ~(FLAG_OPEN | FLAG_PERIODIC)) !== 0 || bytes[17] !== 0 || bytes[18] !== 0 || bytes[19] !== 0) return 'corrupt';
  return { epoch, leasedUntil, open: (flags & FLAG_OPEN) !== 0, periodic: (flags & FLAG_PERIODIC) !== 0 };
}
