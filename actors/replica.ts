/**
 * The replica actor: owns one node's storage engine and serves it by
 * message. It stores and returns versions exactly as given (the coordinator
 * versions writes; the replica only reconciles what it holds), and it is the
 * only actor that touches the engine's manifest, so the compaction actor
 * swaps its results in through here.
 *
 * The engine opens asynchronously in `started`; messages that arrive before
 * it is ready wait on the same promise and run in arrival order. A replica
 * that is replaced after a failure closes its engine first (`stopped`), and
 * its successor waits for that close before reopening the directory.
 *
 * Storage that cannot open, or that fails for good (a commit-log, flush or
 * manifest write), puts the replica in a failed state
 * (`storage_lifecycle.ts`): it logs the cause and what to do, tells the
 * node's failure detector (so every coordinator treats the node as down),
 * answers every request with `storageFailedError` at once, reports the
 * failure in `stats`, and tries to reopen the storage now and then.
 *
 * Thread contract: one replica per data directory per thread.
 */
import { assertNever } from '../src/core/assert.js';
import { decodeDvv, digestText, dottedVersionVectorOrder } from '../src/core/dotted_version_vector.js';
import { formatVersion } from '../src/core/version_id.js';
import { vectorClockOrder } from '../src/core/vector_clock.js';
import type { Actor, ActorContext, ActorRef, Replier } from '../src/runtime/actor.js';
import type { CommitLogTimers, SyncMode } from '../storage/commit_log.js';
import type { CompactionResult, CompactionTask } from '../storage/compaction_task.js';
import { StorageEngine, type EngineStats } from '../storage/engine.js';
import type { FileSystem } from '../storage/fs.js';
import { keysEqual } from '../storage/key_order.js';
import { LiveKeyCounter } from '../storage/live_keys.js';
import { FencedFileSystem } from '../storage/fenced_fs.js';
import { RealFileSystem } from '../storage/real_fs.js';
import type { Version } from '../storage/version.js';
import { LIVE_KEYS_WAIT_MS, SCAN_PAGE_MAX_ENTRIES } from '../src/core/limits.js';
import { plantedDropOfMergedVersion } from '../src/core/planted_bugs.js';
import { DETECTOR_ACTOR_ID } from './member_refs.js';
import { StorageLifecycle, type FailedStorage } from './storage_lifecycle.js';
import { durableView, Minter, type MintRequest } from './replica_mint.js';
import { TableHealth, type TableHealthReport } from './table_health.js';
import { getMany, mergeMany, rangeDigestsPage, readNow, scanPage, type TreeScanPage } from './replica_batch.js';
import type { RingRange } from '../src/core/ring_change.js';
import { TreeFeed } from './tree_feed.js';

