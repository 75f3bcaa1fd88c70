import { expect } from 'chai';
import {
  Awareness,
  confirmSuspicion,
  expectedConfirmations,
  failedProbeAwarenessDelta,
  openSuspicion,
  suspicionMinTimeoutMs,
  suspicionTimeoutMs,
} from '../../src/core/lifeguard.js';

describe('core/lifeguard', () => {
  describe('suspicionMinTimeoutMs = mult · max(1, log10(max(1, n))) · interval (hand-computed)', () => {
    const rows: ReadonlyArray<[mult: number, n: number, interval: number, expected: number, why: string]> = [
      [4, 1, 500, 2000, 'log10(1) = 0, floored to scale 1'],
      [4, 5, 500, 2000, 'log10(5) = 0.699 < 1 → scale 1'],
      [4, 10, 500, 2000, 'log10(10) = 1'],
      [4, 16, 500, 2408, 'log10(16) = 1.20412 → 4 · 1.20412 · 500 = 2408.24 → 2408'],
      [4, 100, 500, 4000, 'log10(100) = 2'],
      [4, 1000, 500, 6000, 'log10(1000) = 3'],
      [5, 100, 1000, 10000, "memberlist's LAN profile: 5 · 2 · 1 s"],
    ];
    for (const [mult, n, interval, expected, why] of rows) {
      it(`mult ${mult}, n ${n}, interval ${interval} → ${expected} ms (${why})`, () => {
        expect(suspicionMinTimeoutMs(mult, n, interval)).to.equal(expected);
      });
    }
  });

  describe('expectedConfirmations = mult − 2, or 0 when n − 2 < mult − 2', () => {
    const rows: ReadonlyArray<[mult: number, n: number, expected: number]> = [
      [4, 2, 0],
      [4, 3, 0],
      [4, 4, 2],
      [4, 64, 2],
      [5, 64, 3],
      [2, 64, 0],
    ];
    for (const [mult, n, expected] of rows) {
      it(`mult ${mult}, n ${n} → K = ${expected}`, () => expect(expectedConfirmations(mult, n)).to.equal(expected));
    }
  });

  describe('suspicionTimeoutMs = max(min, max − (max − min) · ln(C + 1) / ln(K + 1)) (hand-computed)', () => {
    const rows: ReadonlyArray<[min: number, max: number, c: number, k: number, expected: number, why: string]> = [
      [2000, 12000, 0, 3, 12000, 'no confirmation: the maximum'],
      [2000, 12000, 1, 3, 7000, 'ln 2 / ln 4 = 0.5 → 12000 − 5000'],
      [2000, 12000, 2, 3, 4075, 'ln 3 / ln 4 = 0.792481 → 12000 − 7924.81 = 4075.19'],
      [2000, 12000, 3, 3, 2000, 'all K confirmations: the minimum'],
      [2000, 12000, 5, 3, 2000, 'more than K: still the minimum'],
      [2000, 12000, 0, 0, 2000, 'K = 0: the minimum at once'],
      [2408, 14448, 0, 2, 14448, 'n = 16 defaults (mult 4, max mult 6): 6 · 2408'],
      [2408, 14448, 1, 2, 6851, 'ln 2 / ln 3 = 0.630930 → 14448 − 0.630930 · 12040 = 6851.6'],
      [2408, 14448, 2, 2, 2408, 'K = 2 reached'],
    ];
    for (const [min, max, c, k, expected, why] of rows) {
      it(`min ${min}, max ${max}, C ${c}, K ${k} → ${expected} ms (${why})`, () => {
        expect(suspicionTimeoutMs(min, max, c, k)).to.equal(expected);
      });
    }

    it('never grows as confirmations arrive', () => {
      let previous = Infinity;
      for (let c = 0; c <= 6; c++) {
        const timeout = suspicionTimeoutMs(1000, 9000, c, 5);
        expect(timeout).to.be.at.most(previous);
        previous = timeout;
      }
    });
  });

  describe('Suspicion', () => {
    it('counts only new, distinct confirmers other than the accuser, up to K, and moves the deadline earlier', () => {
      const suspicion = openSuspicion('a', 7, 1000, { min_ms: 2000, max_ms: 12000, expected: 3 });
      expect(suspicion.deadline_ms).to.equal(1000 + 12000);
      expect(confirmSuspicion(suspicion, 'a')).to.equal(false); // the accuser is not a confirmation
      expect(confirmSuspicion(suspicion, 'b')).to.equal(true);
      expect(suspicion.deadline_ms).to.equal(1000 + 7000);
      expect(confirmSuspicion(suspicion, 'b')).to.equal(false); // a repeat
      expect(confirmSuspicion(suspicion, 'c')).to.equal(true);
      expect(suspicion.deadline_ms).to.equal(1000 + 4075);
      expect(confirmSuspicion(suspicion, 'd')).to.equal(true);
      expect(suspicion.deadline_ms).to.equal(1000 + 2000);
      expect(confirmSuspicion(suspicion, 'e')).to.equal(false); // K reached: bounded
      expect(suspicion.observers).to.deep.equal(['a', 'b', 'c', 'd']);
    });
  });

  describe('Awareness (local health)', () => {
    it('scales timeouts by score + 1 and clamps the score to [0, max − 1]', () => {
      const awareness = new Awareness(8);
      expect(awareness.scaleTimeoutMs(250)).to.equal(250);
      awareness.applyDelta(3);
      expect(awareness.score()).to.equal(3);
      expect(awareness.scaleTimeoutMs(250)).to.equal(1000);
      awareness.applyDelta(100);
      expect(awareness.score()).to.equal(7);
      expect(awareness.scaleTimeoutMs(500)).to.equal(4000);
      awareness.applyDelta(-2);
      expect(awareness.score()).to.equal(5);
      awareness.applyDelta(-100);
      expect(awareness.score()).to.equal(0);
      expect(() => new Awareness(9)).to.throw(/AWARENESS_MAX_MULTIPLIER/);
    });

    it('charges a failed probe one point per missing nack, or one point without nacks', () => {
      expect(failedProbeAwarenessDelta(3, 0)).to.equal(3);
      expect(failedProbeAwarenessDelta(3, 1)).to.equal(2);
      expect(failedProbeAwarenessDelta(3, 3)).to.equal(0); // relays nacked: the target is the problem, not us
      expect(failedProbeAwarenessDelta(0, 0)).to.equal(1);
    });
  });
});
