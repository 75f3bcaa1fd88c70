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
 * `stats` → compactions finished by this instance (`CompactionStats`).
 *
 * Thread contract: runs on the replica's thread; talks to it by messages only.
 */
import { assertNever } from '../src/core/assert.js';
import { COMPACTION_CHECK_INTERVAL_MS } from '../src/core/limits.js';
import type { Actor, ActorContext, ActorRef } from '../src/runtime/actor.js';
import { pickCompaction, type SizeTieredOptions, type TableSize } from '../storage/compaction_policy.js';
import { PoolCompactionExecutor } from '../storage/compaction_pool.js';
import type { CompactionExecutor, CompactionResult, CompactionTask } from '../storage/compaction_task.js';

/** Messages the compaction actor understands. */
export type CompactionMsg =
  | { type: 'tick' }
  | { type: 'tables-changed' }
  /** Ask: resolves once no compaction is due or running (tests, shutdown). */
  | { type: 'settle' }
  /** Ask: counters since this instance started → `CompactionStats`. */
  | { type: 'stats' };

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
      const task = await ctx.ask<CompactionTask | null>(this.args.replica, {
        type: 'compaction-begin',
        fileNumbers: pick.map((t) => t.fileNumber),
      });
      if (!task) return;
      let result: CompactionResult;
      try {
        result = await this.executorFor().compact(task);
      } catch (err) {
        ctx.log.error('compaction failed; inputs released', { inputs: task.inputs.length, error: String(err) });
        await ctx.ask(this.args.replica, { type: 'compaction-abort', task });
        return;
      }
      await ctx.ask(this.args.replica, { type: 'compaction-finish', task, result }, 60_000);
      this.finished++; // The replica answered: the result is in its manifest.
      ctx.log.info('compacted', { inputs: task.inputs.length, bytesIn: result.bytesIn, bytesOut: result.bytesOut });
    }
  }

  private executorFor(): CompactionExecutor {
    this.executor ??= this.args.executor ?? new PoolCompactionExecutor();
    return this.executor;
  }
}

/** Build a compaction actor (exported for the simulator and tests). */
export function compaction(args: CompactionArgs): Actor<CompactionMsg> {
  return new Compaction(args);
}

export const actorKinds = {
  compaction: (args: unknown) => compaction(args as CompactionArgs),
};