/** Messages a replica understands. */
export type ReplicaMsg =
  | { type: 'put'; key: Uint8Array; version: Version }
  /** Store every version of `versions` (a sibling set from a coordinator, read repair or hint replay); replies true. Idempotent. */
  | { type: 'merge'; key: Uint8Array; versions: Version[] }
  | { type: 'get'; key: Uint8Array }
  /**
   * Ask → boolean, the first step of a tombstone confirmation: true only if
   * this replica holds the tombstone `clock` of `key` as a current version
   * and its commit log is synced past it (it survives a crash). See
   * `holdsDurably`.
   */
  | { type: 'hold-tombstone'; key: Uint8Array; clock: Uint8Array }
  /**
   * Every owner of `key` is known to hold the tombstone `clock` durably (each
   * answered `hold-tombstone` true): mark it purgeable if this replica holds
   * it as a current version; replies true. Idempotent. See
   * `confirmTombstone`.
   */
  | { type: 'confirm-tombstone'; key: Uint8Array; clock: Uint8Array }
  /**
   * Ask → `MintReply`: version a client write on this node (it must own the
   * key) and store it. See `mint` below.
   */
  | MintRequest
  /**
   * Ask → `Outcome<MintReply>[]`, in order: the mints of a coordinator's
   * put-batch, in one message (`mintMany` in replica_mint.ts). Each is
   * minted as a lone `mint` would be; the answer comes once each is stored.
   */
  | { type: 'mint-batch'; requests: MintRequest[] }
  /**
   * Ask → `Outcome<true>[]`, in order: the `merge` of each entry, in one
   * message (a coordinator's put-batch, one per owner). An entry fails
   * alone; the answer comes once each is stored.
   */
  | { type: 'merge-batch'; entries: MergeEntry[] }
  /**
   * Ask → `Outcome<Version[]>[]`, in order: the `get` of each key, in
   * one message (a coordinator's get-batch). A key answered from a damaged
   * table fails alone, as a lone `get` would.
   */
  | { type: 'get-batch'; keys: Uint8Array[] }
  | { type: 'scan'; from?: Uint8Array; to?: Uint8Array; limit?: number }
  /**
   * Ask → `RangeDigestsPage`: the keys from `from` to `to` (exclusive) in
   * ring `ranges`, with their digests, a bounded page (a transfer's listing,
   * issue 16).
   */
  | { type: 'range-digests'; ranges: RingRange[]; from?: Uint8Array; to?: Uint8Array }
  /**
   * Ask → `ScanPage`: a page of the anti-entropy actor's rebuild of its hash
   * trees, from `from` (absent: the first page, which starts rebuild
   * `epoch`). From the first page on, the replica tells the anti-entropy
   * actor of each write (`ae-changes`, tagged `epoch`) only for keys the
   * rebuild has already read, so every write is counted once: by a page or
   * by a change (`TreeFeed`). Answers `TreeScanPage`.
   */
  | { type: 'tree-scan'; epoch: number; from?: Uint8Array }
  | { type: 'flush' }
  | { type: 'stats' }
  /** Ask → the number of writes being minted here now (at once: it reads no storage). */
  | { type: 'mints-in-flight' }
  | { type: 'compaction-candidates' }
  | { type: 'compaction-begin'; fileNumbers: number[] }
  | { type: 'compaction-finish'; task: CompactionTask; result: CompactionResult }
  /** Give up `task`; `corrupt` names an input the merge found corrupt (it is then quarantined, as a read would). */
  | { type: 'compaction-abort'; task: CompactionTask; corrupt?: { path: string; message: string } }
  | { type: 'log-timer'; id: number };

/** One key's sibling set to store, in a `merge-batch`. */
export interface MergeEntry {
  key: Uint8Array;
  versions: Version[];
}

/** How to spawn a replica. */
export interface ReplicaArgs {
  /** Data directory of this node. */
  dir: string;
  syncMode?: SyncMode;
  memtableFlushBytes?: number;
  /**
   * How long a tombstone is kept at least, even once confirmed (default
   * TOMBSTONE_GRACE_MS). At least the hint TTL (`checkTombstoneGrace` in
   * node_plan.ts), so no hint written before a delete outlives its tombstone.
   */
  tombstoneGraceMs?: number;
  /** The compaction actor to tell when a flush adds a table. */
  compaction?: ActorRef;
  /** How clocks compare: dotted version vectors (the cluster's, the default) or plain vector clocks (demo, storage tests). */
  clocks?: 'dvv' | 'vector-clock';
  /** The node's anti-entropy actor, told of every write (`ae-changes`) and of lost data (`ae-damaged`); none: no trees are kept. */
  antiEntropy?: ActorRef;
  /** Simulator and tests only: a simulated disk (not cloneable across threads). */
  fs?: FileSystem;
}

export type { MintReply, MintRequest } from './replica_mint.js';

/** Answer to the `stats` ask (while the storage is failed, only `storage` and the replica's own counters). */
export interface ReplicaStats extends EngineStats {
  tables: number;
  memtableBytes: number;
  /**
   * Live keys this replica holds (not deleted; each once), from a background
   * scan (`storage/live_keys.ts`); absent when the first count is still running.
   */
  keysEstimate?: number;
  tombstones_confirmed: number;
  dot_conflicts: number;
  /** 'ok', or 'failed' with the cause, what to do and since when (storage_lifecycle.ts); damaged tables either way. */
  storage: ({ state: 'ok' } | ({ state: 'failed' } & FailedStorage)) & TableHealthReport;
}

