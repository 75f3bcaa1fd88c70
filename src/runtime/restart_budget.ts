/**
 * The one supervision policy of ringkv, for the real actor host
 * (`actor_host.ts`) and the simulator's supervisor (`sim/supervisor.ts`): an
 * actor that fails is restarted with fresh state, unless it failed more
 * than ACTOR_RESTARTS_MAX times within ACTOR_RESTART_WINDOW_MS, in which
 * case it is stopped for good (a crash loop is a bug to report, not to
 * spin on). Time comes from the caller (real or virtual ms).
 *
 * Thread contract: one budget per actor cell, used by its hosting thread.
 */
import { ACTOR_RESTART_WINDOW_MS, ACTOR_RESTARTS_MAX } from '../core/limits.js';

/** The recent failures of one actor. */
export class RestartBudget {
  /** Times (ms) of the failures within the window. */
  private failures: number[] = [];

  /** Record a failure at `now`; 'restart' while within budget, 'stop' once over it. */
  fail(now: number): 'restart' | 'stop' {
    this.failures = this.failures.filter((t) => t > now - ACTOR_RESTART_WINDOW_MS);
    this.failures.push(now);
    return this.failures.length > ACTOR_RESTARTS_MAX ? 'stop' : 'restart';
  }

  /** Failures within the window as of the last `fail`. */
  get recent(): number {
    return this.failures.length;
  }

  /** Forget every failure (a node restart gives its actors a fresh budget). */
  reset(): void {
    this.failures = [];
  }
}
