/**
 * Live keys of one replica, for DBSIZE and INFO keyspace (issue 13): keys
 * with at least one version that is not a tombstone, each counted once
 * however many memtables and tables hold it (the engine's merged scan
 * reconciles them first, so a deleted key whose tombstone is stored does
 * not count).
 *
 * Why a background scan: the write path costs nothing. Keeping an exact
 * count on every write would need a read of the key's older versions per
 * write (was it live before?), on the hot path that another issue rebuilds
 * for speed; per-table sketches of live and deleted keys would still need a
 * merge to tell which tombstone wins. A scan of the replica's own data,
 * cached, is exact at the moment it ran and costs one pass over the keys at
 * most every LIVE_KEYS_RECOUNT_MIN_INTERVAL_MS while writes come in (no
 * write since: the last count is reused as is). The scan runs in steps of
 * LIVE_KEYS_SCAN_STEP_ENTRIES and lets the replica's other messages run
 * between steps, so a large store never stalls the node.
 *
 * Cluster-wide, DBSIZE sums the members' counts and divides by N: exact
 * when every replica of every key holds every write; off by the keys whose
 * replicas disagree (a write or delete not yet everywhere: hints pending, a
 * replica behind), divided by N (src/server/resp_info.ts).
 *
 * Thread contract: the replica's thread only.
 */
import { LIVE_KEYS_RECOUNT_MIN_INTERVAL_MS, LIVE_KEYS_SCAN_STEP_ENTRIES } from '../src/core/limits.js';
import type { StorageEngine } from './engine.js';

/** A replica's live-key count and the scan that refreshes it. */
export class LiveKeyCounter {
  /** The last finished count, or null before the first. */
  private last: number | null = null;
  /** What the engine had written when the last finished count started (`stats.puts` and table count). */
  private lastGeneration = '';
  /** When the last finished count started (node clock). */
  private lastStarted_ms = -Infinity;
  /** The count in progress, if any. */
  private running: Promise<number> | undefined;

  constructor(
    /** Resolves on a later turn of the replica's event loop, after its queued messages ran (an actor timer). */
    private readonly yieldTurn: () => Promise<void>,
    private readonly now: () => number,
  ) {}

  /** The last finished count, or null before the first. */
  get previous(): number | null {
    return this.last;
  }

  /** Live keys of `engine`: the cached count when still current (see the file header), else a fresh one. */
  count(engine: StorageEngine): Promise<number> {
    const generation = `${engine.stats.puts}/${engine.tableCount}`;
    if (this.last !== null && (generation === this.lastGeneration || this.now() - this.lastStarted_ms < LIVE_KEYS_RECOUNT_MIN_INTERVAL_MS)) {
      return Promise.resolve(this.last);
    }
    if (this.running === undefined) {
      const started_ms = this.now();
      const run = this.scan(engine).then((live) => {
        this.last = live;
        this.lastGeneration = generation;
        this.lastStarted_ms = started_ms;
        return live;
      });
      this.running = run;
      void run.then(
        () => (this.running = undefined),
        () => (this.running = undefined),
      );
    }
    return this.running;
  }

  /** One pass over the engine's merged keys, in steps. */
  private async scan(engine: StorageEngine): Promise<number> {
    let live = 0;
    let from: Uint8Array | undefined;
    for (;;) {
      let seen = 0;
      let next: Uint8Array | null = null;
      for (const entry of engine.scan(from)) {
        if (seen === LIVE_KEYS_SCAN_STEP_ENTRIES) {
          next = entry.key.slice(); // leaving the loop ends the scan and releases its tables
          break;
        }
        seen++;
        if (entry.versions.some((v) => v.value !== null)) live++;
      }
      if (next === null) return live;
      from = next;
      await this.yieldTurn();
    }
  }
}