export type { RangeDigestsPage, ScanPage, TreeScanPage } from './replica_batch.js';

/** Closes still in progress per directory, so a successor never opens a directory being closed. */
const closingDirs = new Map<string, Promise<void>>();

class Replica implements Actor<ReplicaMsg> {
  /** The engine, its failed state and reopen timer (set in `started`). */
  private storage: StorageLifecycle | undefined;
  /** Commit-log timer callbacks, run when their `log-timer` message arrives. */
  private readonly timerCallbacks = new Map<number, () => void>();
  private nextTimerId = 1;
  /** The dot lease and per-key mint chains (`replica_mint.ts`). */
  private readonly minter: Minter;
  /** The actor's context (set in `started`): its clock, randomness and log for minting. */
  private ctx: ActorContext<ReplicaMsg> | undefined;
  private fileSystem: FileSystem | undefined;
  /** Tombstones this instance marked purgeable (`confirm-tombstone`), for the `stats` ask. */
  private tombstonesConfirmed = 0;
  /** Dot conflicts its engine reported (one dot, two values; each detection counts), for the `stats` ask. */
  private dotConflicts = 0;
  /** Mints in progress (`mints-in-flight`). */
  private mintsInFlight = 0;
  /** Live keys for DBSIZE: a background scan, cached (`storage/live_keys.ts`). Set in `started`. */
  private liveKeys!: LiveKeyCounter;
  /** The actor timers of this instance (commit-log sync, storage reopen, live-key scan steps). Set in `started`. */
  private timers: CommitLogTimers | undefined;
  /** Checksum failures and quarantined tables its engine reported, for the log and the `stats` ask. */
  private readonly health = new TableHealth(() => this.args.dir);
  /** What the anti-entropy actor is told of each write (set in `started` when there is one). */
  private treeFeed: TreeFeed | undefined;

  constructor(private readonly args: ReplicaArgs) {
    this.minter = new Minter(args, () => this.fs());
  }

  started(ctx: ActorContext<ReplicaMsg>): void {
    const { args } = this;
    this.ctx = ctx;
    const ae = args.antiEntropy;
    const feed = ae === undefined ? undefined : new TreeFeed((msg) => void ctx.send(ae, msg));
    this.treeFeed = feed;
    const timers: CommitLogTimers = {
      schedule: (delay_ms, fn) => {
        const id = this.nextTimerId++;
        this.timerCallbacks.set(id, fn);
        const handle = ctx.schedule(delay_ms, { type: 'log-timer', id });
        return {
          cancel: () => {
            handle.cancel();
            this.timerCallbacks.delete(id);
          },
        };
      },
    };
    this.timers = timers;
    this.liveKeys = new LiveKeyCounter(() => new Promise<void>((resolve) => timers.schedule(0, resolve)), () => ctx.now());
    const previousClose = closingDirs.get(args.dir) ?? Promise.resolve();
    const open = (): Promise<StorageEngine> =>
      StorageEngine.open({
        fs: this.fs(),
        dir: args.dir,
        order: args.clocks === 'vector-clock' ? vectorClockOrder : dottedVersionVectorOrder,
        now: () => ctx.now(),
        timers,
        ...(args.syncMode ? { syncMode: args.syncMode } : {}),
        ...(args.memtableFlushBytes ? { memtableFlushBytes: args.memtableFlushBytes } : {}),
        ...(args.tombstoneGraceMs !== undefined ? { tombstoneGrace_ms: args.tombstoneGraceMs } : {}),
        onTablesChanged: () => {
          if (args.compaction) ctx.send(args.compaction, { type: 'tables-changed' });
        },
        onError: (what, err) => {
          ctx.log.error(`storage ${what} failed`, { error: String(err) });
          // A failure in the background (a flush) may have failed the store for good: enter the failed state now.
          void this.storage?.engine.then((engine) => this.storage?.check(engine), () => undefined);
        },
        onDataLoss: (message, fields) => {
          ctx.log.error(message, { dir: args.dir, ...fields });
          feed?.damaged();
        },
        onDotConflict: (key, a, b) => this.dotConflict(key, a, b, ctx),
        onChecksumFailure: (path, err) => this.health.checksumFailure(path, err, ctx),
        onQuarantined: (table) => {
          this.health.quarantined(table, ctx);
          feed?.damaged();
        },
        ...(feed !== undefined ? { onChanged: (key, before, after) => feed.changed(key, before, after) } : {}),
      }).then((engine) => {
        // A corrupt commit-log tail was cut off: take the new dot epoch now, not at the first mint, so a restart in
        // between cannot resume the old one. A failed open is retried by the next mint (openLease forgets it).
        if (engine.recovery.corruptTail !== null) this.minter.openLease(engine, ctx).catch(() => undefined);
        return engine;
      });
    this.storage = new StorageLifecycle(
      args.dir,
      {
        open,
        schedule: (delay_ms, fn) => void timers.schedule(delay_ms, fn),
        now: () => ctx.now(),
        log: ctx.log,
        // The node's failure detector lives on this thread; none in storage-only tests (the send is then dropped).
        report: (failed, cause) => void ctx.send({ thread: ctx.self.thread, id: DETECTOR_ACTOR_ID }, { type: 'storage-report', failed, cause }),
      },
      previousClose,
    );
  }

