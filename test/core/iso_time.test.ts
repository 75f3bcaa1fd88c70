/** isoTime (src/core/iso_time.ts) agrees with Date.prototype.toISOString (fast-check; replay with SEED=). */
import { expect } from 'chai';
import fc from 'fast-check';
import { isoTime } from '../../src/core/iso_time.js';

const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : Date.now() % 2 ** 31;

describe('isoTime', () => {
  it(`matches toISOString over years -271820..275759 (SEED=${SEED})`, () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        expect(isoTime(ms)).to.equal(new Date(ms).toISOString());
      }),
      { seed: SEED, numRuns: 5000 },
    );
  });

  it('edges: the epoch, leap days, before 1970, not finite', () => {
    for (const ms of [0, -1, 951_782_400_000, 1_709_164_800_000, -62_135_596_800_000, 253_402_300_799_999]) {
      expect(isoTime(ms)).to.equal(new Date(ms).toISOString());
    }
    expect(isoTime(Number.NaN)).to.equal('NaN');
  });
});
