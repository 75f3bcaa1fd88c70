/**
 * Runs the size-tiered policy against one engine during the benchmark, as a
 * node's replica actor would: whenever the engine reports new tables, ask
 * `pickCompaction` for a bucket and hand it to the executor (the piscina pool
 * in the benchmark, so merges run off the engine's thread), one compaction at
 * a time, until the policy picks nothing.
 *
 * Thread contract: the engine's thread only.
 */
import { pickCompaction } from '../../storage/compaction_policy.js';
import type { CompactionExecutor } from '../../storage/compaction_task.js';
import type { StorageEngine } from '../../storage/engine.js';

/** Drives compactions of one engine until told to stop. */
export class CompactionDriver {
  /** The running compaction loop, undefined when idle. */
  private running: Promise<void> | undefined;
  /** Set when a poke arrived while the loop was running: look again before going idle. */
  private dirty = false;
  /** Set by `stop`: no compaction starts afterwards. */
  private stopped = false;
  /** First failure of a compaction; reported by `settle`. */
  private failure: unknown;
  /** Compactions run by this driver. */
  compactions = 0;

  constructor(
    private readonly engine: StorageEngine,
    private readonly executor: CompactionExecutor,
  ) {}

  /** Tell the driver the table set changed (the engine's `onTablesChanged`). */
  poke(): void {
    if (this.failure !== undefined || this.stopped) return;
    if (this.running !== undefined) {
      this.dirty = true;
      return;
    }
    this.running = this.loop()
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Wait until the policy picks nothing more; rethrows a compaction failure. */
  async settle(): Promise<void> {
    this.poke();
    while (this.running !== undefined) await this.running;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Start no more compactions and wait for the running one (before closing the engine). */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.running !== undefined) await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.dirty = false;
      const picked = pickCompaction(this.engine.compactionCandidates());
      if (picked.length === 0) {
        if (this.dirty) continue;
        return;
      }
      const task = this.engine.beginCompaction(picked.map((t) => t.fileNumber));
      // Only this driver reserves tables, one compaction at a time, so a pick is always free.
      if (task === undefined) throw new Error(`compaction of tables ${picked.map((t) => t.fileNumber).join(',')} could not start`);
      let result;
      try {
        result = await this.executor.compact(task);
      } catch (err) {
        await this.engine.abortCompaction(task);
        throw err;
      }
      await this.engine.finishCompaction(task, result);
      this.compactions++;
    }
  }
}
