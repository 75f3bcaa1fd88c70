/**
 * The compaction thread pool: the one module that imports piscina. Merges
 * run on COMPACTION_POOL_THREADS worker threads, never on a node's own
 * thread, so a long compaction does not delay the node's messages.
 *
 * Thread contract: create and use a pool from one thread.
 */
import { Piscina } from 'piscina';
import { COMPACTION_POOL_THREADS } from '../src/core/limits.js';
import type { CompactionExecutor, CompactionResult, CompactionTask } from './compaction_task.js';

/** Idle pool threads exit after this long; a busy node keeps them warm. */
const POOL_IDLE_TIMEOUT_MS = 30_000;

/** Runs compaction tasks on a piscina pool (real disk only). */
export class PoolCompactionExecutor implements CompactionExecutor {
  private readonly pool: Piscina;

  constructor(threads = COMPACTION_POOL_THREADS) {
    this.pool = new Piscina({
      filename: new URL('./compaction_task.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: POOL_IDLE_TIMEOUT_MS,
      // A compaction is one long task; queueing more than a few is a policy bug.
      maxQueue: 16,
    });
  }

  compact(task: CompactionTask): Promise<CompactionResult> {
    return this.pool.run(task) as Promise<CompactionResult>;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
