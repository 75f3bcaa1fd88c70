/**
 * The compaction actor: decides what to compact (size-tiered policy) and
 * drives one compaction at a time: ask the replica to reserve the tables,
 * run the merge on the compaction pool (never on the node's thread), then
 * ask the replica to swap the result into the manifest, or to abort.
 *
 * It wakes on `tables-changed` (sent by the replica after a flush) and on a
 * periodic `tick`, and after each compaction looks again, since one merge
 * can make the next tier due.
 *
 * Asks: `settle` → resolves once no compaction is due or running;
 * `stats` → compactions finished by this instance (`CompactionStats`);
 * `major-compact` → an operator's major compaction (Cassandra's `nodetool
 * flush` then `nodetool compact`): the memtable is flushed and every live
 * table merged into one, so tombstones past their grace whose purge a
 * table outside a size tier was guarding can go; answers the compactions it
 * finished (`MajorCompactionReport`).
 *
 * A merge that fails on a corrupt input names it in its abort, and the
 * replica quarantines that table (issue 13), so compaction does not fail on
 * it again and again.
 *
 * Thread contract: runs on the replica's thread; talks to it by messages only.
 */
import { assertNever } from '../src/core/assert.js';
import { isCorruptionError } from '../src/core/errors.js';
import { COMPACTION_CHECK_INTERVAL_MS, COMPACTION_MAX_THRESHOLD } from '../src/core/limits.js';
import type { Actor, ActorContext, ActorRef } from '../src/runtime/actor.js';
import { pickCompaction, type SizeTieredOptions, type TableSize } from '../storage/compaction_policy.js';
import { PoolCompactionExecutor } from '../storage/compaction_pool.js';
import type { CompactionExecutor, CompactionResult, CompactionTask } from '../storage/compaction_task.js';
import type { RingRange } from '../src/core/ring_change.js';

/** Messages the compaction actor understands. */
export type CompactionMsg =
  | { type: 'tick' }
  | { type: 'tables-changed' }
  /** Ask: resolves once no compaction is due or running (tests, shutdown). */
  | { type: 'settle' }
  /** Ask: counters since this instance started → `CompactionStats`. */
  | { type: 'stats' }
  /** Ask: flush, then merge every live table (at most MAJOR_COMPACTION_ROUNDS_MAX merges) → `MajorCompactionReport`. */
  | { type: 'major-compact' }
  /**
   * Ask: a major compaction that keeps only the keys in ring ranges `keep`
   * (issue 16: after a membership change, the copies this node no longer
   * replicates go; Cassandra's `nodetool cleanup`) → `MajorCompactionReport`.
   */
  | { type: 'cleanup'; keep: RingRange[] };

/** Answer to the `major-compact` ask. */
export interface MajorCompactionReport {
  /** Merges finished (0: at most one table was live, or a table was busy in another compaction). */
  compactions: number;
  /** Live tables afterwards. */
  tables: number;
}

/** Answer to the `stats` ask: counters since this instance started. */
export interface CompactionStats {
  /** Compactions whose result the replica swapped into its manifest. */
  compactions: number;
}

/** How to spawn a compaction actor. */
export interface CompactionArgs {
  /** The replica whose tables this actor compacts. */
  replica: ActorRef;
  interval_ms?: number;
  policy?: SizeTieredOptions;
  /** Simulator and tests: where merges run (default: the piscina pool). */
  executor?: CompactionExecutor;
}

/** Compactions run back to back before the actor yields to a tick (bounds one burst). */
const COMPACTIONS_PER_BURST_MAX = 16;
/**
 * Merges of one major compaction: each takes up to COMPACTION_MAX_THRESHOLD
 * tables (the bound of any one merge), so this many reduce
 * 1 + 4 * (COMPACTION_MAX_THRESHOLD - 1) tables to one; more stay for the next ask.
 */
const MAJOR_COMPACTION_ROUNDS_MAX = 4;

class Compaction implements Actor<CompactionMsg> {
  private running: Promise<void> | undefined;
  private again = false;
  private executor: CompactionExecutor | undefined;
  /** Compactions finished by this instance (the `stats` ask). */
  private finished = 0;

  constructor(private readonly args: CompactionArgs) {}

  started(ctx: ActorContext<CompactionMsg>): void {
    ctx.schedule(this.args.interval_ms ?? COMPACTION_CHECK_INTERVAL_MS, { type: 'tick' });
  }

  receive(msg: CompactionMsg, ctx: ActorContext<CompactionMsg>): void | Promise<void> {
    switch (msg.type) {
      case 'tick':
        ctx.schedule(this.args.interval_ms ?? COMPACTION_CHECK_INTERVAL_MS, { type: 'tick' });
        this.wake(ctx);
        return;
      case 'tables-changed':
        this.wake(ctx);
        return;
      case 'settle': {
        const replier = ctx.replier();
        this.wake(ctx);
        return (this.running ?? Promise.resolve()).then(() => replier?.ok(true));
      }
      case 'stats': {
        const stats: CompactionStats = { compactions: this.finished };
        ctx.reply(stats);
        return;
      }
      case 'major-compact':
      case 'cleanup': {
        const replier = ctx.replier();
        const keep = msg.type === 'cleanup' ? msg.keep : undefined;
        // Runs after any burst in flight (one compaction at a time); a burst woken meanwhile waits for it.
        const major = (this.running ?? Promise.resolve()).then(() => this.major(ctx, keep));
        this.running = major.then(() => undefined, () => undefined).finally(() => {
          this.running = undefined;
          if (this.again) {
            this.again = false;
            this.wake(ctx);
          }
        });
        return major.then((report) => replier?.ok(report), (err: unknown) => replier?.fail(err));
      }
      default:
        assertNever(msg);
    }
  }

