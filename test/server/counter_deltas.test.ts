/**
 * CounterDeltas: cumulative samples become increments; a lower value is a
 * restart (counted from 0 again); a key the table has no room for is
 * refused, not counted.
 */
import { expect } from 'chai';
import { CounterDeltas, counterIncrement } from '../../src/server/counter_deltas.js';

describe('server/counter_deltas', () => {
  it('computes the increment from the last sample (table of cases)', () => {
    const rows: ReadonlyArray<[last: number | undefined, value: number, increment: number, why: string]> = [
      [undefined, 0, 0, 'first sample of an idle counter'],
      [undefined, 7, 7, 'first sample counts in full'],
      [7, 7, 0, 'no change'],
      [7, 12, 5, 'growth'],
      [12, 3, 3, 'lower than last: the source restarted and counted 3 since'],
      [12, 0, 0, 'restarted, nothing counted yet'],
    ];
    for (const [last, value, increment, why] of rows) expect(counterIncrement(last, value), why).to.equal(increment);
    expect(() => counterIncrement(0, -1)).to.throw(/non-negative integer/);
    expect(() => counterIncrement(0, 1.5)).to.throw(/non-negative integer/);
  });

  it('keeps the last value per key, across growth and a restart', () => {
    const deltas = new CounterDeltas(8);
    const samples: ReadonlyArray<[key: string, value: number, increment: number]> = [
      ['n1 hints', 4, 4],
      ['n2 hints', 1, 1],
      ['n1 hints', 10, 6],
      ['n2 hints', 1, 0],
      ['n1 hints', 2, 2], // n1 restarted
      ['n1 hints', 5, 3],
      ['n2 hints', 9, 8], // n2 kept its last value while unsampled
    ];
    let total = 0;
    for (const [key, value, increment] of samples) {
      expect(deltas.advance(key, value), `${key} = ${value}`).to.equal(increment);
      total += increment;
    }
    // The running total equals what happened: n1 counted 10 before its restart and 5 after, n2 counted 9.
    expect(total).to.equal(10 + 5 + 9);
    expect(deltas.size).to.equal(2);
  });

  it('refuses a new key once full, and still serves the keys it holds', () => {
    const deltas = new CounterDeltas(2);
    expect(deltas.advance('a', 1)).to.equal(1);
    expect(deltas.advance('b', 2)).to.equal(2);
    expect(deltas.advance('c', 3)).to.equal(null);
    expect(deltas.size).to.equal(2);
    expect(deltas.advance('a', 4)).to.equal(3);
    expect(deltas.advance('c', 5)).to.equal(null);
  });
});
