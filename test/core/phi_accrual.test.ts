import { expect } from 'chai';
import fc from 'fast-check';
import { PhiAccrualDetector, PHI_DEFAULTS, phiOf } from '../../src/core/phi_accrual.js';
import { PHI_WINDOW_MAX_INTERVALS } from '../../src/core/limits.js';

/*
 * Hand computation of phi (Akka's logistic approximation):
 *   y = (elapsed − mean) / std,  z = y · (1.5976 + 0.070566 · y²),  e = exp(−z)
 *   elapsed > mean:  phi = −log10(e / (1 + e)) = z / ln 10 + log10(1 + e)
 *   elapsed ≤ mean:  phi = −log10(1 − 1 / (1 + e)) = log10(1 + e) − log10(e) with e = exp(−z), z ≤ 0
 *
 *   y = 0: e = 1                                 → phi = log10 2                       = 0.30103
 *   y = 1: z = 1.5976 + 0.070566     = 1.668166  → 1.668166 / 2.302585 = 0.724474; e = 0.188593,
 *          log10(1.188593) = 0.075036            → phi = 0.79951
 *   y = 2: z = 2 · (1.5976 + 0.282264) = 3.759728 → 1.632832; e = 0.023290, log10(1.023290) = 0.009999
 *                                                → phi = 1.64283
 *   y = 3: z = 3 · (1.5976 + 0.635094) = 6.698082 → 2.908936; e = 0.001233, log10(1.001233) = 0.000535
 *                                                → phi = 2.90948
 *   y = 4: z = 4 · (1.5976 + 1.129056) = 10.906624 → 4.736686; e = 1.83e-5, log10(1 + e) = 0.000008
 *                                                → phi = 4.73669
 *   y = 5: z = 5 · (1.5976 + 1.76415)  = 16.80875 → 7.299947; e ≈ 5e-8 (negligible) → phi = 7.29995
 *   y = 6: z = 6 · (1.5976 + 2.540376) = 24.827856 → 10.78258                         → phi = 10.78258
 *   y = −2: z = −3.759728, e = exp(3.759728) = 42.9366; 1 − 1/43.9366 = 0.977240
 *                                                → phi = −log10(0.977240) = 0.00999876
 */
const TABLE: ReadonlyArray<{ elapsed: number; mean: number; std: number; phi: number; why: string }> = [
  { elapsed: 1000, mean: 1000, std: 100, phi: 0.30103, why: 'y = 0: on time, a coin flip' },
  { elapsed: 1100, mean: 1000, std: 100, phi: 0.79951, why: 'y = 1' },
  { elapsed: 1200, mean: 1000, std: 100, phi: 1.64283, why: 'y = 2' },
  { elapsed: 1300, mean: 1000, std: 100, phi: 2.90948, why: 'y = 3' },
  { elapsed: 1400, mean: 1000, std: 100, phi: 4.73669, why: 'y = 4' },
  { elapsed: 1500, mean: 1000, std: 100, phi: 7.29995, why: 'y = 5: still under the default threshold 8' },
  { elapsed: 1600, mean: 1000, std: 100, phi: 10.78258, why: 'y = 6: over the threshold' },
  { elapsed: 800, mean: 1000, std: 100, phi: 0.00999876, why: 'y = −2: early, almost no suspicion' },
  { elapsed: 2000, mean: 1000, std: 250, phi: 4.73669, why: 'y = 4 with a wider deviation' },
];

