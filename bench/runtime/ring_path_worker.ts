/**
 * Worker side of bench/runtime/ring_path.ts: one thread's part in a
 * scenario, through the real Transport. Posts 'ready' once its transport
 * runs, plays its part once per 'go' (the first time to warm the JIT up),
 * and the thread that sees a phase end posts 'done'.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EnvelopeKind, type Envelope } from '../../src/runtime/envelope.js';
import { Transport, type TransportSink, type TransportWiring } from '../../src/runtime/transport.js';

interface Setup {
  mode: 'bulk-producer' | 'counter' | 'pinger' | 'ponger' | 'burst-producer';
  thread: number;
  wiring: TransportWiring;
  dest?: number;
  count?: number;
  expect?: number;
  rounds?: number;
  burst?: number;
  bursts?: number;
}

const setup = workerData as Setup;
const parent = parentPort!;

/** A ~50-byte message. */
function sample(i: number): { type: string; key: string; seq: number; node: number; ok: boolean } {
  return { type: 'put', key: `user:${(i % 1000000).toString().padStart(6, '0')}`, seq: i, node: 3, ok: true };
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Run `part` once per 'go' from the parent, one phase after another. */
function eachGo(part: () => void | Promise<void>): void {
  let chain = Promise.resolve();
  parent.on('message', (msg: string) => {
    if (msg === 'go') chain = chain.then(part);
  });
}

function start(onBatch: (from: number, batch: Envelope[]) => void): Transport {
  const sink: TransportSink = {
    canAccept: () => true,
    onBatch,
    onDrained: () => undefined,
    onUndeliverable: (_d, _e, reason) => {
      throw reason;
    },
    onCorruption: (err) => {
      throw err;
    },
  };
  const transport = new Transport(setup.thread, setup.wiring, sink);
  transport.start();
  parent.on('message', (msg: string) => {
    if (msg === 'stats') parent.postMessage({ type: 'stats', wakeups: (transport.stats as { wakeupsSent?: number }).wakeupsSent ?? NaN });
  });
  return transport;
}

/** Send `count` messages to `dest`, yielding when the outbox pushes back. */
async function sendAll(transport: Transport, dest: number, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; ) {
    if (transport.sendParts(dest, EnvelopeKind.Send, 0, 'sink', '', sample(i))) i++;
    else {
      transport.flush();
      await yieldNow();
    }
  }
}

async function main(): Promise<void> {
  const dest = setup.dest ?? 0;
  switch (setup.mode) {
    case 'bulk-producer': {
      const transport = start(() => undefined);
      parent.postMessage({ type: 'ready' });
      eachGo(async () => {
        const count = setup.count!;
        for (let i = 0; i < count; ) {
          if (transport.sendParts(dest, EnvelopeKind.Send, 0, 'sink', '', sample(i))) i++;
          else {
            transport.flush();
            await yieldNow();
          }
          if ((i & 4095) === 0) {
            transport.flush();
            if (transport.pendingFor(dest) > 8192) await yieldNow();
          }
        }
        while (transport.pendingFor(dest) > 0) {
          transport.flush();
          await yieldNow();
        }
      });
      return;
    }
    case 'counter': {
      let received = 0;
      start((_from, batch) => {
        received += batch.length;
        if (received === setup.expect) {
          received = 0;
          parent.postMessage({ type: 'done' });
        }
      });
      parent.postMessage({ type: 'ready' });
      return;
    }
    case 'ponger': {
      const transport = start((from, batch) => {
        for (const env of batch) transport.sendParts(from, EnvelopeKind.Send, 0, 'pinger', '', env.m);
      });
      parent.postMessage({ type: 'ready' });
      return;
    }
    case 'pinger': {
      const burst = setup.burst!;
      let round = 0;
      let answers = 0;
      const transport = start((_from, batch) => {
        answers += batch.length;
        if (answers < burst) return;
        answers = 0;
        round++;
        if (round === setup.rounds) parent.postMessage({ type: 'done' });
        else for (let i = 0; i < burst; i++) transport.sendParts(dest, EnvelopeKind.Send, 0, 'ponger', '', sample(i));
      });
      parent.postMessage({ type: 'ready' });
      eachGo(() => {
        round = 0;
        for (let i = 0; i < burst; i++) transport.sendParts(dest, EnvelopeKind.Send, 0, 'ponger', '', sample(i));
      });
      return;
    }
    case 'burst-producer': {
      const transport = start(() => undefined);
      parent.postMessage({ type: 'ready' });
      eachGo(async () => {
        for (let b = 0; b < setup.bursts!; b++) {
          await sendAll(transport, dest, b * setup.burst!, setup.burst!);
          await yieldNow();
        }
      });
      return;
    }
  }
}

void main();