  stopped(): void {
    void this.executor?.close();
  }

  /** A crash: stop the pool's threads (a merge in progress is abandoned; its output is not in the manifest). */
  async crashed(): Promise<void> {
    await this.executor?.close();
  }

  /** Start a compaction burst unless one runs; a running one looks again when done. */
  private wake(ctx: ActorContext<CompactionMsg>): void {
    if (this.running) {
      this.again = true;
      return;
    }
    const burst = this.burst(ctx).catch((err: unknown) => {
      // The replica may be restarting; the next tick tries again.
      ctx.log.warn('compaction burst stopped', { error: String(err) });
    });
    this.running = burst.finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake(ctx);
      }
    });
  }

  private async burst(ctx: ActorContext<CompactionMsg>): Promise<void> {
    for (let i = 0; i < COMPACTIONS_PER_BURST_MAX; i++) {
      const tables = await ctx.ask<TableSize[]>(this.args.replica, { type: 'compaction-candidates' });
      const pick = pickCompaction(tables, this.args.policy);
      if (pick.length === 0) return;
      if (!(await this.compactOnce(ctx, pick))) return;
    }
  }

  /** Merge `pick` into one table: reserve, run on the executor, swap in (or abort). False when nothing was swapped in. */
  private async compactOnce(ctx: ActorContext<CompactionMsg>, pick: readonly TableSize[], keep?: RingRange[]): Promise<boolean> {
    const task = await ctx.ask<CompactionTask | null>(this.args.replica, {
      type: 'compaction-begin',
      fileNumbers: pick.map((t) => t.fileNumber),
    });
    if (!task) return false;
    if (keep !== undefined) task.keep = keep;
    let result: CompactionResult;
    try {
      result = await this.executorFor().compact(task);
    } catch (err) {
      ctx.log.error('compaction failed; inputs released', { inputs: task.inputs.length, error: String(err) });
      const corrupt = corruptInput(task, err);
      await ctx.ask(this.args.replica, { type: 'compaction-abort', task, ...(corrupt !== undefined ? { corrupt } : {}) });
      return false;
    }
    await ctx.ask(this.args.replica, { type: 'compaction-finish', task, result }, 60_000);
    this.finished++; // The replica answered: the result is in its manifest.
    ctx.log.info('compacted', { inputs: task.inputs.length, bytesIn: result.bytesIn, bytesOut: result.bytesOut });
    return true;
  }

  /**
   * Flush, then merge the live tables, oldest first, up to
   * COMPACTION_MAX_THRESHOLD per merge, until one is left; with `keep` (a
   * cleanup), every table is merged at least once, a lone one too.
   */
  private async major(ctx: ActorContext<CompactionMsg>, keep?: RingRange[]): Promise<MajorCompactionReport> {
    await ctx.ask(this.args.replica, { type: 'flush' }, 60_000);
    let compactions = 0;
    let tables = await ctx.ask<TableSize[]>(this.args.replica, { type: 'compaction-candidates' });
    for (let round = 0; round < MAJOR_COMPACTION_ROUNDS_MAX && (tables.length > 1 || (keep !== undefined && round === 0 && tables.length === 1)); round++) {
      const pick = [...tables].sort((a, b) => a.fileNumber - b.fileNumber).slice(0, COMPACTION_MAX_THRESHOLD);
      if (!(await this.compactOnce(ctx, pick, keep))) break;
      compactions++;
      tables = await ctx.ask<TableSize[]>(this.args.replica, { type: 'compaction-candidates' });
    }
    ctx.log.info('major compaction', { compactions, tables: tables.length });
    return { compactions, tables: tables.length };
  }

  private executorFor(): CompactionExecutor {
    this.executor ??= this.args.executor ?? new PoolCompactionExecutor();
    return this.executor;
  }
}

/**
 * The input table a failed merge found corrupt, if any, so the replica
 * quarantines it instead of every later compaction failing on it. The error
 * crosses from a pool thread as a plain Error, so the table is known by the
 * message's "corruption in <path>" (CorruptionError's wording), and only a
 * path among the task's inputs counts.
 */
function corruptInput(task: CompactionTask, err: unknown): { path: string; message: string } | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const path = isCorruptionError(err) ? err.location : /^corruption in (\S+?)(?: at offset \d+)?:/.exec(message)?.[1];
  return path !== undefined && task.inputs.includes(path) ? { path, message } : undefined;
}

/** Build a compaction actor (exported for the simulator and tests). */
export function compaction(args: CompactionArgs): Actor<CompactionMsg> {
  return new Compaction(args);
}

export const actorKinds = {
  compaction: (args: unknown) => compaction(args as CompactionArgs),
};
