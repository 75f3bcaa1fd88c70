/**
 * What a memtable costs the garbage collector: `Memtable` (one JS object per
 * node, version, clock and value) against `Memtable` (typed arrays
 * addressed by offsets), one after the other in one process, same workload.
 * A measurement, not a test; it asserts nothing about speed.
 *
 *   npm run build && node --expose-gc dist/bench/storage/memtable_heap.js [--entries 200000] [--value-bytes 100]
 *
 * Per implementation, after a full GC to start clean:
 * - insert: `entries` distinct keys (`key:` + 8 digits, seeded random order),
 *   one version each; the key, clock and value arrays are made fresh per put
 *   and dropped by the caller, as the engine's decoded writes are;
 * - heap after a full GC with the memtable live: V8 heap used (JS objects)
 *   and ArrayBuffer bytes (off-heap backing stores), as deltas from the start;
 * - full GC: time of one `gc()` with the memtable live (marking grows with
 *   the number of live objects), and GC time observed during the insert;
 * - update: a fifth of the keys rewritten with a dominating clock (the merge path);
 * - get: every key once, in another random order.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { Prng } from '../../src/core/prng.js';
import { encodeClock, increment, vectorClockOrder } from '../../src/core/vector_clock.js';
import { Memtable } from '../../storage/memtable.js';
import { shuffledIndices } from './workload.js';
import { ModelMemtable } from '../../test/storage/memtable_model.js';
import type { Version } from '../../storage/version.js';

interface Options {
  entries: number;
  valueBytes: number;
}

/** What both memtables offer the benchmark. */
interface MemtableLike {
  put(key: Uint8Array, versions: readonly Version[]): readonly Version[];
  get(key: Uint8Array): readonly Version[] | undefined;
  readonly entryCount: number;
  readonly approximateBytes: number;
}

interface Row {
  memtable: string;
  entries: number;
  insert_per_s: number;
  update_per_s: number;
  get_per_s: number;
  heap_used_mb: number;
  array_buffers_mb: number;
  full_gc_ms: number;
  gc_during_insert_ms: number;
  approximate_mb: number;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { entries: 200_000, valueBytes: 100 };
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1]);
    if (argv[i] === '--entries' && Number.isInteger(value) && value > 0) options.entries = value;
    else if (argv[i] === '--value-bytes' && Number.isInteger(value) && value >= 0) options.valueBytes = value;
    else continue;
    i++;
  }
  return options;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc!();
}

function keyOf(index: number): Uint8Array {
  return new TextEncoder().encode(`key:${String(index).padStart(8, '0')}`);
}

/** GC pause time (ms) reported by V8 while `observer` runs. */
class GcTime {
  total_ms = 0;
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.total_ms += entry.duration;
  });

  start(): void {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  async stop(): Promise<number> {
    // GC entries are delivered asynchronously: let them arrive before stopping.
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.observer.disconnect();
    return this.total_ms;
  }
}

async function measure(name: string, make: () => MemtableLike, options: Options): Promise<Row> {
  const { entries, valueBytes } = options;
  const clock1 = encodeClock(increment([], 'node-1', 1));
  const clock2 = encodeClock(increment(increment([], 'node-1', 1), 'node-1', 2));
  const insertOrder = shuffledIndices(entries, new Prng(1));
  const getOrder = shuffledIndices(entries, new Prng(2));
  gc();
  const start = process.memoryUsage();
  const memtable = make();
  const gcTime = new GcTime();
  gcTime.start();
  let t0 = performance.now();
  for (let i = 0; i < entries; i++) {
    const index = insertOrder[i]!;
    memtable.put(keyOf(index), [{ clock: clock1.slice(), value: new Uint8Array(valueBytes).fill(index & 0xff), ts_ms: index }]);
  }
  const insert_ms = performance.now() - t0;
  const gc_during_insert_ms = await gcTime.stop();
  gc();
  const held = process.memoryUsage();
  t0 = performance.now();
  gc();
  const full_gc_ms = performance.now() - t0;
  const updates = Math.max(1, Math.floor(entries / 5));
  t0 = performance.now();
  for (let i = 0; i < updates; i++) {
    const index = insertOrder[i]!;
    memtable.put(keyOf(index), [{ clock: clock2.slice(), value: new Uint8Array(valueBytes).fill(1), ts_ms: index + 1 }]);
  }
  const update_ms = performance.now() - t0;
  const keys = Array.from(getOrder, (index) => keyOf(index));
  let found = 0;
  t0 = performance.now();
  for (const key of keys) if (memtable.get(key) !== undefined) found++;
  const get_ms = performance.now() - t0;
  if (found !== entries || memtable.entryCount !== entries) throw new Error(`${name}: found ${found} of ${entries} keys`);
  return {
    memtable: name,
    entries,
    insert_per_s: Math.round(entries / (insert_ms / 1000)),
    update_per_s: Math.round(updates / (update_ms / 1000)),
    get_per_s: Math.round(entries / (get_ms / 1000)),
    heap_used_mb: round((held.heapUsed - start.heapUsed) / 2 ** 20),
    array_buffers_mb: round((held.arrayBuffers - start.arrayBuffers) / 2 ** 20),
    full_gc_ms: round(full_gc_ms),
    gc_during_insert_ms: round(gc_during_insert_ms),
    approximate_mb: round(memtable.approximateBytes / 2 ** 20),
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function main(): Promise<void> {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    console.error('run with node --expose-gc (heap figures need a full GC before each reading)');
    process.exitCode = 2;
    return;
  }
  const options = parseOptions(process.argv.slice(2));
  console.log(`memtable heap: ${options.entries} entries, ${options.valueBytes}-byte values, node ${process.version}`);
  const rows: Row[] = [];
  rows.push(await measure('object memtable (the model, before issue 14)', () => new ModelMemtable(vectorClockOrder), options));
  rows.push(await measure('arena memtable (storage/memtable.ts)', () => new Memtable(vectorClockOrder), options));
  console.table(rows);
  const [model, arena] = rows as [Row, Row];
  const results = {
    benchmark: 'memtable-heap',
    config: { entries: options.entries, value_bytes: options.valueBytes },
    machine: { cpus: os.cpus().length, node: process.version, loadavg_1m: os.loadavg()[0] },
    rows,
    ratios: {
      heap_used: arena.heap_used_mb / model.heap_used_mb,
      full_gc: arena.full_gc_ms / model.full_gc_ms,
      insert_per_s: arena.insert_per_s / model.insert_per_s,
      get_per_s: arena.get_per_s / model.get_per_s,
    },
  };
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'results', 'memtable_heap.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

void main();
