import { expect } from 'chai';
import { OUTBOUND_PENDING_MAX_MESSAGES, RING_FRAME_MAX_BYTES } from '../../src/core/limits.js';
import { BatchDecoder, BatchEncoder } from '../../src/runtime/codec.js';
import { EnvelopeKind, type Envelope } from '../../src/runtime/envelope.js';
import { Outbox } from '../../src/runtime/outbox.js';
import { allocateRing, SpscRing } from '../../src/runtime/ring.js';

function setup(ringBytes = 1 << 20) {
  const ring = new SpscRing(allocateRing(ringBytes), 'test', RING_FRAME_MAX_BYTES);
  const refused: { env: Envelope; reason: Error }[] = [];
  const box = new Outbox(new BatchEncoder(), 1, (env, reason) => refused.push({ env, reason }));
  const decoder = new BatchDecoder();
  const readAll = (): Envelope[] => {
    const out: Envelope[] = [];
    for (let frame = ring.read(); frame !== undefined; frame = ring.read()) out.push(...decoder.decode(frame, 1));
    return out;
  };
  return { ring, box, refused, readAll };
}

describe('runtime/outbox', () => {
  it('keeps order when the ring fills and drains in between', () => {
    const { ring, box, readAll } = setup(512 * 1024);
    const got: number[] = [];
    let sent = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 1500; i++) {
        expect(box.add(EnvelopeKind.Send, 0, 'a', 'b', { seq: sent, pad: 'x'.repeat(300) }, ring)).to.equal(true);
        sent++;
      }
      box.flush(ring);
      if (round % 2 === 1) for (const env of readAll()) got.push((env.m as { seq: number }).seq);
    }
    for (let i = 0; i < 50 && box.pending > 0; i++) {
      for (const env of readAll()) got.push((env.m as { seq: number }).seq);
      box.flush(ring);
    }
    for (const env of readAll()) got.push((env.m as { seq: number }).seq);
    expect(box.pending).to.equal(0);
    expect(box.stats.stalls, 'the ring did fill').to.be.greaterThan(0);
    expect(got).to.deep.equal(Array.from({ length: sent }, (_, i) => i));
  });

  it('splits a batch too large for one frame, in order', () => {
    const { ring, box, readAll } = setup();
    const big = 'y'.repeat(2000); // 256 of these exceed one frame, 300 fit the ring
    for (let i = 0; i < 300; i++) box.add(EnvelopeKind.Send, 0, 'a', '', { i, big }, ring);
    box.flush(ring);
    const got = readAll().map((env) => (env.m as { i: number }).i);
    expect(got).to.deep.equal(Array.from({ length: 300 }, (_, i) => i));
    expect(box.stats.frames).to.be.greaterThan(2);
  });

  it('refuses a single message larger than a frame, with the envelope, and delivers the rest', () => {
    const { ring, box, refused, readAll } = setup();
    box.add(EnvelopeKind.Send, 0, 'a', '', { i: 0 }, ring);
    box.add(EnvelopeKind.Ask, 42, 'a', 'me', { huge: 'z'.repeat(RING_FRAME_MAX_BYTES + 10) }, ring);
    box.add(EnvelopeKind.Send, 0, 'a', '', { i: 2 }, ring);
    box.flush(ring);
    expect(refused.length).to.equal(1);
    expect(refused[0]!.env.a).to.equal(42);
    expect(refused[0]!.env.k).to.equal(EnvelopeKind.Ask);
    expect(refused[0]!.reason.message).to.match(/exceeds the ring frame limit/);
    expect(readAll().map((env) => (env.m as { i: number }).i)).to.deep.equal([0, 2]);
  });

  it('pushes back at its bound and hands everything back on drain, in order', () => {
    const { ring, box } = setup(512 * 1024);
    let accepted = 0;
    for (let i = 0; i < 10 * OUTBOUND_PENDING_MAX_MESSAGES; i++) {
      if (box.add(EnvelopeKind.Send, 0, 'a', '', { i, pad: 'p'.repeat(40) }, ring)) accepted++;
      else break;
    }
    const inRing = box.stats.messages;
    expect(accepted - inRing).to.equal(OUTBOUND_PENDING_MAX_MESSAGES);
    const back = box.drain();
    expect(back.map((env) => (env.m as { i: number }).i)).to.deep.equal(Array.from({ length: OUTBOUND_PENDING_MAX_MESSAGES }, (_, i) => inRing + i));
    expect(box.pending).to.equal(0);
  });
});
