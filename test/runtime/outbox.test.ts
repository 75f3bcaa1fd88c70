import { expect } from 'chai';
import { OUTBOUND_PENDING_MAX_MESSAGES, RING_FRAME_MAX_BYTES, RING_MESSAGE_MAX_BYTES } from '../../src/core/limits.js';
import { BatchDecoder, BatchEncoder } from '../../src/runtime/codec.js';
import { EnvelopeKind, type Envelope } from '../../src/runtime/envelope.js';
import { Reassembly } from '../../src/runtime/fragments.js';
import { Outbox } from '../../src/runtime/outbox.js';
import { allocateRing, SpscRing } from '../../src/runtime/ring.js';

function setup(ringBytes = 1 << 20) {
  const ring = new SpscRing(allocateRing(ringBytes), 'test', RING_FRAME_MAX_BYTES);
  const refused: { env: Envelope; reason: Error }[] = [];
  const box = new Outbox(new BatchEncoder(), (env, reason) => refused.push({ env, reason }));
  const decoder = new BatchDecoder();
  const joining = new Reassembly('test');
  /** Every whole message in the ring now (fragments joined as the transport joins them). */
  const readAll = (): Envelope[] => {
    const out: Envelope[] = [];
    for (let frame = ring.read(); frame !== undefined; frame = ring.read()) {
      const whole = joining.accept(frame, ring.lastFlags);
      if (whole !== null) out.push(...decoder.decode(whole));
    }
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
        expect(box.add(EnvelopeKind.Send, 0, 0, 'a', 'b', { seq: sent, pad: 'x'.repeat(300) }, ring)).to.equal(true);
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

  it('sends a batch too large for one frame as several frames, in order', () => {
    const { ring, box, readAll } = setup();
    const big = 'y'.repeat(2000); // 256 of these exceed one frame, 300 fit the ring
    for (let i = 0; i < 300; i++) box.add(EnvelopeKind.Send, 0, 0, 'a', '', { i, big }, ring);
    box.flush(ring);
    const got = readAll().map((env) => (env.m as { i: number }).i);
    expect(got).to.deep.equal(Array.from({ length: 300 }, (_, i) => i));
    expect(box.stats.frames).to.be.greaterThan(2);
  });

  it('carries a single message larger than the ring between small ones, in order, as the reader frees space', () => {
    const { ring, box, refused, readAll } = setup(512 * 1024);
    const huge = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => i % 251);
    box.add(EnvelopeKind.Send, 0, 0, 'a', '', { i: 0 }, ring);
    box.add(EnvelopeKind.Ask, 42, 0, 'a', 'me', { i: 1, huge }, ring);
    box.add(EnvelopeKind.Send, 0, 0, 'a', '', { i: 2 }, ring);
    box.flush(ring);
    expect(box.stats.stalls, 'the ring filled').to.be.greaterThan(0);
    const got: Envelope[] = [];
    for (let rounds = 0; rounds < 100 && (box.pending > 0 || ring.usedBytes() > 0); rounds++) {
      got.push(...readAll());
      box.flush(ring);
    }
    got.push(...readAll());
    expect(refused).to.deep.equal([]);
    expect(got.map((env) => (env.m as { i: number }).i)).to.deep.equal([0, 1, 2]);
    expect(got[1]!.a).to.equal(42);
    expect(Buffer.from((got[1]!.m as { huge: Uint8Array }).huge).equals(Buffer.from(huge))).to.equal(true);
  });

  it('hands a half-sent large message back whole on drain (its destination died)', () => {
    const { ring, box } = setup(512 * 1024);
    box.add(EnvelopeKind.Send, 0, 0, 'a', '', { i: 0, huge: new Uint8Array(2 * 1024 * 1024) }, ring);
    box.add(EnvelopeKind.Send, 0, 0, 'a', '', { i: 1 }, ring);
    box.flush(ring);
    expect(box.pending).to.equal(2);
    const back = box.drain();
    expect(back.map((env) => (env.m as { i: number }).i)).to.deep.equal([0, 1]);
    expect((back[0]!.m as { huge: Uint8Array }).huge.length).to.equal(2 * 1024 * 1024);
  });

  it('refuses a single message over RING_MESSAGE_MAX_BYTES with the envelope, and delivers the rest', () => {
    const { ring, box, refused, readAll } = setup();
    box.add(EnvelopeKind.Send, 0, 0, 'a', '', { i: 0 }, ring);
    box.add(EnvelopeKind.Ask, 42, 0, 'a', 'me', { huge: new Uint8Array(RING_MESSAGE_MAX_BYTES + 10) }, ring);
    box.add(EnvelopeKind.Send, 0, 0, 'a', '', { i: 2 }, ring);
    box.flush(ring);
    expect(refused.length).to.equal(1);
    expect(refused[0]!.env.a).to.equal(42);
    expect(refused[0]!.env.k).to.equal(EnvelopeKind.Ask);
    expect(refused[0]!.reason.message).to.match(/over the \d+-byte limit of one message between threads \(RING_MESSAGE_MAX_BYTES\)/);
    expect(readAll().map((env) => (env.m as { i: number }).i)).to.deep.equal([0, 2]);
  });

  it('turns an answer over RING_MESSAGE_MAX_BYTES into an error answer to the same ask', () => {
    const { ring, box, refused, readAll } = setup();
    box.add(EnvelopeKind.Reply, 7, 0, '', '', { huge: new Uint8Array(RING_MESSAGE_MAX_BYTES + 10) }, ring);
    box.flush(ring);
    expect(refused).to.deep.equal([]);
    const [answer] = readAll();
    expect(answer!.k).to.equal(EnvelopeKind.ReplyError);
    expect(answer!.a).to.equal(7);
    expect((answer!.m as { code: string; message: string }).code).to.equal('INVALID_REQUEST');
    expect((answer!.m as { message: string }).message).to.match(/an answer of \d+ bytes is over/);
  });

  it('pushes back at its bound and hands everything back on drain, in order', () => {
    const { ring, box } = setup(512 * 1024);
    let accepted = 0;
    for (let i = 0; i < 10 * OUTBOUND_PENDING_MAX_MESSAGES; i++) {
      if (box.add(EnvelopeKind.Send, 0, 0, 'a', '', { i, pad: 'p'.repeat(40) }, ring)) accepted++;
      else break;
    }
    const inRing = box.stats.messages;
    expect(accepted - inRing).to.equal(OUTBOUND_PENDING_MAX_MESSAGES);
    const back = box.drain();
    expect(back.map((env) => (env.m as { i: number }).i)).to.deep.equal(Array.from({ length: OUTBOUND_PENDING_MAX_MESSAGES }, (_, i) => inRing + i));
    expect(box.pending).to.equal(0);
  });
});
