/**
 * The storage benchmark's workload, shared by both engines so they see the
 * same bytes in the same order: keys `key:` + zero-padded index, shuffled
 * with a seeded `Prng`; 100-byte values of seeded random bytes; probe keys
 * for misses drawn from indices past the loaded range (same shape, certainly
 * absent); and a bounded window of in-flight writes.
 */
import { Prng } from '../../src/core/prng.js';

/** Digits of the zero-padded key index: `key:00000042` is 12 bytes. */
export const KEY_INDEX_DIGITS = 8;

const encoder = new TextEncoder();

/** The key of index `i` (`key:` + zero-padded decimal). */
export function keyOf(i: number): Uint8Array {
  return encoder.encode(`key:${String(i).padStart(KEY_INDEX_DIGITS, '0')}`);
}

/** Indices 0..n-1 in a seeded random order (Fisher-Yates). */
export function shuffledIndices(n: number, prng: Prng): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Everything a run writes and reads, generated once before either engine starts. */
export interface Workload {
  /** keys[i] is `keyOf(i)`. */
  keys: Uint8Array[];
  /** values[i] is key i's value (a view into one random pool; never mutated). */
  values: Uint8Array[];
  /** Order in which keys are written. */
  writeOrder: Uint32Array;
  /** Order in which keys are read back (a second, independent shuffle). */
  readOrder: Uint32Array;
  /** Keys certainly absent (indices keyCount.. keyCount+missCount-1). */
  missKeys: Uint8Array[];
}

/** Build the workload for `keyCount` keys of `valueBytes`-byte values and `missCount` absent keys. */
export function buildWorkload(keyCount: number, valueBytes: number, missCount: number, seed: number): Workload {
  const prng = new Prng(seed);
  const keys = Array.from({ length: keyCount }, (_, i) => keyOf(i));
  // One pool, one distinct 100-byte window per key: random bytes, so neither store can compress them.
  const pool = prng.fill(new Uint8Array(keyCount * valueBytes));
  const values = Array.from({ length: keyCount }, (_, i) => pool.subarray(i * valueBytes, (i + 1) * valueBytes));
  const writeOrder = shuffledIndices(keyCount, prng.fork());
  const readOrder = shuffledIndices(keyCount, prng.fork());
  const missKeys = Array.from({ length: missCount }, (_, i) => keyOf(keyCount + i));
  return { keys, values, writeOrder, readOrder, missKeys };
}

/**
 * Issue `count` writes with at most `window` unacknowledged at once, as a
 * server with a bounded request queue would. Resolves when every write is
 * acknowledged; rejects with the first failure after the window drains.
 */
export async function windowedWrites(count: number, window: number, issue: (i: number) => PromiseLike<unknown>): Promise<void> {
  let inFlight = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const settled = (): void => {
    inFlight--;
    const w = wake;
    wake = undefined;
    w?.();
  };
  for (let i = 0; i < count && failure === undefined; i++) {
    while (inFlight >= window) await new Promise<void>((resolve) => (wake = resolve));
    inFlight++;
    issue(i).then(settled, (err: unknown) => {
      failure ??= err;
      settled();
    });
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  if (failure !== undefined) throw failure;
}

/** Operations per second, rounded. */
export function rate(ops: number, elapsed_ms: number): number {
  return Math.round(ops / (elapsed_ms / 1000));
}
