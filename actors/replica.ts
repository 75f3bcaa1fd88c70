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
 * Thread contract: one replica per data directory per thread.
 */
import { assertNever } from '../src/core/assert.js';
import { actorId, decodeDvv, digestText, dottedVersionVectorOrder } from '../src/core/dotted_version_vector.js';
import { OverloadedError } from '../src/core/errors.js';
import { contextOf, mintWrite, requiredCounter, type Minted } from '../src/core/sibling_set.js';
import { contextFromString, contextToString, formatVersion } from '../src/core/version_id.js';
import { vectorClockOrder } from '../src/core/vector_clock.js';
import type { Actor, ActorContext, ActorRef, Replier } from '../src/runtime/actor.js';
import type { CommitLogTimers, SyncMode } from '../storage/commit_log.js';
import type { CompactionResult, CompactionTask } from '../storage/compaction_task.js';
import { StorageEngine } from '../storage/engine.js';
import type { FileSystem } from '../storage/fs.js';
import { keysEqual } from '../storage/key_order.js';
import { DotLease } from '../storage/dot_lease.js';
import { KeyTails } from '../storage/key_tails.js';
import { RealFileSystem } from '../storage/real_fs.js';
import type { StoredVersion } from '../storage/version.js';
import { READ_DURABLE_WAITS_MAX, SCAN_PAGE_MAX_ENTRIES } from '../src/core/limits.js';
import { isPlanted, plantedDropOfMergedVersion } from '../src/core/planted_bugs.js';

/** Messages a replica understands. */
export type ReplicaMsg =
  | { type: 'put'; key: Uint8Array; version: StoredVersion }
  /** Store every version of `versions` (a sibling set from a coordinator, read repair or hint replay); replies true. Idempotent. */
  | { type: 'merge'; key: Uint8Array; versions: StoredVersion[] }
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
  | { type: 'scan'; from?: Uint8Array; to?: Uint8Array; limit?: number }
  | { type: 'flush' }
  | { type: 'stats' }
  | { type: 'compaction-candidates' }
  | { type: 'compaction-begin'; fileNumbers: number[] }
  | { type: 'compaction-finish'; task: CompactionTask; result: CompactionResult }
  | { type: 'compaction-abort'; task: CompactionTask }
  | { type: 'log-timer'; id: number }
  /** Sent to itself when the engine failed to open: crashing lets supervision retry. */
  | { type: 'open-failed'; error: string };

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
  /** Simulator and tests only: a simulated disk (not cloneable across threads). */
  fs?: FileSystem;
}

/** A client write to version here: the coordinator's part of a put, minus replication. */
export type MintRequest = {
  type: 'mint';
  key: Uint8Array;
  /** The value, or null for a delete. */
  value: Uint8Array | null;
  /** The client's causal context ('' = none); ignored with `overwrite`. */
  context: string;
  /** Supersede every version this replica holds (Redis SET), read under the key's chain. */
  overwrite: boolean;
  /** The member id minting (the node of this replica): the dot's actor is it under the lease's epoch. */
  node: string;
};

/** What a mint stored: the new version, the set it leaves, and the context its past is. */
export interface MintReply extends Minted {
  /** The causal context the new version supersedes (as text): the client's, or for an overwrite what this replica held. */
  superseded: string;
}

/** A page of a range scan. */
export interface ScanPage {
  entries: { key: Uint8Array; versions: StoredVersion[] }[];
  /** Where the next page starts, or null at the end of the range. */
  next: Uint8Array | null;
}

/** Closes still in progress per directory, so a successor never opens a directory being closed. */
const closingDirs = new Map<string, Promise<void>>();

class Replica implements Actor<ReplicaMsg> {
  private ready: Promise<StorageEngine> | undefined;
  /** Commit-log timer callbacks, run when their `log-timer` message arrives. */
  private readonly timerCallbacks = new Map<number, () => void>();
  private nextTimerId = 1;
  /** The data directory's dot lease (epoch and counters), opened at the first mint (or at open after a corrupt log tail). */
  private lease: Promise<DotLease> | undefined;
  /** Per key, the tail of its mints: the next mint of a key starts once the previous one is stored. */
  private readonly mintChains = new KeyTails();
  /** The actor's context (set in `started`): its clock, randomness and log for minting. */
  private ctx: ActorContext<ReplicaMsg> | undefined;
  private fileSystem: FileSystem | undefined;
  /** Tombstones this instance marked purgeable (`confirm-tombstone`), for the `stats` ask. */
  private tombstonesConfirmed = 0;
  /** Dot conflicts its engine reported (one dot, two values; each detection counts), for the `stats` ask. */
  private dotConflicts = 0;

