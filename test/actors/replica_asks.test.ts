/** A replica ask's deadline grows with the values it carries (large values on a busy machine), and only from 1 MiB. */
import { expect } from 'chai';
import { askTimeoutMs, valueBytes } from '../../actors/replica_asks.js';
import { REPLICA_ASK_MS_PER_MIB } from '../../src/core/limits.js';

describe('replica ask deadlines', () => {
  it('values under 1 MiB keep the base deadline (the simulator\'s timings do not move); each whole MiB adds REPLICA_ASK_MS_PER_MIB', () => {
    expect(askTimeoutMs(1000, 0)).to.equal(1000);
    expect(askTimeoutMs(1000, 1024 * 1024 - 1)).to.equal(1000);
    expect(askTimeoutMs(1000, 4 * 1024 * 1024)).to.equal(1000 + 4 * REPLICA_ASK_MS_PER_MIB);
  });

  it('counts value bytes of siblings, tombstones none', () => {
    const v = (value: Uint8Array | null) => ({ value, clock: new Uint8Array(0), ts_ms: 0 }) as never;
    expect(valueBytes([v(new Uint8Array(10)), v(null), v(new Uint8Array(5))])).to.equal(15);
  });
});
