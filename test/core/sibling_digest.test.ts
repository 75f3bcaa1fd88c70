/**
 * Tests of the sibling-set digest (src/core/sibling_digest.ts): equal sets
 * in any order give equal digests (property test, seeded); a tombstone
 * against a value, an empty value against a tombstone, a missing sibling, a
 * different clock or value give different digests; `ts_ms` and `purgeable`
 * are left out, as the module explains.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { AssertionError } from '../../src/core/assert.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { isSiblingDigest, siblingDigest } from '../../src/core/sibling_digest.js';
import type { Version } from '../../src/core/version.js';

const SEED = seedFrom(process.env['SEED'], Date.now());

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function version(clock: string, value: string | null, ts_ms = 1): Version {
  return { clock: bytes(clock), value: value === null ? null : bytes(value), ts_ms };
}

describe('sibling digest', () => {
  before(() => console.log(`      sibling digest SEED=${SEED}`));

  it(`is the same for the same siblings in any order (SEED=${SEED})`, () => {
    const versionArb = fc.record({
      clock: fc.uint8Array({ minLength: 1, maxLength: 24 }),
      value: fc.option(fc.uint8Array({ maxLength: 32 }), { nil: null }),
      ts_ms: fc.integer({ min: 0, max: 2 ** 40 }),
    });
    fc.assert(
      fc.property(fc.array(versionArb, { minLength: 1, maxLength: 8 }), fc.integer(), (versions, shuffleSeed) => {
        const prng = new Prng(shuffleSeed);
        const shuffled = [...versions];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = prng.int(i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const d = siblingDigest(versions);
        expect(isSiblingDigest(d)).to.equal(true);
        expect(siblingDigest(shuffled)).to.equal(d);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('tells a tombstone from a value, and an empty value from a tombstone', () => {
    expect(siblingDigest([version('c1', null)])).to.not.equal(siblingDigest([version('c1', 'v')]));
    expect(siblingDigest([version('c1', null)])).to.not.equal(siblingDigest([version('c1', '')]));
  });

  it('differs when a sibling is missing or extra, or a clock or value differs', () => {
    const a = version('c1', 'x');
    const b = version('c2', 'y');
    const both = siblingDigest([a, b]);
    expect(siblingDigest([a])).to.not.equal(both);
    expect(siblingDigest([a, b, version('c3', null)])).to.not.equal(both);
    expect(siblingDigest([a, version('c2', 'z')])).to.not.equal(both);
    expect(siblingDigest([a, version('c9', 'y')])).to.not.equal(both);
  });

  it('leaves out ts_ms and the purge mark (copies of one write that merging cannot tell apart)', () => {
    const t1 = version('c1', null, 1000);
    const t2: Version = { ...version('c1', null, 2000), purgeable: true };
    expect(siblingDigest([t1])).to.equal(siblingDigest([t2]));
  });

  it('has no digest for an empty set', () => {
    expect(() => siblingDigest([])).to.throw(AssertionError);
  });

  it('spreads over 53 bits (no collisions among 20k distinct one-version sets)', () => {
    const seen = new Set<number>();
    let high = 0;
    for (let i = 0; i < 20_000; i++) {
      const d = siblingDigest([version(`clock-${i}`, `value-${i}`)]);
      seen.add(d);
      if (d >= 2 ** 52) high++;
    }
    expect(seen.size).to.equal(20_000);
    // About half the digests use the top bit: the high word is really 21 bits.
    expect(high).to.be.within(9_000, 11_000);
  });
});