describe('core/phi_accrual', () => {
  describe('phiOf (hand-computed table)', () => {
    for (const row of TABLE) {
      it(`elapsed ${row.elapsed}, N(${row.mean}, ${row.std}) → ${row.phi} (${row.why})`, () => {
        expect(phiOf(row.elapsed, row.mean, row.std)).to.be.closeTo(row.phi, 1e-4);
      });
    }

    it('stays finite far past the mean (no underflow to Infinity)', () => {
      // y = 100: z = 100 · (1.5976 + 0.070566 · 10⁴) = 100 · 707.2576 = 70725.76, phi = z / ln 10 = 30715.81.
      expect(phiOf(11_000, 1000, 100)).to.be.closeTo(30715.807, 1e-3);
    });

    it('is monotonic in elapsed time (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 2000 }), (a, b, std) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          return phiOf(lo, 1000, std) <= phiOf(hi, 1000, std) + 1e-12;
        }),
      );
    });
  });

  describe('PhiAccrualDetector', () => {
    it('is 0 before any heartbeat, and the first heartbeat seeds mean ± mean/4 around the estimate', () => {
      const detector = new PhiAccrualDetector();
      expect(detector.phi(123_456)).to.equal(0);
      detector.heartbeat(10_000);
      // History [750, 1250]: mean 1000, population std sqrt(((−250)² + 250²) / 2) = 250.
      expect(detector.sampleCount()).to.equal(2);
      expect(detector.meanMs()).to.equal(1000);
      expect(detector.stdDevMs()).to.equal(250);
      expect(detector.phi(11_000)).to.be.closeTo(0.30103, 1e-4); // y = 0
      expect(detector.phi(12_000)).to.be.closeTo(4.73669, 1e-4); // y = (2000 − 1000) / 250 = 4
    });

    it('keeps mean and deviation incrementally over a bounded window, evicting the oldest', () => {
      const detector = new PhiAccrualDetector({ window_intervals: 4 });
      let t = 0;
      detector.heartbeat(t);
      for (let i = 0; i < 3; i++) detector.heartbeat((t += 1000));
      // Window holds [1250, 1000, 1000, 1000] (750 evicted): mean 1062.5,
      // variance (187.5² + 3 · 62.5²) / 4 = (35156.25 + 11718.75) / 4 = 11718.75, std 108.253.
      expect(detector.sampleCount()).to.equal(4);
      expect(detector.meanMs()).to.equal(1062.5);
      expect(detector.stdDevMs()).to.be.closeTo(108.253, 1e-3);
      detector.heartbeat((t += 1000));
      // [1000 × 4]: std 0, floored to min_std_dev 100; 1200 ms late is y = 2.
      expect(detector.meanMs()).to.equal(1000);
      expect(detector.stdDevMs()).to.equal(0);
      expect(detector.phi(t + 1200)).to.be.closeTo(1.64283, 1e-4);
      expect(detector.isAvailable(t + 1500)).to.equal(true); // phi 7.30 < 8
      expect(detector.isAvailable(t + 1600)).to.equal(false); // phi 10.78 ≥ 8
    });

    it('matches a batch computation of mean and deviation after many random intervals (property)', () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 80 }), fc.integer({ min: 2, max: 16 }), (gaps, window) => {
          // A huge threshold so no interval is skipped as "after a failure".
          const detector = new PhiAccrualDetector({ window_intervals: window, threshold: Infinity });
          let t = 0;
          detector.heartbeat(t);
          for (const gap of gaps) detector.heartbeat((t += gap));
          const kept = [750, 1250, ...gaps].slice(-window);
          const mean = kept.reduce((a, b) => a + b, 0) / kept.length;
          const variance = kept.reduce((a, b) => a + (b - mean) ** 2, 0) / kept.length;
          expect(detector.sampleCount()).to.equal(kept.length);
          expect(detector.meanMs()).to.be.closeTo(mean, 1e-6);
          expect(detector.stdDevMs()).to.be.closeTo(Math.sqrt(variance), 1e-3);
        }),
      );
    });

    it('adds the acceptable pause to the expected interval', () => {
      const detector = new PhiAccrualDetector({ window_intervals: 2, acceptable_pause_ms: 500 });
      detector.heartbeat(0);
      detector.heartbeat(1000);
      detector.heartbeat(2000); // [1000, 1000]: mean 1000, std floor 100
      expect(detector.phi(2000 + 1500)).to.be.closeTo(0.30103, 1e-4); // y = (1500 − 1500) / 100 = 0
      expect(detector.phi(2000 + 1700)).to.be.closeTo(1.64283, 1e-4); // y = 2
    });

    it('does not record the first interval after the peer was suspected (a long outage would skew the history)', () => {
      const detector = new PhiAccrualDetector({ window_intervals: 2 });
      detector.heartbeat(0);
      detector.heartbeat(1000);
      detector.heartbeat(2000);
      detector.heartbeat(9000); // 7 s gap: phi far over 8 at arrival
      expect(detector.meanMs()).to.equal(1000);
      expect(detector.phi(9000 + 1000)).to.be.closeTo(0.30103, 1e-4);
      detector.heartbeat(10_100); // back to normal: recorded
      expect(detector.meanMs()).to.equal(1050);
    });

    it('uses Akka defaults: threshold 8, window 1000, min std dev 100 ms', () => {
      expect(PHI_DEFAULTS.threshold).to.equal(8);
      expect(PHI_DEFAULTS.window_intervals).to.equal(PHI_WINDOW_MAX_INTERVALS).and.equal(1000);
      expect(PHI_DEFAULTS.min_std_dev_ms).to.equal(100);
      expect(() => new PhiAccrualDetector({ window_intervals: PHI_WINDOW_MAX_INTERVALS + 1 })).to.throw(/PHI_WINDOW_MAX_INTERVALS/);
    });
  });
});