  receive(msg: ReplicaMsg, ctx: ActorContext<ReplicaMsg>): Promise<void> | void {
    if (msg.type === 'log-timer') {
      // Before the engine: the reopen timer of a failed storage runs here too.
      const fn = this.timerCallbacks.get(msg.id);
      this.timerCallbacks.delete(msg.id);
      fn?.();
      return;
    }
    const replier = ctx.replier();
    const storage = this.storage!;
    const failed = storage.failed;
    if (failed !== undefined) return this.answerFailed(msg, replier, storage, failed);
    return storage.engine
      .then((engine) =>
        this.handle(engine, msg, replier).catch((err: unknown) => {
          storage.check(engine); // a write that failed the store for good: enter the failed state
          throw err;
        }),
      )
      .catch((err: unknown) => {
        // A request that failed is answered with the error; only a failure with nobody to tell crashes the actor
        // (not one of a failed storage: restarting the actor would not help, the reopen timer will).
        if (replier) replier.fail(err);
        else if (storage.failed === undefined) throw err;
      });
  }

  /** A request while the storage is failed: stats say so, compaction finds nothing to do, the rest get the error. */
  private answerFailed(msg: ReplicaMsg, replier: Replier | undefined, storage: StorageLifecycle, failed: FailedStorage): void {
    switch (msg.type) {
      case 'stats':
        replier?.ok({ storage: { state: 'failed', ...failed, ...this.health.report() }, tombstones_confirmed: this.tombstonesConfirmed, dot_conflicts: this.dotConflicts } satisfies Partial<ReplicaStats>);
        return;
      case 'compaction-candidates':
        replier?.ok([]);
        return;
      default:
        replier?.fail(storage.failedError());
    }
  }

  /** The live-key count, waiting at most `wait_ms` for a recount (then the previous count, or null before the first). */
  private liveKeysWithin(engine: StorageEngine, wait_ms: number): Promise<number | null> {
    const counting = this.liveKeys.count(engine);
    return new Promise<number | null>((resolve) => {
      const timer = this.timers!.schedule(wait_ms, () => resolve(this.liveKeys.previous));
      counting.then(
        (live) => {
          timer.cancel();
          resolve(live);
        },
        () => {
          timer.cancel();
          resolve(this.liveKeys.previous);
        },
      );
    });
  }

