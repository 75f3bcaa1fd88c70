/**
 * The arena memtable (storage/memtable.ts) against the object memtable of before issue 14 (memtable_model.ts) as its model: the same puts must
 * give equal answers (returned versions, gets, scans with bounds, entry
 * order, errors, dot conflicts reported), and the arena keeps its own
 * promises (bytes copied in and never moved, size accounting that only
 * grows, growth past its first chunk, values of VALUE_MAX_BYTES).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { AssertionError } from '../../src/core/assert.js';
import { InvalidRequestError } from '../../src/core/errors.js';
import { MEMTABLE_ARENA_FIRST_CHUNK_BYTES, MEMTABLE_ARENA_FIRST_NODE_WORDS, SIBLINGS_MAX, VALUE_MAX_BYTES } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import type { Causality, VersionOrder } from '../../src/core/version_order.js';
import { encodeClock, increment, vectorClockOrder } from '../../src/core/vector_clock.js';
import { compareKeys } from '../../storage/key_order.js';
import { Memtable } from '../../storage/memtable.js';
import { ModelMemtable } from './memtable_model.js';
import type { Version } from '../../storage/version.js';

const SEED = seedFrom(process.env['SEED'], Date.now());

/**
 * A toy clock order reaching every `Causality`: bytes 0..2 are counters of
 * three writers (compared pointwise), byte 3 a digest (equal counters with two
 * different non-zero digests are a 'conflict'); bytes past 4 are padding that
 * only has to survive the round trip.
 */
const toyOrder: VersionOrder = {
  compare(a: Uint8Array, b: Uint8Array): Causality {
    let aBigger = false;
    let bBigger = false;
    for (let i = 0; i < 3; i++) {
      if (a[i]! > b[i]!) aBigger = true;
      if (a[i]! < b[i]!) bBigger = true;
    }
    if (aBigger && bBigger) return 'concurrent';
    if (aBigger) return 'after';
    if (bBigger) return 'before';
    return a[3] !== 0 && b[3] !== 0 && a[3] !== b[3] ? 'conflict' : 'equal';
  },
};

const arbClock = fc
  .record({
    counters: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }),
    digest: fc.integer({ min: 0, max: 2 }),
    padding: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 })),
  })
  .map(({ counters, digest, padding }) => {
    const clock = new Uint8Array(4 + padding);
    clock.set([...counters, digest]);
    for (let i = 4; i < clock.length; i++) clock[i] = (i * 31 + digest) & 0xff;
    return clock;
  });

const arbValue: fc.Arbitrary<Uint8Array | null> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  {
    weight: 1,
    // Past the first chunk, past the large-record bound (a chunk of its own), and between.
    arbitrary: fc.record({ size: fc.constantFrom(MEMTABLE_ARENA_FIRST_CHUNK_BYTES + 1, 70_000, 300_000), fill: fc.integer({ min: 0, max: 255 }) }).map(({ size, fill }) => new Uint8Array(size).fill(fill)),
  },
);

const arbVersion: fc.Arbitrary<Version> = fc
  .record({ clock: arbClock, value: arbValue, ts_ms: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constantFrom(-0, 0.5, 1e15 + 0.25)), purgeable: fc.boolean() })
  .map(({ clock, value, ts_ms, purgeable }) => {
    const version: Version = { clock, value, ts_ms };
    // Mostly on tombstones (what the engine marks), sometimes on a value: the flag must round-trip either way.
    if (purgeable && (value === null || ts_ms % 3 === 0)) version.purgeable = true;
    return version;
  });

/** Keys whose order the 12 leading bytes do not decide: zero padding, equal 12-byte heads, different lengths. */
const HEAD12 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const TRICKY_KEYS: Uint8Array[] = [
  [],
  [0],
  [0, 0],
  [1],
  [255, 255, 255, 255],
  [97, 98],
  [97, 98, 0],
  HEAD12,
  [...HEAD12, 0],
  [...HEAD12, 13],
  [...HEAD12, 13, 0],
  [...HEAD12.slice(0, 11), 0],
  [...HEAD12.slice(0, 11)],
  [0x80, 0, 0, 0, 0x80, 0, 0, 0, 0x80],
].map((k) => new Uint8Array(k));

