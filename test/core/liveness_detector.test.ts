/**
 * LivenessDetector.phiValues: the phi of each member known, as its
 * phi-accrual detector computes it from the same arrivals; only in the modes
 * that run phi; finite (capped at PHI_REPORTED_MAX); members that left are
 * not rated.
 */
import { expect } from 'chai';
import { PHI_REPORTED_MAX } from '../../src/core/limits.js';
import { LivenessDetector, type DetectorMode } from '../../src/core/liveness_detector.js';
import type { MemberEntry } from '../../src/core/membership.js';
import { PhiAccrualDetector } from '../../src/core/phi_accrual.js';

/** Never called by the phi and heartbeat modes; fixed so a SWIM mode stays deterministic. */
const random = (): number => 0.5;

function entry(id: string, heartbeat: number, status: MemberEntry['status'] = 'alive'): MemberEntry {
  return { id, address: { thread: Number(id.slice(1)) }, data_center: 'dc1', rack: id, heartbeat, incarnation: 0, status, tokens: [] };
}

/** A detector of n1 in `mode` that heard n2 every 500 ms and n3 every 800 ms until t = 8 s. */
function fedDetector(mode: DetectorMode): LivenessDetector {
  const detector = new LivenessDetector({ self: 'n1', mode, heartbeat_timeout_ms: 2_000 });
  for (let t = 0; t <= 8_000; t += 100) {
    const entries: MemberEntry[] = [];
    if (t % 500 === 0) entries.push(entry('n2', t / 500));
    if (t % 800 === 0) entries.push(entry('n3', t / 800));
    if (entries.length > 0) detector.step({ type: 'members', entries }, t, random);
  }
  return detector;
}

/** What a phi-accrual detector with default tunables says at `now_ms` after arrivals every `period_ms` until 8 s. */
function expectedPhi(period_ms: number, now_ms: number): number {
  const phi = new PhiAccrualDetector();
  for (let t = 0; t <= 8_000; t += period_ms) phi.heartbeat(t);
  return phi.phi(now_ms);
}

describe('core/liveness_detector phiValues', () => {
  for (const mode of ['phi', 'combined'] as const) {
    it(`${mode}: rates every member known with its own phi-accrual detector`, () => {
      const detector = fedDetector(mode);
      for (const now_ms of [8_000, 8_300, 9_200]) {
        const values = detector.phiValues(now_ms);
        expect(Object.keys(values).sort()).to.deep.equal(['n2', 'n3']);
        expect(values['n2'], `n2 at ${now_ms}`).to.be.closeTo(expectedPhi(500, now_ms), 1e-9);
        expect(values['n3'], `n3 at ${now_ms}`).to.be.closeTo(expectedPhi(800, now_ms), 1e-9);
      }
      // Silence raises phi: n2, 1.2 s silent at a 500 ms period, is rated above n3, 1.2 s silent at 800 ms.
      const later = detector.phiValues(9_200);
      expect(later['n2']).to.be.greaterThan(later['n3']!);
      expect(later['n2']).to.be.greaterThan(detector.phiValues(8_300)['n2']!);
    });
  }

  for (const mode of ['heartbeat', 'swim', 'swim+lifeguard'] as const) {
    it(`${mode}: runs no phi, so rates nobody`, () => {
      expect(fedDetector(mode).phiValues(9_000)).to.deep.equal({});
    });
  }

  it('caps an overflowing or infinite phi at PHI_REPORTED_MAX', () => {
    const detector = fedDetector('phi');
    const week = detector.phiValues(8_000 + 7 * 24 * 3600 * 1000);
    expect(week['n2']).to.equal(PHI_REPORTED_MAX);
    // So far in the future that the normal tail underflows and phiOf itself overflows to Infinity.
    expect(expectedPhi(500, 1e200)).to.equal(Infinity);
    const never = detector.phiValues(1e200);
    expect(never['n2']).to.equal(PHI_REPORTED_MAX);
    expect(Object.values(never).every(Number.isFinite)).to.equal(true);
  });

  it('does not rate a member that left', () => {
    const detector = fedDetector('phi');
    detector.step({ type: 'members', entries: [entry('n3', 11, 'left')] }, 8_100, random);
    expect(Object.keys(detector.phiValues(8_200))).to.deep.equal(['n2']);
  });
});
