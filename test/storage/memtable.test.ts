import { expect } from 'chai';
import fc from 'fast-check';
import { AssertionError } from '../../src/core/assert.js';
import { InvalidRequestError } from '../../src/core/errors.js';
import { SIBLINGS_MAX } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { compare as compareClocks, encodeClock, increment, merge, decodeClock, vectorClockOrder, type VectorClock } from '../../src/core/vector_clock.js';
import { compareKeys, keyPrefix } from '../../storage/key_order.js';
import { Memtable } from '../../storage/memtable.js';
import type { Version } from '../../storage/version.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const versionId = (v: Version): string => `${hex(v.clock)}/${v.value === null ? 'tomb' : hex(v.value)}/${v.ts_ms}`;

/**
 * The model: every version ever written per key, in write order. The versions
 * a key should hold are those no other written version dominates, one per
 * clock (the first written), which is what incremental reconciliation must
 * converge to because domination is transitive.
 */
function expectedVersions(history: readonly Version[]): string[] {
  const kept: string[] = [];
  const clocks = history.map((v) => decodedClock(v.clock));
  history.forEach((v, i) => {
    for (let j = 0; j < history.length; j++) {
      if (j === i) continue;
      const c = compareClocks(clocks[i]!, clocks[j]!);
      if (c === 'before' || (c === 'equal' && j < i)) return;
    }
    kept.push(versionId(v));
  });
  return kept.sort();
}

/** Decoded clocks by their bytes: the model compares the same clocks many times. */
const decoded = new Map<string, VectorClock>();
function decodedClock(bytes: Uint8Array): VectorClock {
  const id = hex(bytes);
  let clock = decoded.get(id);
  if (clock === undefined) decoded.set(id, (clock = decodeClock(bytes)));
  return clock;
}

