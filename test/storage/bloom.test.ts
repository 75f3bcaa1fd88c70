import { expect } from 'chai';
import { CorruptionError } from '../../src/core/errors.js';
import { hashPair } from '../../src/core/hash.js';
import { BLOOM_BITS_PER_KEY_MAX, BLOOM_FP_RATE_DEFAULT } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { BloomFilter, bloomParameters } from '../../storage/bloom.js';

/** Distinct keys: a 4-byte counter with a tag byte, plus random bytes so layouts vary by seed. */
function makeKeys(prng: Prng, count: number, tag: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const key = prng.fill(new Uint8Array(5 + prng.int(12)));
    key[0] = tag;
    new DataView(key.buffer).setUint32(1, i);
    return key;
  });
}

/** Measured false-positive rate of a filter over `present` keys, probed with `absent` ones. */
function measure(fpRate: number, present: Uint8Array[], absent: Uint8Array[]): number {
  const filter = BloomFilter.forKeys(present.length, fpRate);
  for (const key of present) filter.add(key);
  for (const key of present) expect(filter.mayContain(key), 'no false negatives').to.equal(true);
  let falsePositives = 0;
  for (const key of absent) if (filter.mayContain(key)) falsePositives += 1;
  return falsePositives / absent.length;
}

describe('storage/bloom', () => {
  const seed = seedFrom(process.env['SEED'], Date.now());
  const prng = new Prng(seed);
  const present = makeKeys(prng, 100_000, 1);
  const absent = makeKeys(prng, 100_000, 2);

  it('derives ~9.6 bits per key and 7 probes from 1%', () => {
    const { bitsPerKey, probes } = bloomParameters(0.01);
    expect(bitsPerKey).to.be.closeTo(9.585, 0.01);
    expect(probes).to.equal(7);
    expect(bloomParameters(1e-12).bitsPerKey).to.equal(BLOOM_BITS_PER_KEY_MAX);
  });

  for (const fpRate of [BLOOM_FP_RATE_DEFAULT, 0.001, 0.05]) {
    it(`has no false negatives and a measured false-positive rate within 1.5x of ${fpRate} on 100k keys`, () => {
      console.log(`      bloom SEED=${seed}`);
      const measured = measure(fpRate, present, absent);
      console.log(`      configured ${fpRate}, measured ${measured.toFixed(5)} (${(measured / fpRate).toFixed(2)}x)`);
      expect(measured).to.be.at.most(fpRate * 1.5);
      // A filter that always said "maybe" would fail above; one that said "no" fails the false-negative check.
    });
  }

  it('answers the same with a precomputed hash pair as with the key', () => {
    const filter = BloomFilter.forKeys(1000);
    for (const key of present.slice(0, 1000)) filter.addHash(hashPair(key));
    for (const key of [...present.slice(0, 1000), ...absent.slice(0, 1000)]) {
      expect(filter.mayContainHash(hashPair(key))).to.equal(filter.mayContain(key));
    }
    for (const key of present.slice(0, 1000)) expect(filter.mayContain(key)).to.equal(true);
  });

  it('round-trips through serialize/deserialize', () => {
    const filter = BloomFilter.forKeys(5000);
    for (const key of present.slice(0, 5000)) filter.add(key);
    const copy = BloomFilter.deserialize(filter.serialize());
    expect(copy.bitCount).to.equal(filter.bitCount);
    expect(copy.probes).to.equal(filter.probes);
    for (const key of [...present.slice(0, 5000), ...absent.slice(0, 5000)]) {
      expect(copy.mayContain(key)).to.equal(filter.mayContain(key));
    }
  });

  it('rejects a malformed serialization as corruption', () => {
    const bytes = BloomFilter.forKeys(100).serialize();
    expect(() => BloomFilter.deserialize(bytes.subarray(0, 3), 'f')).to.throw(CorruptionError);
    expect(() => BloomFilter.deserialize(bytes.subarray(0, bytes.length - 1), 'f')).to.throw(CorruptionError);
    const badProbes = bytes.slice();
    badProbes[0] = 0;
    expect(() => BloomFilter.deserialize(badProbes, 'f')).to.throw(CorruptionError);
  });
});