type Op =
  | { type: 'put'; key: number; versions: Version[]; enforce: boolean }
  | { type: 'get'; key: number }
  | { type: 'scan'; from: number | null; to: number | null }
  | { type: 'open-cursor'; from: number | null }
  | { type: 'step-cursor'; steps: number };

function arbOps(keyCount: number): fc.Arbitrary<Op[]> {
  const key = fc.integer({ min: 0, max: keyCount - 1 });
  const bound = fc.option(key, { nil: null });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ type: fc.constant('put' as const), key, versions: fc.array(arbVersion, { minLength: 1, maxLength: 3 }), enforce: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ type: fc.constant('get' as const), key }) },
    { weight: 2, arbitrary: fc.record({ type: fc.constant('scan' as const), from: bound, to: bound }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('open-cursor' as const), from: bound }) },
    { weight: 2, arbitrary: fc.record({ type: fc.constant('step-cursor' as const), steps: fc.integer({ min: 1, max: 3 }) }) },
  );
  return fc.array(op, { minLength: 1, maxLength: 80 });
}

/** Bytes the live entries hold (keys, clocks, values): `approximateBytes` may never be below it. */
function liveBytes(memtable: Memtable): number {
  let bytes = 0;
  for (const entry of memtable.scan()) {
    bytes += entry.key.length;
    for (const v of entry.versions) bytes += v.clock.length + (v.value?.length ?? 0);
  }
  return bytes;
}

