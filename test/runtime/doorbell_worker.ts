/**
 * Producer thread of test/runtime/doorbell.test.ts: sends bursts of
 * sequenced messages to thread 0 through the real Transport and waits for
 * each burst's acknowledgement before the next, after a seeded pause that
 * is sometimes nothing, sometimes a turn of the event loop, sometimes a
 * busy wait of some microseconds (to land in the consumer's
 * about-to-park window), sometimes a timer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Prng } from '../../src/core/prng.js';
import { EnvelopeKind } from '../../src/runtime/envelope.js';
import { Transport, type TransportWiring } from '../../src/runtime/transport.js';

interface Setup {
  thread: number;
  wiring: TransportWiring;
  seed: number;
  bursts: number;
}

const setup = workerData as Setup;
const prng = new Prng(setup.seed);
let acked = -1;
let onAck: (() => void) | undefined;

const transport = new Transport(setup.thread, setup.wiring, {
  canAccept: () => true,
  onBatch: (_from, batch) => {
    for (const env of batch) acked = env.m as number;
    onAck?.();
  },
  onDrained: () => undefined,
  onUndeliverable: (_d, _e, reason) => {
    throw reason;
  },
  onCorruption: (err) => {
    throw err;
  },
});
transport.start();

function spin(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until);
}

async function pause(): Promise<void> {
  switch (prng.int(5)) {
    case 0:
      return;
    case 1:
      await new Promise((r) => setImmediate(r));
      return;
    case 2:
      spin(prng.range(0, 60));
      return;
    case 3:
      await new Promise((r) => setTimeout(r, 0));
      return;
    default:
      await new Promise((r) => setImmediate(r));
      spin(prng.range(0, 20));
  }
}

for (let burst = 0; burst < setup.bursts; burst++) {
  await pause();
  const size = prng.range(1, 24);
  for (let i = 0; i < size; i++) {
    if (!transport.sendParts(0, EnvelopeKind.Send, 0, 'consumer', '', [burst, i, size])) throw new Error('outbox full');
    // Sometimes flush mid-burst: several frames per burst, several doorbells.
    if (prng.chance(0.1)) transport.flush();
  }
  if (acked < burst) await new Promise<void>((resolve) => (onAck = () => acked >= burst && resolve()));
  onAck = undefined;
}
parentPort!.postMessage({ type: 'done' });
transport.stop();
