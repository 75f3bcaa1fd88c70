/**
 * The memtable's hash index (`storage/memtable_index.ts`): lookups through it
 * agree with the skip list, for keys that share long prefixes, across its
 * growth, and when hashes collide. Randomized: prints its seed, replays
 * with SEED=.
 */
import { expect } from 'chai';
import { MEMTABLE_INDEX_FIRST_SLOTS } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { dottedVersionVectorOrder } from '../../src/core/dotted_version_vector.js';
import { encodeDvv } from '../../src/core/dvv_codec.js';
import { Memtable } from '../../storage/memtable.js';
import { keyHash, MemtableIndex } from '../../storage/memtable_index.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const text = new TextEncoder();
const keyOf = (i: number): Uint8Array => text.encode(`key:${String(i).padStart(12, '0')}`);
const versionOf = (i: number) => ({ clock: encodeDvv({ dot: { actor: 'n1#epoch1', counter: i + 1, ts_ms: 0 }, past: [] }), value: text.encode(`v${i}`), ts_ms: 0 });

describe('storage/memtable_index', () => {
  it(`finds every key of a memtable whose keys share their first 12 bytes, across growth, and no other (SEED=${SEED})`, () => {
    console.log(`      memtable index SEED=${SEED}`);
    const prng = new Prng(SEED);
    const memtable = new Memtable(dottedVersionVectorOrder);
    const count = MEMTABLE_INDEX_FIRST_SLOTS * 40;
    const order = Array.from({ length: count }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = prng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const i of order) if (i % 2 === 0) memtable.put(keyOf(i), [versionOf(i)]);
    for (let i = 0; i < count; i++) {
      const got = memtable.get(keyOf(i));
      if (i % 2 === 0) expect(got?.map((v) => new TextDecoder().decode(v.value!)), `key ${i}`).to.deep.equal([`v${i}`]);
      else expect(got, `absent key ${i}`).to.equal(undefined);
    }
    // A put of a held key updates it in place (found through the index), a new one links into the skip list.
    memtable.put(keyOf(2), [versionOf(count + 2)]);
    expect(memtable.get(keyOf(2))!.length).to.be.greaterThan(0);
    memtable.put(keyOf(1), [versionOf(1)]);
    expect(memtable.entryCount).to.equal(count / 2 + 1);
    const scanned = [...memtable.scan()].map((e) => new TextDecoder().decode(e.key));
    expect(scanned).to.deep.equal([...scanned].sort());
    expect(scanned.length).to.equal(count / 2 + 1);
    // Prefixes of a held key, and keys that extend one, are other keys.
    expect(memtable.get(keyOf(4).subarray(0, 15))).to.equal(undefined);
    expect(memtable.get(new Uint8Array([...keyOf(4), 0]))).to.equal(undefined);
  });

  it('tells keys apart whose hashes collide', () => {
    const keys = new Map<number, string>();
    const index = new MemtableIndex((node, key) => keys.get(node) === new TextDecoder().decode(key));
    for (let node = 1; node <= 2000; node++) {
      keys.set(node, `k${node}`);
      index.insert(node % 3, node); // three hashes for 2,000 keys
    }
    for (let node = 1; node <= 2000; node++) expect(index.find(text.encode(`k${node}`), node % 3)).to.equal(node);
    expect(index.find(text.encode('k0'), 0)).to.equal(0);
    expect(index.capacityBytes).to.be.at.least(2000 * 2 * 8);
  });

  it('hashes keys that differ in one byte, or only in length, apart', () => {
    expect(keyHash(keyOf(1))).to.not.equal(keyHash(keyOf(2)));
    expect(keyHash(new Uint8Array([1, 2, 3]))).to.not.equal(keyHash(new Uint8Array([1, 2, 3, 0])));
    expect(keyHash(new Uint8Array(0))).to.equal(keyHash(new Uint8Array(0)));
  });
});
