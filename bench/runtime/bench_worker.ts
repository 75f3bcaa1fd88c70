/**
 * Worker side of the runtime benchmark. Modes:
 * - ring-producer / ring-consumer: one-way messages through the real
 *   Transport (batched msgpackr frames in an SPSC SharedArrayBuffer ring,
 *   doorbell wake-ups);
 * - pm-producer / pm-consumer: the same messages by postMessage over a
 *   MessageChannel, one message per postMessage or batched by 256.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { EnvelopeKind } from '../../src/runtime/envelope.js';
import { Transport, type TransportWiring } from '../../src/runtime/transport.js';
import { discardingSink } from './discarding_sink.js';

interface BenchSetup {
  mode: 'ring-producer' | 'ring-consumer' | 'pm-producer' | 'pm-consumer';
  count: number;
  batch: number;
  thread?: number;
  wiring?: TransportWiring;
  port?: MessagePort;
}

const setup = workerData as BenchSetup;
const parent = parentPort!;

/** A ~50-byte message, as the issue asks. */
export function sampleMessage(i: number): { type: string; key: string; seq: number; node: number; ok: boolean } {
  return { type: 'put', key: `user:${(i % 1000000).toString().padStart(6, '0')}`, seq: i, node: 3, ok: true };
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

async function ringProducer(): Promise<void> {
  const transport = new Transport(setup.thread!, setup.wiring!, discardingSink());
  transport.start(); // wakes us when the consumer frees ring space
  await waitGo();
  const start = performance.now();
  for (let i = 0; i < setup.count; ) {
    if (transport.sendParts(2, EnvelopeKind.Send, 0, 'sink', '', sampleMessage(i))) i++;
    else {
      transport.flush();
      await yieldNow();
    }
    if ((i & 4095) === 0) {
      transport.flush();
      if (transport.pendingFor(2) > 8192) await yieldNow();
    }
  }
  transport.flush();
  while (transport.pendingFor(2) > 0) {
    await yieldNow();
    transport.flush();
  }
  parent.postMessage({ type: 'sent', ms: performance.now() - start });
  transport.stop();
}

async function ringConsumer(): Promise<void> {
  let received = 0;
  let checksum = 0;
  let first = 0;
  const transport = new Transport(setup.thread!, setup.wiring!, {
    canAccept: () => true,
    onBatch: (_from, batch) => {
      if (received === 0) first = performance.now();
      for (const env of batch) checksum = (checksum + (env.m as { seq: number }).seq) % 1_000_000_007;
      received += batch.length;
      if (received >= setup.count) {
        parent.postMessage({ type: 'received', count: received, checksum, ms: performance.now() - first });
        transport.stop();
      }
    },
    onDrained: () => undefined,
    onUndeliverable: () => undefined,
    onCorruption: (err) => {
      throw err;
    },
  });
  transport.start();
  parent.postMessage({ type: 'ready' });
}

async function pmProducer(): Promise<void> {
  const port = setup.port!;
  await waitGo();
  const start = performance.now();
  if (setup.batch <= 1) {
    for (let i = 0; i < setup.count; i++) port.postMessage(sampleMessage(i));
  } else {
    for (let i = 0; i < setup.count; i += setup.batch) {
      const batch = [];
      for (let j = i; j < Math.min(setup.count, i + setup.batch); j++) batch.push(sampleMessage(j));
      port.postMessage(batch);
    }
  }
  parent.postMessage({ type: 'sent', ms: performance.now() - start });
}

function pmConsumer(): void {
  const port = setup.port!;
  let received = 0;
  let checksum = 0;
  let first = 0;
  const count = (m: { seq: number }): void => {
    checksum = (checksum + m.seq) % 1_000_000_007;
    received++;
  };
  port.on('message', (msg: { seq: number } | { seq: number }[]) => {
    if (received === 0) first = performance.now();
    if (Array.isArray(msg)) for (const m of msg) count(m);
    else count(msg);
    if (received >= setup.count) {
      parent.postMessage({ type: 'received', count: received, checksum, ms: performance.now() - first });
      port.close();
    }
  });
  parent.postMessage({ type: 'ready' });
}

function waitGo(): Promise<void> {
  return new Promise((resolve) => parent.once('message', () => resolve()));
}

switch (setup.mode) {
  case 'ring-producer':
    void ringProducer();
    break;
  case 'ring-consumer':
    void ringConsumer();
    break;
  case 'pm-producer':
    void pmProducer();
    break;
  case 'pm-consumer':
    pmConsumer();
    break;
}
