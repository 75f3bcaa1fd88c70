/**
 * Preloaded (`node --require dist/bench/server/thread_probe.js`) into the
 * Node servers `npm run bench:server` measures, on every JavaScript thread
 * (workers inherit the flag). Each thread writes `<tid>.json` into
 * $RINGKV_BENCH_PROBE_DIR: whether it is the main thread or a worker, and
 * the GC time perf_hooks has reported on it so far. The benchmark reads
 * these to split a process's per-thread CPU (from /proc) into main thread,
 * worker threads and helper threads (V8's platform threads, libuv's pool),
 * and to sum GC time. Without the variable it does nothing.
 */
import { readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

/** How often a thread rewrites its file. */
const WRITE_INTERVAL_MS = 200;

const dir = process.env['RINGKV_BENCH_PROBE_DIR'];
if (dir !== undefined && process.platform === 'linux') {
  const tid = readlinkSync('/proc/thread-self').split('/').pop()!;
  const record = { kind: isMainThread ? 'main' : 'worker', gc_ms: 0, gc_count: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      record.gc_ms += entry.duration;
      record.gc_count++;
    }
  }).observe({ entryTypes: ['gc'] });
  const write = (): void => writeFileSync(join(dir, `${tid}.json`), JSON.stringify(record));
  write();
  setInterval(write, WRITE_INTERVAL_MS).unref();
}
