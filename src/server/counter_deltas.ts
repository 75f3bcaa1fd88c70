/**
 * Turns cumulative counters, sampled now and then, into increments for
 * Prometheus counters. Nodes report their counters as totals since their
 * thread last started (`NodeCounters` in `cluster_types.ts`); the server's own
 * counters must only ever grow, across node restarts included.
 *
 * The rule (Prometheus's own `rate()` reset rule, applied at the source):
 * the increment is `value - last`; a value lower than the last one means the
 * source restarted and counted from 0 again, so the increment is `value`
 * itself. The first value seen of a key counts in full (the server counts
 * from its own start; in the embedded cluster the nodes start with it).
 * A key that goes unsampled for a while (a node that did not answer) keeps
 * its last value, so its next sample is not counted twice.
 *
 * Thread contract: main thread only; not shared.
 */
import { assert } from '../core/assert.js';

/** The increment from `last` (undefined before the first sample) to `value`. */
export function counterIncrement(last: number | undefined, value: number): number {
  assert(Number.isSafeInteger(value) && value >= 0, 'a cumulative counter is a non-negative integer');
  if (last === undefined || value < last) return value;
  return value - last;
}

/** The last value of each counter key, at most `keys_max` keys. */
export class CounterDeltas {
  /** Last value seen per key. */
  private readonly last = new Map<string, number>();

  constructor(private readonly keys_max: number) {
    assert(Number.isSafeInteger(keys_max) && keys_max > 0, 'a counter table holds at least one key');
  }

  /** Keys held. */
  get size(): number {
    return this.last.size;
  }

  /**
   * Record `value` as `key`'s latest sample and return the increment since
   * the previous one; null (nothing recorded) when `key` is new and the
   * table already holds `keys_max` keys.
   */
  advance(key: string, value: number): number | null {
    const last = this.last.get(key);
    if (last === undefined && this.last.size >= this.keys_max) return null;
    const increment = counterIncrement(last, value);
    this.last.set(key, value);
    return increment;
  }
}