  /**
   * The file system of this replica: the simulator's, or one real one per
   * actor instance, fenced so a crash of this node can cut it off
   * (`crashed`) while other nodes on the thread run on.
   */
  private fs(): FileSystem {
    this.fileSystem ??= this.args.fs ?? new FencedFileSystem(new RealFileSystem());
    return this.fileSystem;
  }

  /**
   * A crash of this node on a thread that runs on: cut the engine off its
   * files (nothing more reaches the disk; what is in flight lands) and close
   * them, so the restarted replica opens its directory alone. Nothing is
   * flushed or synced, as in a crash.
   */
  async crashed(): Promise<void> {
    if (this.fileSystem instanceof FencedFileSystem) await this.fileSystem.fence();
  }

  stopped(): void {
    const storage = this.storage;
    if (!storage) return;
    const lease = this.minter.openedLease;
    // The lease is marked closed only after the engine closed (its log synced): a clean close loses nothing.
    const closed = storage
      .close()
      .then(() => lease?.then((l) => l.close()))
      .catch(() => undefined);
    closingDirs.set(this.args.dir, closed);
    void closed.then(() => {
      if (closingDirs.get(this.args.dir) === closed) closingDirs.delete(this.args.dir);
    });
  }

  private async handle(engine: StorageEngine, msg: ReplicaMsg, replier: Replier | undefined): Promise<void> {
    switch (msg.type) {
      case 'put':
        await engine.put(msg.key, msg.version);
        replier?.ok(true);
        return;
      case 'merge':
        // Test-only planted bug (src/core/planted_bugs.ts, off unless a test plants it): ack but drop some versions.
        for (const version of msg.versions) if (!plantedDropOfMergedVersion(version)) await engine.put(msg.key, version);
        replier?.ok(true);
        return;
      case 'merge-batch':
        replier?.ok(await mergeMany(engine, msg.entries));
        return;
      case 'get-batch':
        replier?.ok(await getMany(engine, msg.keys, this.args.dir));
        return;
      case 'mint-batch':
        this.mintsInFlight += msg.requests.length;
        try {
          replier?.ok(await this.minter.mintMany(engine, msg.requests, this.ctx!));
        } finally {
          this.mintsInFlight -= msg.requests.length;
        }
        return;
      case 'get':
        // Most gets find nothing pending and answer without another await.
        if (engine.whenDurable(msg.key) !== null) await durableView(engine, msg.key, this.args.dir);
        replier?.ok(readNow(engine, msg.key));
        return;
      case 'hold-tombstone':
        replier?.ok(await this.holdsDurably(engine, msg.key, msg.clock));
        return;
      case 'confirm-tombstone':
        await this.confirmTombstone(engine, msg.key, msg.clock);
        replier?.ok(true);
        return;
      case 'mint':
        this.mintsInFlight++;
        try {
          replier?.ok(await this.minter.mint(engine, msg, this.ctx!));
        } finally {
          this.mintsInFlight--;
        }
        return;
      case 'scan':
        replier?.ok(scanPage(engine, msg.from, msg.to, Math.min(msg.limit ?? SCAN_PAGE_MAX_ENTRIES, SCAN_PAGE_MAX_ENTRIES)));
        return;
      case 'range-digests':
        replier?.ok(rangeDigestsPage(engine, msg.ranges, msg.from, msg.to));
        return;
      case 'tree-scan': {
        const page = scanPage(engine, msg.from, undefined, SCAN_PAGE_MAX_ENTRIES);
        const followed = this.treeFeed?.scanned(msg.epoch, msg.from === undefined, page) ?? false;
        replier?.ok({ ...page, followed } satisfies TreeScanPage);
        return;
      }
      case 'mints-in-flight':
        replier?.ok(this.mintsInFlight);
        return;
      case 'flush':
        await engine.flush();
        replier?.ok(true);
        return;
      case 'stats': {
        const liveKeys = await this.liveKeysWithin(engine, LIVE_KEYS_WAIT_MS);
        const stats: ReplicaStats = {
          ...engine.stats,
          tables: engine.tableCount,
          memtableBytes: engine.memtableBytes,
          ...(liveKeys !== null ? { keysEstimate: liveKeys } : {}),
          tombstones_confirmed: this.tombstonesConfirmed,
          dot_conflicts: this.dotConflicts,
          storage: { state: 'ok', ...this.health.report() },
        };
        replier?.ok(stats);
        return;
      }
      case 'compaction-candidates':
        replier?.ok(engine.compactionCandidates());
        return;
      case 'compaction-begin': {
        const task = engine.beginCompaction(msg.fileNumbers);
        // The merge must compare clocks as this replica does; the task names them, as it may cross to a pool thread.
        replier?.ok(task === undefined ? null : { ...task, clocks: this.args.clocks ?? 'dvv' });
        return;
      }
      case 'compaction-finish':
        await engine.finishCompaction(msg.task, msg.result);
        replier?.ok(true);
        return;
      case 'compaction-abort':
        await engine.abortCompaction(msg.task);
        if (msg.corrupt !== undefined && msg.task.inputs.includes(msg.corrupt.path)) engine.reportDamage(msg.corrupt.path, msg.corrupt.message);
        replier?.ok(true);
        return;
      case 'log-timer':
        return; // handled in receive, before the engine is awaited
      default:
        assertNever(msg);
    }
  }