  constructor(private readonly args: ReplicaArgs) {}

  started(ctx: ActorContext<ReplicaMsg>): void {
    const { args } = this;
    this.ctx = ctx;
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
    const previousClose = closingDirs.get(args.dir) ?? Promise.resolve();
    this.ready = previousClose.then(() =>
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
        onError: (what, err) => ctx.log.error(`storage ${what} failed`, { error: String(err) }),
        onDataLoss: (message, fields) => ctx.log.error(message, { dir: args.dir, ...fields }),
        onDotConflict: (key, a, b) => this.dotConflict(key, a, b, ctx),
      }),
    );
    // Handled here, or an open failure with no message waiting would be an unhandled rejection that kills the thread.
    this.ready.catch((err: unknown) => ctx.send(ctx.self, { type: 'open-failed', error: String(err) }));
    // A corrupt commit-log tail was cut off: take the new dot epoch now, not at the first mint, so a restart in
    // between cannot resume the old one. A failed open is retried by the next mint (openLease forgets it).
    this.ready.then(
      (engine) => {
        if (engine.recovery.corruptTail !== null) this.openLease(engine, ctx).catch(() => undefined);
      },
      () => undefined, // reported as 'open-failed' just above
    );
  }

  receive(msg: ReplicaMsg, ctx: ActorContext<ReplicaMsg>): Promise<void> | void {
    if (msg.type === 'open-failed') throw new Error(`storage engine at ${this.args.dir} failed to open: ${msg.error}`);
    const replier = ctx.replier();
    const ready = this.ready!;
    return ready.then((engine) => this.handle(engine, msg, replier)).catch((err: unknown) => {
      // A request that failed is answered with the error; only a failure with nobody to tell crashes the actor.
      if (replier) replier.fail(err);
      else throw err;
    });
  }

  /** The file system of this replica (one RealFileSystem per actor instance). */
  private fs(): FileSystem {
    this.fileSystem ??= this.args.fs ?? new RealFileSystem();
    return this.fileSystem;
  }

  stopped(): void {
    const ready = this.ready;
    if (!ready) return;
    const lease = this.lease;
    // The lease is marked closed only after the engine closed (its log synced): a clean close loses nothing.
    const closed = ready
      .then((engine) => engine.close())
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
      case 'get':
        // Most gets find nothing pending and answer without another await.
        if (engine.whenDurable(msg.key) !== null) await this.durableView(engine, msg.key);
        replier?.ok(engine.get(msg.key));
        return;
      case 'hold-tombstone':
        replier?.ok(await this.holdsDurably(engine, msg.key, msg.clock));
        return;
      case 'confirm-tombstone':
        await this.confirmTombstone(engine, msg.key, msg.clock);
        replier?.ok(true);
        return;
      case 'mint':
        replier?.ok(await this.mintChains.chain(msg.key, () => this.mint(engine, msg, this.ctx!)));
        return;
      case 'scan':
        replier?.ok(scanPage(engine, msg.from, msg.to, Math.min(msg.limit ?? SCAN_PAGE_MAX_ENTRIES, SCAN_PAGE_MAX_ENTRIES)));
        return;
      case 'flush':
        await engine.flush();
        replier?.ok(true);
        return;
      case 'stats':
        replier?.ok({ ...engine.stats, tables: engine.tableCount, memtableBytes: engine.memtableBytes, keysEstimate: engine.keysEstimate, tombstones_confirmed: this.tombstonesConfirmed, dot_conflicts: this.dotConflicts });
        return;
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
        replier?.ok(true);
        return;
      case 'open-failed':
        return; // handled in receive, before the engine is awaited
      case 'log-timer': {
        const fn = this.timerCallbacks.get(msg.id);
        this.timerCallbacks.delete(msg.id);
        fn?.();
        return;
      }
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
    await this.durableView(engine, key);
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
    await this.durableView(engine, key);
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
  private dotConflict(key: Uint8Array, a: StoredVersion, b: StoredVersion, ctx: ActorContext<ReplicaMsg>): void {
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

  // -------------------------------------------------------------------------
  // Minting
  // -------------------------------------------------------------------------

  /**
   * Mint a client write on the replica that stores it: under the key's chain,
   * once nothing of the key waits for its fsync, read what this replica
   * holds, take the dot's counter from the lease (at least what the key's
   * clock requires, above everything this node ever handed out), store the
   * new version and wait until the store says it is durable per the sync
   * mode. One dot names one value: two mints never share a counter, whatever
   * the node forgot (a purged tombstone, a lost unsynced tail, a mint whose
   * ask timed out while the disk was slow).
   */
  private async mint(engine: StorageEngine, msg: MintRequest, ctx: ActorContext<ReplicaMsg>): Promise<MintReply> {
    await this.durableView(engine, msg.key);
    const local = engine.get(msg.key);
    const lease = await this.openLease(engine, ctx);
    const actor = actorId(msg.node, lease.epoch);
    const context = msg.overwrite ? contextOf(local) : contextFromString(msg.context);
    const required = requiredCounter(local, context, actor);
    // Test-only planted bug 'dot-reuse' (src/core/planted_bugs.ts): mint from what the key holds alone, as before issue 12.
    const counter = isPlanted('dot-reuse') ? required : await lease.take(required);
    const made = mintWrite(local, context, actor, msg.value, ctx.now(), undefined, counter);
    // Test-only planted bug (src/core/planted_bugs.ts, off unless a test plants it): ack but drop some versions.
    if (!plantedDropOfMergedVersion(made.version)) await engine.put(msg.key, made.version);
    return { ...made, superseded: contextToString(context) };
  }

  /**
   * The dot lease, opened on the first mint (a replica that never mints, e.g. the demo's, never writes one),
   * untrusted (a new epoch) when the engine's recovery cut off a corrupt commit-log tail.
   */
  private openLease(engine: StorageEngine, ctx: ActorContext<ReplicaMsg>): Promise<DotLease> {
    if (this.lease === undefined) {
      const periodic = this.args.syncMode === 'periodic';
      const random = (): number => ctx.random();
      const untrusted = engine.recovery.corruptTail !== null;
      const opened = DotLease.open({ fs: this.fs(), dir: this.args.dir, random, periodic, untrusted, trustUnclean: isPlanted('dot-reuse') });
      this.lease = opened;
      opened.then(
        (lease) => ctx.log.info('dot lease open', { epoch: lease.epoch, recovery: lease.recovery }),
        () => (this.lease = undefined), // the next mint retries
      );
    }
    return this.lease;
  }

  /**
   * Batch sync: wait until no write of `key` waits for its fsync, so a get or
   * a mint never sees (or builds on) a write a crash could still take back.
   */
  private async durableView(engine: StorageEngine, key: Uint8Array): Promise<void> {
    // Test-only planted bug 'visible-before-fsync' (src/core/planted_bugs.ts): read what is not yet durable.
    if (isPlanted('visible-before-fsync')) return;
    let pending = engine.whenDurable(key);
    for (let waits = 0; pending !== null; waits++) {
      if (waits === READ_DURABLE_WAITS_MAX) {
        throw new OverloadedError(`replica at ${this.args.dir}: a key written faster than its commit-log groups reach disk (${READ_DURABLE_WAITS_MAX} waits)`);
      }
      await pending;
      pending = engine.whenDurable(key);
    }
  }
}

/** One bounded page of a range scan. */
function scanPage(engine: StorageEngine, from: Uint8Array | undefined, to: Uint8Array | undefined, limit: number): ScanPage {
  const entries: ScanPage['entries'] = [];
  for (const entry of engine.scan(from, to)) {
    if (entries.length === limit) return { entries, next: entry.key };
    entries.push({ key: entry.key, versions: [...entry.versions] });
  }
  return { entries, next: null };
}

/** Build a replica (exported for the simulator and tests). */
export function replica(args: ReplicaArgs): Actor<ReplicaMsg> {
  return new Replica(args);
}

export const actorKinds = {
  replica: (args: unknown) => replica(args as ReplicaArgs),
};
