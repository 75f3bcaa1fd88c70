/**
 * A cached, deadline-bounded view of `cluster.status()` for metrics scrapes
 * and for the /health and /ready probes (each has its own cache).
 *
 * Why: every scrape-time gauge needs the cluster's status, and a scrape
 * storm (several Prometheus servers, a dashboard refreshing, a script in a
 * loop) must not turn into a storm of status requests through every node's
 * mailbox. So one status request is in flight at a time, its answer (or its
 * failure) is reused for `cacheMs`, and a request that takes longer than
 * `timeoutMs` counts as failed so a scrape never hangs on a stuck cluster.
 *
 * Thread contract: main thread only (it holds a promise and a timer).
 */
import type { ClusterStatus } from '../cluster/cluster_types.js';
import { assert } from '../core/assert.js';
import { TimeoutError } from '../core/errors.js';

/** The result of one status fetch: the status, or why there is none. */
export type StatusSample = { ok: true; status: ClusterStatus } | { ok: false; error: Error };

/** How the cache is built. */
export interface StatusCacheOptions {
  /** Asks the cluster for its status. */
  fetchStatus: () => Promise<ClusterStatus>;
  /** How long a sample is reused, ms. */
  cacheMs: number;
  /** How long one fetch may take before it counts as failed, ms. */
  timeoutMs: number;
  /** Monotonic clock, ms (injected so tests can step it). */
  nowMs: () => number;
  /** What a fetch is for, in the timeout error's text (default "cluster status for a metrics scrape"). */
  purpose?: string;
  /** Called once per fetch that actually went to the cluster (for a counter). */
  onFetch?: (sample: StatusSample) => void;
}

/** Reuses one status sample for `cacheMs`; at most one fetch in flight. */
export class StatusCache {
  /** The current or last sample's promise; null before the first fetch. */
  private sample: Promise<StatusSample> | null = null;
  /** When the current sample's fetch started (clock of `nowMs`). */
  private fetchedAtMs = 0;

  constructor(private readonly options: StatusCacheOptions) {
    assert(options.cacheMs >= 0 && options.timeoutMs > 0, 'a status cache has a non-negative age bound and a positive deadline');
  }

  /** A sample no older than `cacheMs` (an in-flight fetch counts as fresh). Never rejects. */
  get(): Promise<StatusSample> {
    const now = this.options.nowMs();
    if (this.sample === null || now - this.fetchedAtMs >= this.options.cacheMs) {
      this.fetchedAtMs = now;
      this.sample = this.fetch();
    }
    return this.sample;
  }

  /** One fetch, settled as a sample within the deadline. */
  private async fetch(): Promise<StatusSample> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(this.options.purpose ?? 'cluster status for a metrics scrape', this.options.timeoutMs)), this.options.timeoutMs);
    });
    let sample: StatusSample;
    try {
      sample = { ok: true, status: await Promise.race([this.options.fetchStatus(), deadline]) };
    } catch (err) {
      sample = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
    } finally {
      clearTimeout(timer);
    }
    this.options.onFetch?.(sample);
    return sample;
  }
}
