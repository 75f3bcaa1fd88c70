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
import { dottedVersionVectorOrder } from '../src/core/dotted_version_vector.js';
import { vectorClockOrder } from '../src/core/vector_clock.js';
import type { Actor, ActorContext, ActorRef, Replier } from '../src/runtime/actor.js';
import type { CommitLogTimers, SyncMode } from '../storage/commit_log.js';
import type { CompactionResult, CompactionTask } from '../storage/compaction_task.js';
import { StorageEngine } from '../storage/engine.js';
import type { FileSystem } from '../storage/fs.js';
import { loadOrCreateEpoch } from '../storage/identity.js';
import { RealFileSystem } from '../storage/real_fs.js';
import type { StoredVersion } from '../storage/version.js';
import { SCAN_PAGE_MAX_ENTRIES } from '../src/core/limits.js';
import { plantedDropOfMergedVersion } from '../src/core/planted_bugs.js';

/** Messages a replica understands. */
export type ReplicaMsg =
  | { type: 'put'; key: Uint8Array; version: StoredVersion }
  /** Store every version of `versions` (a sibling set from a coordinator, read repair or hint replay); replies true. Idempotent. */
  | { type: 'merge'; key: Uint8Array; versions: StoredVersion[] }
  | { type: 'get'; key: Uint8Array }
  | { type: 'scan'; from?: Uint8Array; to?: Uint8Array; limit?: number }
  | { type: 'flush' }
  /** Ask: the data directory's identity epoch (made on first use; see storage/identity.ts) → number. */
  | { type: 'identity' }
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
  /** The compaction actor to tell when a flush adds a table. */
  compaction?: ActorRef;
  /** How clocks compare: dotted version vectors (the cluster's, the default) or plain vector clocks (demo, storage tests). */
  clocks?: 'dvv' | 'vector-clock';
  /** Simulator and tests only: a simulated disk (not cloneable across threads). */
  fs?: FileSystem;
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
  /** The directory's identity epoch, loaded or made on the first `identity` ask. */
  private epoch: Promise<number> | undefined;
  /** The actor's randomness (set in `started`). */
  private random: () => number = () => 0;
  private fileSystem: FileSystem | undefined;

  constructor(private readonly args: ReplicaArgs) {}

  started(ctx: ActorContext<ReplicaMsg>): void {
    const { args } = this;
    this.random = () => ctx.random();
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
        onTablesChanged: () => {
          if (args.compaction) ctx.send(args.compaction, { type: 'tables-changed' });
        },
        onError: (what, err) => ctx.log.error(`storage ${what} failed`, { error: String(err) }),
      }),
    );
    // Handled here, or an open failure with no message waiting would be an unhandled rejection that kills the thread.
    this.ready.catch((err: unknown) => ctx.send(ctx.self, { type: 'open-failed', error: String(err) }));
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
    const closed = ready.then((engine) => engine.close()).catch(() => undefined);
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
        // Test-only planted bug (src/simulation/planted_bugs.ts, off unless a test plants it): ack but drop some versions.
        for (const version of msg.versions) if (!plantedDropOfMergedVersion(version)) await engine.put(msg.key, version);
        replier?.ok(true);
        return;
      case 'get':
        replier?.ok(engine.get(msg.key));
        return;
      case 'scan':
        replier?.ok(scanPage(engine, msg.from, msg.to, Math.min(msg.limit ?? SCAN_PAGE_MAX_ENTRIES, SCAN_PAGE_MAX_ENTRIES)));
        return;
      case 'identity':
        this.epoch ??= loadOrCreateEpoch(this.fs(), this.args.dir, () => this.random());
        replier?.ok(await this.epoch);
        return;
      case 'flush':
        await engine.flush();
        replier?.ok(true);
        return;
      case 'stats':
        replier?.ok({ ...engine.stats, tables: engine.tableCount, memtableBytes: engine.memtableBytes, keysEstimate: engine.keysEstimate });
        return;
      case 'compaction-candidates':
        replier?.ok(engine.compactionCandidates());
        return;
      case 'compaction-begin':
        replier?.ok(engine.beginCompaction(msg.fileNumbers) ?? null);
        return;
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
