/**
 * The doorbell never loses a wake-up (src/runtime/transport.ts): two
 * producer threads send seeded bursts to this thread, which parks between
 * them, and each producer waits for its burst's acknowledgement (which
 * wakes it in turn) before the next. A lost wake-up is a deadlock: no
 * progress within STALL_MS fails the test, naming the seed and the burst.
 * Messages must also arrive complete and in order per producer.
 */
import { expect } from 'chai';
import { Worker } from 'node:worker_threads';
import { RING_FRAME_MAX_BYTES } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { EnvelopeKind } from '../../src/runtime/envelope.js';
import { allocateRing } from '../../src/runtime/ring.js';
import { allocateDoorbells, Transport, type TransportWiring } from '../../src/runtime/transport.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const BURSTS = 2500;
const PRODUCERS = [1, 2];
/** Far beyond any scheduling delay on a loaded 2-core machine; only a lost wake-up waits this long. */
const STALL_MS = 5000;
/** The smallest rings the frame limit allows (bursts are small). */
const RING_BYTES = 2 * RING_FRAME_MAX_BYTES;

describe('runtime/doorbell', () => {
  it(`never loses a wake-up between producers and a parking consumer (SEED=${SEED})`, async function () {
    this.timeout(120_000);
    console.log(`      doorbell stress SEED=${SEED}`);
    const prng = new Prng(SEED);
    const threadCount = 3;
    const rings: (SharedArrayBuffer | null)[][] = [[null, allocateRing(RING_BYTES), allocateRing(RING_BYTES)], [allocateRing(RING_BYTES), null, null], [allocateRing(RING_BYTES), null, null]];
    const wiring: TransportWiring = { threadCount, doorbells: allocateDoorbells(threadCount), rings };
    const next = new Map<number, { burst: number; index: number }>(PRODUCERS.map((p) => [p, { burst: 0, index: 0 }]));
    let progress = 0;
    let failure: Error | undefined;
    const fail = (err: Error): void => {
      failure ??= err;
    };
    const consumer: Transport = new Transport(0, wiring, {
      canAccept: () => true,
      onBatch: (from, batch) => {
        const at = next.get(from)!;
        for (const env of batch) {
          const [burst, index, size] = env.m as [number, number, number];
          if (burst !== at.burst || index !== at.index) fail(new Error(`SEED=${SEED}: from thread ${from} got ${burst}.${index}, expected ${at.burst}.${at.index}`));
          progress++;
          if (index + 1 < size) at.index++;
          else {
            // Acknowledge the burst, sometimes after a busy wait (the producer may park meanwhile).
            if (prng.chance(0.2)) spin(prng.range(0, 40));
            consumer.sendParts(from, EnvelopeKind.Send, 0, 'producer', '', burst);
            at.burst++;
            at.index = 0;
          }
        }
      },
      onDrained: () => undefined,
      onUndeliverable: (_d, _e, reason) => fail(reason),
      onCorruption: (err) => fail(err),
    });
    consumer.start();
    const workers = PRODUCERS.map(
      (thread) => new Worker(new URL('./doorbell_worker.js', import.meta.url), { workerData: { thread, wiring, seed: (SEED + thread * 0x9e3779b1) >>> 0, bursts: BURSTS } }),
    );
    try {
      const finished = workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('error', reject);
            w.on('message', (m: { type: string }) => m.type === 'done' && resolve());
          }),
      );
      let seen = -1;
      const watchdog = new Promise<never>((_, reject) => {
        const timer = setInterval(() => {
          if (failure !== undefined) reject(failure);
          else if (progress === seen) {
            const where = [...next].map(([t, at]) => `thread ${t} at burst ${at.burst}.${at.index}`).join(', ');
            reject(new Error(`SEED=${SEED}: no message for ${STALL_MS} ms (${where}): a wake-up was lost`));
          }
          seen = progress;
        }, STALL_MS);
        void Promise.all(finished).finally(() => clearInterval(timer));
      });
      await Promise.race([Promise.all(finished), watchdog]);
      if (failure !== undefined) throw failure;
      for (const [thread, at] of next) expect(at.burst, `bursts from thread ${thread}`).to.equal(BURSTS);
    } finally {
      consumer.stop();
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});

function spin(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until);
}
