import { expect } from 'chai';
import { CorruptionError } from '../../src/core/errors.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { allocateRing, frameBytes, RING_CHECKSUMS_ENV, SpscRing } from '../../src/runtime/ring.js';

const SEED = seedFrom(process.env['SEED'], Date.now());

function payloadOf(size: number, tag: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (tag * 31 + i * 7) & 0xff;
  return out;
}

describe('runtime/ring', () => {
  for (const checksums of [true, false]) {
    describe(`checksums ${checksums ? 'on' : 'off'}`, () => {
    it('round-trips frames across the wrap-around at every 8-byte offset', () => {
      const capacity = 256;
      const ring = new SpscRing(allocateRing(capacity, { checksums }), 'test', 96);
      for (let start = 0; start < capacity; start += 8) {
        ring.setIndexesForTest(start);
        for (const size of [1, 7, 8, 9, 40, 88]) {
          const sent = payloadOf(size, start + size);
          expect(ring.tryWrite(sent), `write ${size} at ${start}`).to.equal(true);
          const got = ring.read();
          expect(got, `read ${size} at ${start}`).to.not.equal(undefined);
          expect(Array.from(got!)).to.deep.equal(Array.from(sent));
          expect(ring.read()).to.equal(undefined);
        }
      }
    });

    it('keeps working when the byte counters wrap past 2^32', () => {
      const ring = new SpscRing(allocateRing(128, { checksums }), 'test', 64);
      ring.setIndexesForTest(0xffffffc0 | 0);
      for (let i = 0; i < 20; i++) {
        const sent = payloadOf(1 + (i % 50), i);
        expect(ring.tryWrite(sent)).to.equal(true);
        expect(Array.from(ring.read()!)).to.deep.equal(Array.from(sent));
      }
    });

    it('pushes back when full, without losing or overwriting frames', () => {
      const ring = new SpscRing(allocateRing(256, { checksums }), 'test', 64);
      const sent: Uint8Array[] = [];
      for (let i = 0; ; i++) {
        const p = payloadOf(24, i);
        if (!ring.tryWrite(p)) break;
        sent.push(p);
      }
      expect(sent.length).to.equal(Math.floor(256 / frameBytes(24)));
      expect(ring.producerWaiting()).to.equal(true);
      expect(ring.usedBytes()).to.be.at.most(256);
      expect(Array.from(ring.read()!)).to.deep.equal(Array.from(sent[0]!));
      expect(ring.takeProducerWaiting()).to.equal(true);
      expect(ring.tryWrite(payloadOf(24, 999))).to.equal(true);
      for (let i = 1; i < sent.length; i++) expect(Array.from(ring.read()!)).to.deep.equal(Array.from(sent[i]!));
      expect(Array.from(ring.read()!)).to.deep.equal(Array.from(payloadOf(24, 999)));
      expect(ring.read()).to.equal(undefined);
    });

    it(`keeps FIFO order for random frame sizes and interleavings (SEED=${SEED})`, () => {
      console.log(`      ring fuzz SEED=${SEED} checksums=${checksums}`);
      const prng = new Prng(SEED);
      const ring = new SpscRing(allocateRing(1024, { checksums }), 'test', 300);
      const inFlight: Uint8Array[] = [];
      let written = 0;
      let readCount = 0;
      for (let step = 0; step < 20000; step++) {
        if (prng.chance(0.55)) {
          const p = prng.fill(new Uint8Array(prng.range(1, 300)));
          if (ring.tryWrite(p)) {
            inFlight.push(p);
            written++;
          } else {
            expect(ring.usedBytes() + frameBytes(p.length), 'refused only when it does not fit').to.be.greaterThan(1024);
          }
        } else {
          const got = ring.read();
          const want = inFlight.shift();
          if (want === undefined) expect(got).to.equal(undefined);
          else {
            expect(got, `frame ${readCount}`).to.not.equal(undefined);
            expect(Buffer.compare(Buffer.from(got!), Buffer.from(want)), `frame ${readCount} content`).to.equal(0);
            readCount++;
          }
        }
      }
      expect(written).to.be.greaterThan(5000);
    });
    });
  }

  it('with checksums on, detects a flipped payload bit as corruption and never decodes the frame', () => {
    for (let bit = 0; bit < 8 * 40; bit++) {
      const ring = new SpscRing(allocateRing(256, { checksums: true }), 'ring t1->t2', 64);
      ring.setIndexesForTest(232); // the payload wraps around the end
      ring.tryWrite(payloadOf(40, 3));
      ring.corruptBitForTest(232 + 8 + (bit >> 3), bit & 7);
      expect(() => ring.read(), `bit ${bit}`).to.throw(CorruptionError, /ring t1->t2/);
      expect(ring.read(), 'ring discarded after corruption').to.equal(undefined);
    }
  });

  for (const checksums of [true, false]) {
    it(`detects a corrupted frame header (checksums ${checksums ? 'on' : 'off'})`, () => {
      for (let bit = 0; bit < 64; bit++) {
        const ring = new SpscRing(allocateRing(256, { checksums }), 'test', 64);
        ring.tryWrite(payloadOf(20, 1));
        ring.corruptBitForTest(bit >> 3, bit & 7);
        expect(() => ring.read(), `header bit ${bit}`).to.throw(CorruptionError);
        expect(ring.read(), 'ring discarded after corruption').to.equal(undefined);
      }
    });
  }

  it('without checksums, carries the payload bytes as written (a flipped payload bit is not looked for)', () => {
    const ring = new SpscRing(allocateRing(256, { checksums: false }), 'test', 64);
    expect(ring.checksums).to.equal(false);
    ring.setIndexesForTest(232);
    ring.tryWrite(payloadOf(40, 3));
    ring.corruptBitForTest(232 + 8 + 5, 2);
    const expected = payloadOf(40, 3);
    expected[5] = expected[5]! ^ 4;
    expect(Array.from(ring.read()!)).to.deep.equal(Array.from(expected));
  });

  it(`takes its default from ${RING_CHECKSUMS_ENV}, and both ends read the choice from the ring`, () => {
    const before = process.env[RING_CHECKSUMS_ENV];
    try {
      delete process.env[RING_CHECKSUMS_ENV];
      expect(new SpscRing(allocateRing(256), 'test', 64).checksums).to.equal(false);
      process.env[RING_CHECKSUMS_ENV] = '1';
      const buffer = allocateRing(256);
      delete process.env[RING_CHECKSUMS_ENV];
      const producer = new SpscRing(buffer, 'producer', 64);
      const consumer = new SpscRing(buffer, 'consumer', 64);
      expect([producer.checksums, consumer.checksums]).to.deep.equal([true, true]);
      expect(new SpscRing(allocateRing(256, { checksums: false }), 'test', 64).checksums).to.equal(false);
    } finally {
      if (before === undefined) delete process.env[RING_CHECKSUMS_ENV];
      else process.env[RING_CHECKSUMS_ENV] = before;
    }
  });
});
