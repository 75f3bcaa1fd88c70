/**
 * The commit-log mutation codec: every field round-trips, the purgeable flag
 * of a confirmed tombstone (issue 12) included, and a record with a flag bit
 * this reader does not know, or a purgeable value, is refused as corruption.
 */
import { expect } from 'chai';
import { AssertionError } from '../../src/core/assert.js';
import { CorruptionError } from '../../src/core/errors.js';
import { encodeClock, increment } from '../../src/core/vector_clock.js';
import { decodeMutation, encodeMutation } from '../../storage/mutation.js';
import type { Version } from '../../storage/version.js';

const key = new TextEncoder().encode('user:1');
const clock = encodeClock(increment([], 'node-a', 5));
/** Where the flags byte of a mutation of `key` and `clock` sits. */
const FLAGS_AT = 2 + key.length + 2 + clock.length;

describe('storage/mutation', () => {
  it('round-trips values, tombstones and purgeable tombstones', () => {
    const versions: Version[] = [
      { clock, value: new Uint8Array([1, 2, 3]), ts_ms: 1_234.5 },
      { clock, value: new Uint8Array(0), ts_ms: 7 },
      { clock, value: null, ts_ms: 8 },
      { clock, value: null, ts_ms: 9, purgeable: true },
    ];
    for (const version of versions) {
      const encoded = encodeMutation(key, version);
      expect(encoded[FLAGS_AT]).to.equal((version.value === null ? 1 : 0) | (version.purgeable ? 2 : 0));
      expect(decodeMutation(encoded, 'test')).to.deep.equal({ key, version });
    }
  });

  it('refuses unknown flag bits and a purgeable value as corruption; never encodes a purgeable value', () => {
    const tombstone = encodeMutation(key, { clock, value: null, ts_ms: 1 });
    tombstone[FLAGS_AT] = 1 | 4;
    expect(() => decodeMutation(tombstone, 'test')).to.throw(CorruptionError, /unknown flags/);
    const value = encodeMutation(key, { clock, value: new Uint8Array([9]), ts_ms: 1 });
    value[FLAGS_AT] = 2;
    expect(() => decodeMutation(value, 'test')).to.throw(CorruptionError, /purgeable value/);
    expect(() => encodeMutation(key, { clock, value: new Uint8Array([9]), ts_ms: 1, purgeable: true })).to.throw(AssertionError);
  });
});
