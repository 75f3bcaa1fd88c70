/**
 * `node dist/bench/runtime/ring_path_local.js [--quick]`: the ring path's
 * own CPU per message on one thread, free of scheduling noise: messages
 * added to an Outbox, flushed into an SPSC ring, read back and decoded,
 * in bursts of 1, 16 and 256 messages per frame, with ring checksums on
 * and off in the same process (alternating, best of several repetitions);
 * then the same through a Transport's `sendParts` and `flush` (thread 0
 * writing to thread 1's ring, read back here; no doorbell rings because
 * thread 1 never parks).
 * No doorbells and no thread crossing: bench/runtime/ring_path.ts measures
 * those. A figure, not a timed test; printed only.
 */
import { RING_CAPACITY_BYTES, RING_FRAME_MAX_BYTES } from '../../src/core/limits.js';
import { BatchDecoder, BatchEncoder } from '../../src/runtime/codec.js';
import { EnvelopeKind } from '../../src/runtime/envelope.js';
import { Outbox } from '../../src/runtime/outbox.js';
import { allocateRing, SpscRing } from '../../src/runtime/ring.js';
import { allocateDoorbells, Transport } from '../../src/runtime/transport.js';
import { discardingSink } from './discarding_sink.js';

const quick = process.argv.includes('--quick');
const MESSAGES = quick ? 200_000 : 1_000_000;
const REPEATS = quick ? 3 : 7;

/** A ~50-byte message, as in the other runtime benchmarks. */
function sample(i: number): { type: string; key: string; seq: number; node: number; ok: boolean } {
  return { type: 'put', key: `user:${(i % 1000000).toString().padStart(6, '0')}`, seq: i, node: 3, ok: true };
}

/** Nanoseconds per message for `MESSAGES` messages in bursts of `burst`. */
function run(burst: number, checksums: boolean): number {
  const ring = new SpscRing(allocateRing(RING_CAPACITY_BYTES, { checksums }), 'bench', RING_FRAME_MAX_BYTES);
  const box = new Outbox(new BatchEncoder(), (_env, reason) => {
    throw reason;
  });
  const decoder = new BatchDecoder();
  const total = Math.ceil(MESSAGES / burst) * burst;
  let seen = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < total; ) {
    for (let j = 0; j < burst; j++, i++) box.add(EnvelopeKind.Send, 0, 0, 'sink', '', sample(i), ring);
    box.flush(ring);
    for (let frame = ring.read(); frame !== undefined; frame = ring.read()) seen += decoder.decode(frame).length;
  }
  const cpu = process.cpuUsage(start);
  if (seen !== total) throw new Error(`read ${seen} of ${total} messages`);
  return ((cpu.user + cpu.system) * 1000) / total;
}

/** Like `run`, through a Transport (sendParts, flush) instead of an Outbox. */
function runTransport(burst: number, checksums: boolean): number {
  const toOne = allocateRing(RING_CAPACITY_BYTES, { checksums });
  const transport = new Transport(0, { threadCount: 2, doorbells: allocateDoorbells(2), rings: [[null, toOne], [null, null]] }, discardingSink());
  const ring = new SpscRing(toOne, 'bench', RING_FRAME_MAX_BYTES);
  const decoder = new BatchDecoder();
  const total = Math.ceil(MESSAGES / burst) * burst;
  let seen = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < total; ) {
    for (let j = 0; j < burst; j++, i++) transport.sendParts(1, EnvelopeKind.Send, 0, 'sink', '', sample(i));
    transport.flush();
    for (let frame = ring.read(); frame !== undefined; frame = ring.read()) seen += decoder.decode(frame).length;
  }
  const cpu = process.cpuUsage(start);
  if (seen !== total) throw new Error(`read ${seen} of ${total} messages`);
  return ((cpu.user + cpu.system) * 1000) / total;
}

console.log('ring path, one thread', JSON.stringify({ quick, MESSAGES, REPEATS }));
for (const [path, fn] of [['outbox', run], ['transport', runTransport]] as const) {
  for (const burst of [1, 16, 256]) {
    const best = { on: Infinity, off: Infinity };
    for (let r = 0; r < REPEATS; r++) {
      best.on = Math.min(best.on, fn(burst, true));
      best.off = Math.min(best.off, fn(burst, false));
    }
    console.log(`${path.padEnd(9)} burst ${String(burst).padStart(3)}: checksums on ${best.on.toFixed(0)} ns/msg, off ${best.off.toFixed(0)} ns/msg (${(((best.on - best.off) / best.on) * 100).toFixed(1)}% less)`);
  }
}
