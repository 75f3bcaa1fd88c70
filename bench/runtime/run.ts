/**
 * `npm run bench:runtime`: measures the actor runtime's transport on this
 * machine and writes bench/results/runtime.json.
 *
 * - ring_msgs_per_s: one-way ~50-byte messages between two worker threads
 *   through the SAB ring transport (batched msgpackr frames, checksums,
 *   doorbell wake-ups);
 * - post_message_msgs_per_s: the same messages by postMessage, one each;
 * - post_message_batched_msgs_per_s: the same, batched by 256;
 * - ask_rtt_us_p50 / p99: request/reply between actors on two threads at low
 *   load (one ask in flight).
 */
import { Worker } from 'node:worker_threads';
import { MessageChannel } from 'node:worker_threads';
import { RING_CAPACITY_BYTES } from '../../src/core/limits.js';
import { ActorSystem } from '../../src/runtime/actor_system.js';
import { allocateRing } from '../../src/runtime/ring.js';
import { allocateDoorbells, type TransportWiring } from '../../src/runtime/transport.js';
import { machine, percentile, writeResults } from '../common/report.js';

const quick = process.argv.includes('--quick');
const MESSAGES = quick ? 300_000 : 2_000_000;
const PM_MESSAGES = quick ? 100_000 : 500_000;
const ASKS = quick ? 2_000 : 10_000;
const ROUNDS = quick ? 1 : 3;
const WORKER = new URL('./bench_worker.js', import.meta.url);

interface Done {
  type: string;
  count?: number;
  ms: number;
  checksum?: number;
}

function expectedChecksum(count: number): number {
  let sum = 0;
  for (let i = 0; i < count; i++) sum = (sum + i) % 1_000_000_007;
  return sum;
}

/** Start producer and consumer workers and time the consumer's receipt of `count` messages. */
async function runPair(producerData: object, consumerData: object, transfer: [unknown[], unknown[]], count: number): Promise<number> {
  const consumer = new Worker(WORKER, { workerData: consumerData, transferList: transfer[1] as never[] });
  await new Promise<void>((r) => consumer.once('message', () => r()));
  const producer = new Worker(WORKER, { workerData: producerData, transferList: transfer[0] as never[] });
  const received = new Promise<Done>((r) => consumer.once('message', (m: Done) => r(m)));
  await new Promise((r) => setTimeout(r, 50));
  const start = performance.now();
  producer.postMessage('go');
  const done = await received;
  const elapsed_ms = performance.now() - start;
  if (done.count !== count || done.checksum !== expectedChecksum(count)) {
    throw new Error(`consumer saw ${done.count} messages with checksum ${done.checksum}; expected ${count}`);
  }
  await Promise.all([producer.terminate(), consumer.terminate()]);
  return count / (elapsed_ms / 1000);
}

async function ringRate(): Promise<number> {
  const wiring: TransportWiring = {
    threadCount: 3,
    doorbells: allocateDoorbells(3),
    rings: [
      [null, null, null],
      [null, null, allocateRing(RING_CAPACITY_BYTES)],
      [null, allocateRing(RING_CAPACITY_BYTES), null],
    ],
  };
  return runPair(
    { mode: 'ring-producer', count: MESSAGES, batch: 0, thread: 1, wiring },
    { mode: 'ring-consumer', count: MESSAGES, batch: 0, thread: 2, wiring },
    [[], []],
    MESSAGES,
  );
}

async function postMessageRate(batch: number): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  return runPair(
    { mode: 'pm-producer', count: PM_MESSAGES, batch, port: port1 },
    { mode: 'pm-consumer', count: PM_MESSAGES, batch, port: port2 },
    [[port1], [port2]],
    PM_MESSAGES,
  );
}

async function askRtt(): Promise<{ p50: number; p99: number; mean: number }> {
  const system = await ActorSystem.start({
    threads: 2,
    modules: [new URL('./bench_actors.js', import.meta.url).href],
    spawn: { 1: [{ kind: 'pinger', id: 'pinger' }], 2: [{ kind: 'ponger', id: 'ponger' }] },
  });
  try {
    // Warm up, then measure.
    await system.ask({ thread: 1, id: 'pinger' }, { type: 'run', target: { thread: 2, id: 'ponger' }, count: 500 }, 60_000);
    const rtt = await system.ask<number[]>({ thread: 1, id: 'pinger' }, { type: 'run', target: { thread: 2, id: 'ponger' }, count: ASKS }, 120_000);
    const mean = rtt.reduce((a, b) => a + b, 0) / rtt.length;
    return { p50: percentile(rtt, 50), p99: percentile(rtt, 99), mean };
  } finally {
    await system.shutdown();
  }
}

function best(values: number[]): number {
  return Math.max(...values);
}

async function main(): Promise<void> {
  console.log('ringkv runtime benchmark', JSON.stringify({ quick, MESSAGES, PM_MESSAGES, ASKS, ROUNDS, machine: machine() }));
  const ring: number[] = [];
  const single: number[] = [];
  const batched: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    ring.push(await ringRate());
    single.push(await postMessageRate(1));
    batched.push(await postMessageRate(256));
    console.log(`round ${round + 1}: ring ${Math.round(ring[round]!)}/s, postMessage ${Math.round(single[round]!)}/s, batched ${Math.round(batched[round]!)}/s`);
  }
  const rtt = await askRtt();
  const ring_msgs_per_s = Math.round(best(ring));
  const post_message_msgs_per_s = Math.round(best(single));
  writeResults('runtime', {
    ring_msgs_per_s,
    post_message_msgs_per_s,
    post_message_batched_msgs_per_s: Math.round(best(batched)),
    ring_vs_post_message_ratio: Math.round((ring_msgs_per_s / post_message_msgs_per_s) * 100) / 100,
    ask_rtt_us_p50: Math.round(rtt.p50 * 10) / 10,
    ask_rtt_us_p99: Math.round(rtt.p99 * 10) / 10,
    ask_rtt_us_mean: Math.round(rtt.mean * 10) / 10,
    target_ring_10x_post_message: ring_msgs_per_s >= 10 * post_message_msgs_per_s,
    target_ask_rtt_p99_under_500us: rtt.p99 < 500,
    config: { quick, messages: MESSAGES, post_message_messages: PM_MESSAGES, asks: ASKS, rounds: ROUNDS, statistic: 'best of rounds', message: 'a ~50-byte object {type,key,seq,node,ok}' },
    machine: machine(),
    measured_at: new Date().toISOString(),
  });
}

await main();