describe('storage/key_order', () => {
  it('compareKeys agrees with Buffer.compare (bytewise, prefix first)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), fc.uint8Array({ maxLength: 12 }), (a, b) => {
        expect(Math.sign(compareKeys(a, b))).to.equal(Buffer.compare(Buffer.from(a), Buffer.from(b)));
      }),
      { numRuns: 2000 },
    );
  });

  it('keyPrefix is monotone in key order (a smaller prefix means a smaller key)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9 }), fc.uint8Array({ maxLength: 9 }), (a, b) => {
        const pa = keyPrefix(a);
        const pb = keyPrefix(b);
        if (pa < pb) expect(compareKeys(a, b)).to.be.lessThan(0);
        if (compareKeys(a, b) === 0) expect(pa).to.equal(pb);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('storage/memtable', () => {
  it('matches a Map model under random puts with concurrent clocks (siblings)', () => {
    const seed = seedFrom(process.env['SEED'], Date.now());
    console.log(`      memtable model SEED=${seed}`);
    const prng = new Prng(seed);
    const memtable = new Memtable(vectorClockOrder, seed);
    const keys = Array.from({ length: 150 }, () => prng.fill(new Uint8Array(prng.int(6))));
    const history = new Map<string, Version[]>();
    const nodes = ['a', 'b', 'c', 'd'];
    let now_ms = 1000;
    let siblingKeys = 0;
    for (let op = 0; op < 2000; op++) {
      const key = prng.pick(keys);
      const current = memtable.get(key) ?? [];
      // The write's causal context: nothing, one sibling (a stale reader), or all siblings merged (a resolving write).
      let context: VectorClock = [];
      const choice = prng.int(3);
      if (choice === 1 && current.length > 0) context = decodeClock(prng.pick(current).clock);
      if (choice === 2) for (const v of current) context = merge(context, decodeClock(v.clock));
      now_ms += 1;
      const version: Version = {
        clock: encodeClock(increment(context, prng.pick(nodes), now_ms)),
        value: prng.chance(0.15) ? null : prng.fill(new Uint8Array(prng.int(20))),
        ts_ms: now_ms,
      };
      const written = history.get(hex(key)) ?? [];
      written.push(version);
      history.set(hex(key), written);
      const result = memtable.put(key, [version]);
      expect(result.map(versionId).sort()).to.deep.equal(expectedVersions(written));
      if (result.length > 1) siblingKeys += 1;
    }
    expect(siblingKeys, 'the generator made siblings').to.be.greaterThan(0);
    // Every key, in order, through get and through a full scan.
    const modelKeys = [...history.keys()].sort();
    const scanned = [...memtable.scan()];
    expect(scanned.map((e) => hex(e.key))).to.deep.equal(modelKeys);
    expect(memtable.entryCount).to.equal(modelKeys.length);
    for (const entry of scanned) {
      const expected = expectedVersions(history.get(hex(entry.key))!);
      expect(entry.versions.map(versionId).sort()).to.deep.equal(expected);
      expect(memtable.get(entry.key)!.map(versionId).sort()).to.deep.equal(expected);
    }
    for (let i = 0; i < 50; i++) {
      const absent = prng.fill(new Uint8Array(7 + prng.int(3)));
      if (!history.has(hex(absent))) expect(memtable.get(absent)).to.equal(undefined);
    }
    // Size accounting: the arena counts every byte it took (old version lists included), so at least what is held.
    const live = scanned.reduce((sum, e) => sum + e.key.length + e.versions.reduce((b, v) => b + v.clock.length + (v.value?.length ?? 0), 0), 0);
    expect(memtable.approximateBytes).to.be.at.least(live);
  });

  it('scans in bytewise order between bounds (from inclusive, to exclusive)', () => {
    const memtable = new Memtable(vectorClockOrder);
    const clock = encodeClock(increment([], 'n1', 1));
    const all: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const key = new Uint8Array([(i * 37) % 256, i % 7]).subarray(0, 1 + (i % 2));
      if (memtable.get(key) === undefined) all.push(key);
      memtable.put(key, [{ clock, value: key, ts_ms: 1 }]);
    }
    all.sort(compareKeys);
    expect([...memtable.scan()].map((e) => hex(e.key))).to.deep.equal(all.map(hex));
    const from = new Uint8Array([40]);
    const to = new Uint8Array([200, 3]);
    const expected = all.filter((k) => compareKeys(k, from) >= 0 && compareKeys(k, to) < 0).map(hex);
    expect(expected.length).to.be.greaterThan(10);
    expect([...memtable.scan(from, to)].map((e) => hex(e.key))).to.deep.equal(expected);
    expect([...memtable.scan(to, from)]).to.deep.equal([]);
  });

  it('accounts bytes: the arena counts what it took (a dominated version stays counted until the flush), a stale write nothing', () => {
    const memtable = new Memtable(vectorClockOrder);
    const key = new Uint8Array([1, 2, 3]);
    const c1 = increment([], 'n1', 1);
    memtable.put(key, [{ clock: encodeClock(c1), value: new Uint8Array(1000), ts_ms: 1 }]);
    const big = memtable.approximateBytes;
    expect(big).to.be.greaterThan(1000);
    memtable.put(key, [{ clock: encodeClock(increment(c1, 'n1', 2)), value: new Uint8Array(10), ts_ms: 2 }]);
    // Arena bytes are never freed before the flush: the total grows by the new version, not shrinks.
    expect(memtable.approximateBytes).to.be.greaterThan(big + 10);
    expect(memtable.approximateBytes).to.be.lessThan(big + 200);
    expect(memtable.get(key)!.length).to.equal(1);
    // A stale (dominated) write changes nothing.
    const before = memtable.approximateBytes;
    memtable.put(key, [{ clock: encodeClock(c1), value: new Uint8Array(5000), ts_ms: 3 }]);
    expect(memtable.approximateBytes).to.equal(before);
    expect(memtable.get(key)![0]!.value!.length).to.equal(10);
    expect(memtable.isFull(before)).to.equal(true);
    expect(memtable.isFull(before + 1)).to.equal(false);
  });

  it('refuses writes once frozen, and keeps serving reads', () => {
    const memtable = new Memtable(vectorClockOrder);
    const version = { clock: encodeClock(increment([], 'n1', 1)), value: new Uint8Array([9]), ts_ms: 1 };
    memtable.put(new Uint8Array([1]), [version]);
    memtable.freeze();
    expect(memtable.isFrozen).to.equal(true);
    expect(() => memtable.put(new Uint8Array([2]), [version])).to.throw(AssertionError);
    expect(memtable.get(new Uint8Array([1]))).to.deep.equal([version]);
  });

  it('refuses a write past SIBLINGS_MAX concurrent versions and stores nothing', () => {
    const memtable = new Memtable(vectorClockOrder);
    const key = new Uint8Array([7]);
    for (let i = 0; i < SIBLINGS_MAX; i++) {
      memtable.put(key, [{ clock: encodeClock(increment([], `node-${i}`, i)), value: new Uint8Array([i]), ts_ms: i }]);
    }
    expect(memtable.get(key)!.length).to.equal(SIBLINGS_MAX);
    const bytes = memtable.approximateBytes;
    const extra = { clock: encodeClock(increment([], 'node-x', 99)), value: new Uint8Array([1]), ts_ms: 99 };
    expect(() => memtable.put(key, [extra])).to.throw(InvalidRequestError);
    expect(memtable.get(key)!.length).to.equal(SIBLINGS_MAX);
    expect(memtable.approximateBytes).to.equal(bytes);
  });

  it('sees entries inserted ahead of a running scan', () => {
    const memtable = new Memtable(vectorClockOrder);
    const version = { clock: encodeClock(increment([], 'n1', 1)), value: null, ts_ms: 1 };
    for (const k of [10, 20, 30]) memtable.put(new Uint8Array([k]), [version]);
    const seen: number[] = [];
    for (const entry of memtable.scan()) {
      seen.push(entry.key[0]!);
      if (entry.key[0] === 10) {
        memtable.put(new Uint8Array([25]), [version]);
        memtable.put(new Uint8Array([5]), [version]);
      }
    }
    expect(seen).to.deep.equal([10, 20, 25, 30]);
  });
});
