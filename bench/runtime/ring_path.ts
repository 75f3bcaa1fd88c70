/**
 * `node dist/bench/runtime/ring_path.js [--quick] [--rounds N]`: the cost of
 * the in-process ring path per message (encode, ring write, doorbell, ring
 * read, decode), as wall-clock rate and as process CPU per message. A figure,
 * not a timed test; printed, not written to bench/results/.
 *
 * Scenarios, each on real worker threads through the real Transport:
 * - bulk: one producer streams ~50-byte messages to one consumer (frames of
 *   up to RING_BATCH_MAX_MESSAGES; checksums dominate the ring's share);
 * - pingpong-B: thread 1 sends a burst of B messages, thread 2 answers each,
 *   thread 1 waits for all B answers before the next burst: both threads
 *   park between bursts, so every burst costs doorbells (B = 1 and 16);
 * - fanin: three producers each send bursts of 8 and yield, one consumer:
 *   more busy threads than cores, so a woken consumer often waits for a
 *   core while producers keep flushing (the duplicate-doorbell window).
 *
 * Wake-ups are the doorbells that notified a parked thread
 * (TransportStats.wakeupsSent), per 1000 messages.
 *
 * Each run starts fresh threads and plays the scenario twice: once to warm
 * the JIT up (a short cold run is dominated by compilation on V8's helper
 * threads), then measured. CPU per message is `process.cpuUsage()` (all
 * threads of the process) over the measured phase, divided by the messages
 * that crossed a ring (a ping-pong message and its answer count as two).
 */
import { Worker } from 'node:worker_threads';
import { RING_CAPACITY_BYTES } from '../../src/core/limits.js';
import { allocateRing } from '../../src/runtime/ring.js';
import { allocateDoorbells, type TransportWiring } from '../../src/runtime/transport.js';
import { machine } from '../common/report.js';

const quick = process.argv.includes('--quick');
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : quick ? 2 : 5;
const WORKER = new URL('./ring_path_worker.js', import.meta.url);

/** One scenario: worker setups by thread (1..n) and the messages that cross a ring. */
interface Scenario {
  name: string;
  threads: number;
  setup: (thread: number) => Record<string, unknown>;
  messages: number;
}

function wiringFor(workers: number): TransportWiring {
  const threadCount = workers + 1;
  const rings: (SharedArrayBuffer | null)[][] = [];
  for (let src = 0; src < threadCount; src++) {
    rings.push([]);
    for (let dst = 0; dst < threadCount; dst++) rings[src]!.push(src === 0 || dst === 0 || src === dst ? null : allocateRing(RING_CAPACITY_BYTES));
  }
  return { threadCount, doorbells: allocateDoorbells(threadCount), rings };
}

const BULK = quick ? 400_000 : 2_000_000;
const PINGPONG_ROUNDS = quick ? 4_000 : 20_000;
const PINGPONG_BURST_ROUNDS = quick ? 1_000 : 5_000;
const FANIN_BURSTS = quick ? 5_000 : 25_000;

const scenarios: Scenario[] = [
  { name: 'bulk', threads: 2, messages: BULK, setup: (t) => ({ mode: t === 1 ? 'bulk-producer' : 'counter', count: BULK, dest: 2, expect: BULK }) },
  { name: 'pingpong-1', threads: 2, messages: 2 * PINGPONG_ROUNDS, setup: (t) => ({ mode: t === 1 ? 'pinger' : 'ponger', rounds: PINGPONG_ROUNDS, burst: 1, dest: 3 - t }) },
  { name: 'pingpong-16', threads: 2, messages: 2 * 16 * PINGPONG_BURST_ROUNDS, setup: (t) => ({ mode: t === 1 ? 'pinger' : 'ponger', rounds: PINGPONG_BURST_ROUNDS, burst: 16, dest: 3 - t }) },
  {
    name: 'fanin-3x8',
    threads: 4,
    messages: 3 * 8 * FANIN_BURSTS,
    setup: (t) => (t === 4 ? { mode: 'counter', expect: 3 * 8 * FANIN_BURSTS } : { mode: 'burst-producer', bursts: FANIN_BURSTS, burst: 8, dest: 4 }),
  },
];

interface Result {
  msgs_per_s: number;
  cpu_us_per_msg: number;
  /** Parked threads notified, per 1000 messages (TransportStats.wakeupsSent). */
  wakeups_per_kmsg: number;
}

/** One run: fresh threads, a warm-up phase (the JIT), then the measured phase. */
async function runOnce(s: Scenario): Promise<Result> {
  const wiring = wiringFor(s.threads);
  const workers: Worker[] = [];
  let phaseDone: () => void = () => undefined;
  let onStats: (wakeups: number) => void = () => undefined;
  for (let t = 1; t <= s.threads; t++) {
    const w = new Worker(WORKER, { workerData: { ...s.setup(t), thread: t, wiring } });
    workers.push(w);
    await new Promise<void>((r) => w.once('message', () => r()));
    w.on('error', (err) => {
      throw err;
    });
    w.on('message', (m: { type: string; wakeups?: number }) => {
      if (m.type === 'done') phaseDone();
      if (m.type === 'stats') onStats(m.wakeups!);
    });
  }
  const phase = (): Promise<void> => {
    const done = new Promise<void>((r) => (phaseDone = r));
    for (const w of workers) w.postMessage('go');
    return done;
  };
  /** Doorbells that woke a parked thread so far, all threads together. */
  const wakeups = (): Promise<number> =>
    new Promise((resolve) => {
      let sum = 0;
      let left = workers.length;
      onStats = (n) => {
        sum += n;
        if (--left === 0) resolve(sum);
      };
      for (const w of workers) w.postMessage('stats');
    });
  await phase();
  await new Promise((r) => setTimeout(r, 20));
  const wakeups0 = await wakeups();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await phase();
  const elapsed_ms = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  const woken = (await wakeups()) - wakeups0;
  await Promise.all(workers.map((w) => w.terminate()));
  return { msgs_per_s: s.messages / (elapsed_ms / 1000), cpu_us_per_msg: (cpu.user + cpu.system) / s.messages, wakeups_per_kmsg: (woken * 1000) / s.messages };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
  console.log('ring path benchmark', JSON.stringify({ quick, ROUNDS, checksums_env: process.env['RINGKV_RING_CHECKSUMS'] ?? null, machine: machine() }));
  for (const s of scenarios) {
    if (only !== undefined && !only.split(',').includes(s.name)) continue;
    const runs: Result[] = [];
    for (let r = 0; r < ROUNDS; r++) runs.push(await runOnce(s));
    const rate = median(runs.map((x) => x.msgs_per_s));
    const cpu = median(runs.map((x) => x.cpu_us_per_msg));
    const woken = median(runs.map((x) => x.wakeups_per_kmsg));
    console.log(
      `${s.name.padEnd(12)} median ${Math.round(rate).toLocaleString('en-US').padStart(10)} msgs/s  ${cpu.toFixed(3)} us CPU/msg  ${woken.toFixed(1).padStart(6)} wake-ups/1k msgs   runs: ${runs.map((x) => `${Math.round(x.msgs_per_s / 1000)}k/${x.cpu_us_per_msg.toFixed(2)}`).join(' ')}`,
    );
  }
}

await main();
