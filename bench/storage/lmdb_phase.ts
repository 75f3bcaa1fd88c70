/**
 * The LMDB baseline of the storage benchmark (lmdb-js, the same library the
 * hint store uses). This file imports `lmdb` directly: it is the benchmark's
 * baseline, not product code; in the product only `storage/hint_store.ts`
 * does.
 *
 * Durability is matched to ringkv's `batch` mode. lmdb-js batches every
 * write of an event turn into one transaction, but on Linux its default
 * `overlappingSync` resolves a put's promise when the transaction *commits*
 * (visible) and fsyncs afterwards. So the store is opened with
 * `separateFlushed` and the write window waits on each put's `flushed`
 * promise: a write counts as done when it is on disk, as in ringkv. Each key
 * is stored with the bytes ringkv stores for it: encoded clock ‖ value.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { encodeClock, increment } from '../../src/core/vector_clock.js';
import { rate, windowedWrites, type Workload } from './workload.js';

/** Knobs of the LMDB run (recorded in the results' config). */
export interface LmdbConfig {
  dir: string;
  window: number;
}

/** What the LMDB run measured. */
export interface LmdbFigures {
  put_ops_per_s: number;
  get_ops_per_s: number;
  get_miss_ops_per_s: number;
  file_bytes: number;
}

/** A put's promise; with `separateFlushed`, `flushed` resolves once the commit is fsynced. */
type FlushedPromise = Promise<boolean> & { flushed?: PromiseLike<unknown> };

/** Load, read, close. */
export async function runLmdb(work: Workload, config: LmdbConfig, log: (line: string) => void): Promise<LmdbFigures> {
  const path = join(config.dir, 'bench.mdb');
  const db = open<Buffer, Buffer>({ path, noSubdir: true, keyEncoding: 'binary', encoding: 'binary', separateFlushed: true });
  try {
    const n = work.keys.length;
    const clock = encodeClock(increment([], 'bench-node', Date.now()));
    const putStart = performance.now();
    await windowedWrites(n, config.window, (i) => {
      const k = work.writeOrder[i]!;
      const stored = Buffer.allocUnsafe(clock.length + work.values[k]!.length);
      stored.set(clock, 0);
      stored.set(work.values[k]!, clock.length);
      const put = db.put(keyBuffer(work.keys[k]!), stored) as FlushedPromise;
      if (put.flushed === undefined) throw new Error('lmdb-js did not return a flushed promise (separateFlushed)');
      return put.flushed;
    });
    await db.flushed;
    const put_ms = performance.now() - putStart;
    log(`lmdb put: ${n} keys in ${(put_ms / 1000).toFixed(2)} s`);

    // Warm-up pass (untimed) also checks every value byte for byte.
    for (let i = 0; i < n; i++) {
      const k = work.readOrder[i]!;
      const got = db.get(keyBuffer(work.keys[k]!));
      const value = work.values[k]!;
      if (got === undefined || got.length !== clock.length + value.length || Buffer.compare(got.subarray(clock.length), value) !== 0) {
        throw new Error(`lmdb returned a wrong value for key ${k}`);
      }
    }
    const keyBuffers = work.keys.map(keyBuffer);
    const getStart = performance.now();
    for (let i = 0; i < n; i++) {
      const got = db.get(keyBuffers[work.readOrder[i]!]!);
      if (got === undefined) throw new Error(`lmdb lost key ${work.readOrder[i]}`);
    }
    const get_ms = performance.now() - getStart;

    const missBuffers = work.missKeys.map(keyBuffer);
    const missStart = performance.now();
    for (const key of missBuffers) {
      if (db.get(key) !== undefined) throw new Error('lmdb found a key that was never written');
    }
    const miss_ms = performance.now() - missStart;
    return {
      put_ops_per_s: rate(n, put_ms),
      get_ops_per_s: rate(n, get_ms),
      get_miss_ops_per_s: rate(work.missKeys.length, miss_ms),
      file_bytes: statSync(path).size,
    };
  } finally {
    await db.close();
  }
}

/** A Buffer view of `key` (no copy): lmdb-js's binary key encoding takes Buffers. */
function keyBuffer(key: Uint8Array): Buffer {
  return Buffer.from(key.buffer, key.byteOffset, key.length);
}