/** Run `f`, returning its result or the error it threw (compared by class and message). */
function outcome<T>(f: () => T): { ok: T } | { error: string } {
  try {
    return { ok: f() };
  } catch (err) {
    return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

function runAgainstModel(order: VersionOrder, keys: readonly Uint8Array[], ops: readonly Op[], levelSeed: number): void {
  const model = new ModelMemtable(order, levelSeed);
  const arena = new Memtable(order, levelSeed);
  const modelConflicts: unknown[] = [];
  const arenaConflicts: unknown[] = [];
  let cursors: [Iterator<unknown>, Iterator<unknown>] | null = null;
  let lastBytes = 0;
  for (const op of ops) {
    switch (op.type) {
      case 'put': {
        const key = keys[op.key]!;
        const expected = outcome(() => model.put(key, op.versions, { enforceSiblingLimit: op.enforce, onConflict: (a, b) => modelConflicts.push([a, b]) }));
        const actual = outcome(() => arena.put(key, op.versions, { enforceSiblingLimit: op.enforce, onConflict: (a, b) => arenaConflicts.push([a, b]) }));
        expect(actual).to.deep.equal(expected);
        expect(arenaConflicts).to.deep.equal(modelConflicts);
        break;
      }
      case 'get':
        expect(arena.get(keys[op.key]!)).to.deep.equal(model.get(keys[op.key]!));
        break;
      case 'scan': {
        const from = op.from === null ? undefined : keys[op.from];
        const to = op.to === null ? undefined : keys[op.to];
        expect([...arena.scan(from, to)]).to.deep.equal([...model.scan(from, to)]);
        break;
      }
      case 'open-cursor': {
        const from = op.from === null ? undefined : keys[op.from];
        cursors = [model.scan(from), arena.scan(from)];
        break;
      }
      case 'step-cursor':
        // A cursor left open across puts (and node-array growth) sees what the model's sees.
        for (let i = 0; cursors !== null && i < op.steps; i++) expect(cursors[1].next()).to.deep.equal(cursors[0].next());
        break;
    }
    expect(arena.entryCount).to.equal(model.entryCount);
    expect(arena.approximateBytes, 'approximateBytes only grows').to.be.at.least(lastBytes);
    lastBytes = arena.approximateBytes;
  }
  expect([...arena.scan()]).to.deep.equal([...model.scan()]);
  expect(arena.approximateBytes).to.be.at.least(liveBytes(arena));
}

describe('storage/arena_memtable', () => {
  before(() => console.log(`      arena memtable SEED=${SEED}`));

  it('answers every put, get and scan as Memtable does (random sequences, toy clocks reaching every causality)', () => {
    const arbCase = fc
      .array(fc.uint8Array({ maxLength: 16 }), { maxLength: 6 })
      .chain((extra) => {
        const keys = [...TRICKY_KEYS, ...extra];
        return fc.record({ keys: fc.constant(keys), ops: arbOps(keys.length), levelSeed: fc.integer({ min: 0, max: 2 ** 31 }) });
      });
    fc.assert(
      fc.property(arbCase, ({ keys, ops, levelSeed }) => runAgainstModel(toyOrder, keys, ops, levelSeed)),
      { numRuns: 150, seed: SEED | 0 },
    );
  });

  it('answers as Memtable does with vector clocks and many siblings of one key (past SIBLINGS_MAX without enforcement)', () => {
    const prng = new Prng(SEED);
    const keys = TRICKY_KEYS.slice(0, 5);
    const ops: Op[] = [];
    for (let i = 0; i < 600; i++) {
      const writer = `n${prng.int(SIBLINGS_MAX + 8)}`;
      const clock = encodeClock(prng.chance(0.3) ? increment(increment([], writer, i), 'z', i) : increment([], writer, i));
      const value = prng.chance(0.2) ? null : prng.fill(new Uint8Array(prng.int(30)));
      ops.push({ type: 'put', key: prng.int(keys.length), versions: [{ clock, value, ts_ms: i }], enforce: prng.chance(0.5) });
      if (prng.chance(0.2)) ops.push({ type: 'get', key: prng.int(keys.length) });
    }
    ops.push({ type: 'scan', from: null, to: null });
    runAgainstModel(vectorClockOrder, keys, ops, SEED);
  });

  it('grows past its first chunk and node array, and every byte handed out stays as it was', () => {
    const memtable = new Memtable(vectorClockOrder);
    const prng = new Prng(SEED ^ 0x5a5a);
    const written = new Map<string, Version>();
    const held: { key: Uint8Array; versions: readonly Version[]; copy: string }[] = [];
    const clock = encodeClock(increment([], 'n1', 1));
    for (let i = 0; i < 5000; i++) {
      const key = prng.fill(new Uint8Array(1 + prng.int(24)));
      const version: Version = { clock, value: prng.fill(new Uint8Array(prng.int(100))), ts_ms: i };
      if (!written.has(Buffer.from(key).toString('hex'))) {
        memtable.put(key, [version]);
        written.set(Buffer.from(key).toString('hex'), version);
        // Mutating the caller's arrays afterwards changes nothing: the arena copied them.
        key.fill(0xee);
        version.value!.fill(0xee);
      }
      if (i % 500 === 0) {
        for (const entry of memtable.scan()) {
          held.push({ key: entry.key, versions: entry.versions, copy: JSON.stringify([[...entry.key], entry.versions.map((v) => [...v.value!])]) });
          break;
        }
      }
    }
    expect(memtable.arenaCapacityBytes).to.be.greaterThan(MEMTABLE_ARENA_FIRST_CHUNK_BYTES + MEMTABLE_ARENA_FIRST_NODE_WORDS * 4);
    expect(memtable.entryCount).to.equal(written.size);
    for (const h of held) expect(JSON.stringify([[...h.key], h.versions.map((v) => [...v.value!])])).to.equal(h.copy);
    const scanned = [...memtable.scan()];
    for (let i = 1; i < scanned.length; i++) expect(compareKeys(scanned[i - 1]!.key, scanned[i]!.key)).to.be.lessThan(0);
    expect(scanned.length).to.equal(written.size);
  });

  it('holds a value of VALUE_MAX_BYTES and refuses one byte more', () => {
    const memtable = new Memtable(vectorClockOrder);
    const c1 = increment([], 'n1', 1);
    const big = new Uint8Array(VALUE_MAX_BYTES);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    memtable.put(new Uint8Array([1]), [{ clock: encodeClock(c1), value: big, ts_ms: 1 }]);
    memtable.put(new Uint8Array([0]), [{ clock: encodeClock(c1), value: new Uint8Array([5]), ts_ms: 1 }]);
    expect(memtable.approximateBytes).to.be.at.least(VALUE_MAX_BYTES);
    expect(Buffer.compare(memtable.get(new Uint8Array([1]))![0]!.value!, big)).to.equal(0);
    // A concurrent sibling keeps the big value without copying it again.
    const before = memtable.approximateBytes;
    memtable.put(new Uint8Array([1]), [{ clock: encodeClock(increment([], 'n2', 2)), value: new Uint8Array(3), ts_ms: 2 }]);
    expect(memtable.approximateBytes - before).to.be.lessThan(1000);
    expect(memtable.get(new Uint8Array([1]))!.map((v) => v.value!.length)).to.deep.equal([VALUE_MAX_BYTES, 3]);
    const tooBig = { clock: encodeClock(c1), value: new Uint8Array(VALUE_MAX_BYTES + 1), ts_ms: 1 };
    expect(() => memtable.put(new Uint8Array([2]), [tooBig])).to.throw(AssertionError);
  });

  it('refuses writes once frozen, and keeps serving reads and scans', () => {
    const memtable = new Memtable(vectorClockOrder);
    const version = { clock: encodeClock(increment([], 'n1', 1)), value: new Uint8Array([9]), ts_ms: 1 };
    memtable.put(new Uint8Array([1]), [version]);
    expect(memtable.isFrozen).to.equal(false);
    memtable.freeze();
    expect(memtable.isFrozen).to.equal(true);
    expect(() => memtable.put(new Uint8Array([2]), [version])).to.throw(AssertionError);
    expect(() => memtable.put(new Uint8Array([1]), [version])).to.throw(AssertionError);
    expect(memtable.get(new Uint8Array([1]))).to.deep.equal([version]);
    expect([...memtable.scan()]).to.deep.equal([{ key: new Uint8Array([1]), versions: [version] }]);
    expect(memtable.entryCount).to.equal(1);
  });

  it('accounts bytes: 0 when empty, nothing for a stale write or a refused one, at least the live bytes always', () => {
    const memtable = new Memtable(vectorClockOrder);
    expect(memtable.approximateBytes).to.equal(0);
    expect(memtable.isFull(0)).to.equal(true);
    expect(memtable.isFull(1)).to.equal(false);
    const key = new Uint8Array([7]);
    const c1 = increment([], 'n1', 1);
    memtable.put(key, [{ clock: encodeClock(increment(c1, 'n1', 2)), value: new Uint8Array(10), ts_ms: 2 }]);
    const held = memtable.approximateBytes;
    expect(held).to.be.at.least(liveBytes(memtable));
    memtable.put(key, [{ clock: encodeClock(c1), value: new Uint8Array(5000), ts_ms: 3 }]);
    expect(memtable.approximateBytes, 'a dominated write stores nothing').to.equal(held);
    for (let i = 1; i < SIBLINGS_MAX; i++) {
      memtable.put(key, [{ clock: encodeClock(increment([], `node-${i}`, i)), value: new Uint8Array([i]), ts_ms: i }]);
    }
    expect(memtable.get(key)!.length).to.equal(SIBLINGS_MAX);
    const full = memtable.approximateBytes;
    expect(() => memtable.put(key, [{ clock: encodeClock(increment([], 'node-x', 99)), value: new Uint8Array([1]), ts_ms: 99 }])).to.throw(InvalidRequestError);
    expect(memtable.get(key)!.length).to.equal(SIBLINGS_MAX);
    expect(memtable.approximateBytes, 'a refused write stores nothing').to.equal(full);
    expect(memtable.isFull(full)).to.equal(true);
    expect(memtable.isFull(full + 1)).to.equal(false);
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
        // Enough nodes to replace the node array under the running scan.
        for (let i = 0; i < 200; i++) memtable.put(new Uint8Array([200, i]), [version]);
      }
    }
    expect(seen.slice(0, 4)).to.deep.equal([10, 20, 25, 30]);
    expect(seen.length).to.equal(204);
  });
});
