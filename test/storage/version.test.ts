/**
 * `reconcile`, the one merge of a key's stored versions (memtable inserts,
 * reads across tables, scans, compaction): dominated versions go, concurrent
 * ones stay, copies of one version collapse, and two versions under one dot
 * with different values (issue 12: 'conflict') are both kept and reported,
 * once per pair, never resolved silently. Clocks are real dotted version
 * vectors with value digests.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { decodeDvv, dottedVersionVectorOrder, encodeDvv, join, update, valueDigest, type Dvv } from '../../src/core/dotted_version_vector.js';
import { __plantBugForTests } from '../../src/core/planted_bugs.js';
import { seedFrom } from '../../src/core/prng.js';
import { reconcile, type Version } from '../../storage/version.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const encoder = new TextEncoder();

/** A stored version of `value` whose clock is `dvv` with the value's digest (the dot as given). */
function stored(dvv: Dvv, value: string | null): Version {
  const bytes = value === null ? null : encoder.encode(value);
  return { clock: encodeDvv({ dot: { ...dvv.dot, digest: valueDigest(bytes) }, past: dvv.past }), value: bytes, ts_ms: dvv.dot.ts_ms };
}

const valueOf = (v: Version): string => (v.value === null ? '∅' : new TextDecoder().decode(v.value));

describe('storage/version reconcile', () => {
  before(() => console.log(`      SEED=${SEED} (replay with SEED=${SEED})`));
  afterEach(() => __plantBugForTests(null));

  const first = update([], [], 'a', 1); // dot a:1
  const second = update([], [first], 'a', 2); // dot a:2, concurrent with a:1
  const covering = update(join([first, second]), [first, second], 'b', 3); // saw both

  it('keeps concurrent versions, drops dominated ones, collapses copies, reports nothing', () => {
    const conflicts: unknown[] = [];
    const onConflict = (a: Version, b: Version): number => conflicts.push([a, b]);
    expect(reconcile(dottedVersionVectorOrder, [stored(first, 'x'), stored(second, 'y')], onConflict).map(valueOf)).to.deep.equal(['x', 'y']);
    expect(reconcile(dottedVersionVectorOrder, [stored(first, 'x'), stored(covering, 'z')], onConflict).map(valueOf)).to.deep.equal(['z']);
    expect(reconcile(dottedVersionVectorOrder, [stored(first, 'x'), stored(first, 'x')], onConflict).map(valueOf)).to.deep.equal(['x']);
    expect(conflicts).to.deep.equal([]);
  });

  it('keeps both values of one dot (and a delete under it) and reports each pair once, copies counting once', () => {
    const pairs: string[] = [];
    const onConflict = (a: Version, b: Version): number => pairs.push(`${valueOf(a)}|${valueOf(b)}`);
    const x = stored(first, 'x');
    const y = stored(first, 'y');
    expect(reconcile(dottedVersionVectorOrder, [x, y], onConflict).map(valueOf)).to.deep.equal(['x', 'y']);
    expect(pairs).to.deep.equal(['x|y']);
    pairs.length = 0;
    expect(reconcile(dottedVersionVectorOrder, [x, y, { ...y }, { ...x }], onConflict).map(valueOf)).to.deep.equal(['x', 'y']);
    expect(pairs, 'copies of x and y are one conflict').to.deep.equal(['x|y']);
    pairs.length = 0;
    expect(reconcile(dottedVersionVectorOrder, [x, stored(first, null)], onConflict).map(valueOf)).to.deep.equal(['x', '∅']);
    expect(pairs).to.deep.equal(['x|∅']);
  });

  it('a version that saw the dot supersedes both copies, and the conflict is still reported', () => {
    const pairs: string[] = [];
    const kept = reconcile(dottedVersionVectorOrder, [stored(covering, 'z'), stored(first, 'x'), stored(first, 'y')], (a, b) => pairs.push(`${valueOf(a)}|${valueOf(b)}`));
    expect(kept.map(valueOf)).to.deep.equal(['z']);
    expect(pairs).to.deep.equal(['x|y']);
  });

  it('clocks written before digests (0xD1) merge with either copy unchecked', () => {
    const pairs: unknown[] = [];
    const old: Version = { clock: encodeDvv(first), value: encoder.encode('x'), ts_ms: 1 };
    expect(decodeDvv(old.clock).dot.digest).to.equal(undefined);
    const kept = reconcile(dottedVersionVectorOrder, [old, stored(first, 'x')], (a, b) => pairs.push([a, b]));
    expect(kept).to.have.length(1);
    expect(pairs).to.deep.equal([]);
  });

  it("planted bug 'silent-same-dot-merge': one copy is kept silently (what the digest prevents)", () => {
    __plantBugForTests('silent-same-dot-merge');
    const pairs: unknown[] = [];
    const kept = reconcile(dottedVersionVectorOrder, [stored(first, 'x'), stored(first, 'y')], (a, b) => pairs.push([a, b]));
    expect(kept.map(valueOf)).to.deep.equal(['x']);
    expect(pairs).to.deep.equal([]);
  });

  it('property: whatever the order and copies, every value of an uncovered dot survives and every distinct conflict is reported', () => {
    // A pool of versions over three dots, some minted twice with other values, some superseded by `covering`.
    const pool: Array<{ dvv: Dvv; value: string | null }> = [
      { dvv: first, value: 'x' },
      { dvv: first, value: 'y' },
      { dvv: second, value: 'p' },
      { dvv: second, value: null },
      { dvv: second, value: 'q' },
      { dvv: covering, value: 'z' },
      { dvv: update([], [covering], 'c', 4), value: 'w' },
    ];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: pool.length - 1 }), { minLength: 1, maxLength: 12 }), (picks) => {
        const versions = picks.map((i) => stored(pool[i]!.dvv, pool[i]!.value));
        const pairs = new Set<string>();
        let reports = 0;
        const kept = reconcile(dottedVersionVectorOrder, versions, (a, b) => {
          reports++;
          pairs.add([valueOf(a), valueOf(b)].sort().join('|'));
        });
        const picked = new Set(picks);
        const hasCovering = picked.has(5);
        const expected = [...picked]
          .filter((i) => !(hasCovering && (i <= 4)))
          .map((i) => (pool[i]!.value === null ? '∅' : pool[i]!.value!))
          .sort();
        expect(kept.map(valueOf).sort()).to.deep.equal(expected);
        const expectedPairs = new Set<string>();
        const byDot = (lo: number, hi: number): void => {
          const values = [...picked].filter((i) => i >= lo && i <= hi).map((i) => (pool[i]!.value === null ? '∅' : pool[i]!.value!));
          for (let a = 0; a < values.length; a++) for (let b = a + 1; b < values.length; b++) expectedPairs.add([values[a]!, values[b]!].sort().join('|'));
        };
        byDot(0, 1);
        byDot(2, 4);
        expect([...pairs].sort()).to.deep.equal([...expectedPairs].sort());
        expect(reports, 'each distinct pair once').to.equal(expectedPairs.size);
      }),
      { numRuns: 300, seed: SEED | 0 },
    );
  });
});