  /**
   * Whether this replica holds the tombstone `clock` of `key` (same clock
   * bytes) as a current version, durably: under periodic sync an
   * acknowledged write may still sit in the commit log's unsynced tail, and a
   * crash would take it back after the other owners purged their copies (the
   * old value then returns by read repair). So the log is synced before
   * answering; a tombstone held before the sync is on disk after it.
   */
  private async holdsDurably(engine: StorageEngine, key: Uint8Array, clock: Uint8Array): Promise<boolean> {
    await durableView(engine, key, this.args.dir);
    const held = engine.get(key).some((v) => v.value === null && keysEqual(v.clock, clock));
    if (!held) return false;
    await engine.syncLog();
    return true;
  }

  /**
   * Mark the tombstone `clock` of `key` purgeable (issue 12, after Riak's
   * delete mode): only when this replica holds exactly that tombstone (same
   * clock bytes) as a current version, once it is durable. It is stored
   * again with the flag (a new commit-log record; reconcile keeps the
   * purgeable copy of a version), so the confirmation survives a restart and
   * reaches the SSTables. A tombstone already purgeable, superseded, or not
   * held is left alone: the confirmation is idempotent, and it never marks a
   * version the coordinator did not see on every owner.
   */
  private async confirmTombstone(engine: StorageEngine, key: Uint8Array, clock: Uint8Array): Promise<void> {
    await durableView(engine, key, this.args.dir);
    const held = engine.get(key).find((v) => v.value === null && keysEqual(v.clock, clock));
    if (held === undefined || held.purgeable === true) return;
    await engine.put(key, { ...held, purgeable: true });
    this.tombstonesConfirmed++;
  }

  /**
   * The engine met one dot naming two values (issue 12): a broken invariant,
   * never resolved silently. Both versions stay as siblings; count it for
   * `stats` (/metrics ringkv_dot_conflicts_total) and log it at error level.
   */
  private dotConflict(key: Uint8Array, a: Version, b: Version, ctx: ActorContext<ReplicaMsg>): void {
    this.dotConflicts++;
    const dotA = decodeDvv(a.clock).dot;
    const dotB = decodeDvv(b.clock).dot;
    ctx.log.error('dot conflict: one dot names two values; both kept as siblings', {
      key: Buffer.from(key).toString('hex'),
      dot: formatVersion(dotA),
      digest_a: digestText(dotA.digest),
      digest_b: digestText(dotB.digest),
    });
  }
}

/** Build a replica (exported for the simulator and tests). */
export function replica(args: ReplicaArgs): Actor<ReplicaMsg> {
  return new Replica(args);
}

export const actorKinds = {
  replica: (args: unknown) => replica(args as ReplicaArgs),
};
