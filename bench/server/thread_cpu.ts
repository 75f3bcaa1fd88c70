/**
 * CPU time of a server process per thread group over one benchmark run,
 * from /proc/<pid>/task/<tid>/stat (Linux only; elsewhere nothing is
 * reported). Node threads are all named "node", so the groups come from
 * `thread_probe.ts`'s files: its main thread, its worker threads (for
 * ringkv: the nodes and any thread pools of workers), and helpers (every
 * other thread: V8's platform threads doing concurrent GC and compilation,
 * libuv's file-system pool, ...). For a process without the probe
 * (redis-server), the thread whose tid is the pid is "main" and the rest
 * are helpers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_S = 100;

interface ThreadState { cpu_s: number; kind: 'main' | 'worker' | 'helper'; gc_ms: number }
/** One reading of every thread of a process. */
export type ThreadSample = Map<number, ThreadState>;

/** CPU seconds of a run, split by thread group, and the GC time the probes saw. */
export interface RunCpu {
  total_s: number;
  main_s: number;
  workers_s: number;
  helpers_s: number;
  /** GC time reported by perf_hooks on the JavaScript threads (null without the probe). */
  gc_ms: number | null;
}

/** Read every thread of `pid` (and the probe files in `probeDir`, if any). Empty off Linux or once the process is gone. */
export function sampleThreads(pid: number, probeDir?: string): ThreadSample {
  const sample: ThreadSample = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return sample;
  }
  for (const name of tids) {
    const tid = Number(name);
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${name}/stat`, 'latin1');
    } catch {
      continue; // the thread exited meanwhile
    }
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu_s = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
    const probe = probeDir === undefined ? undefined : readProbe(join(probeDir, `${name}.json`));
    const kind = probe?.kind ?? (tid === pid ? 'main' : 'helper');
    sample.set(tid, { cpu_s, kind, gc_ms: probe?.gc_ms ?? 0 });
  }
  return sample;
}

/** What the process spent between two samples (threads that exited in between are not counted). */
export function cpuBetween(before: ThreadSample, after: ThreadSample, probed: boolean): RunCpu {
  const run: RunCpu = { total_s: 0, main_s: 0, workers_s: 0, helpers_s: 0, gc_ms: probed ? 0 : null };
  for (const [tid, now] of after) {
    const then = before.get(tid);
    const cpu = now.cpu_s - (then?.cpu_s ?? 0);
    run.total_s += cpu;
    if (now.kind === 'main') run.main_s += cpu;
    else if (now.kind === 'worker') run.workers_s += cpu;
    else run.helpers_s += cpu;
    if (run.gc_ms !== null) run.gc_ms += now.gc_ms - (then?.gc_ms ?? 0);
  }
  return run;
}

function readProbe(path: string): { kind: 'main' | 'worker'; gc_ms: number } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { kind: 'main' | 'worker'; gc_ms: number };
  } catch {
    return undefined;
  }
}
