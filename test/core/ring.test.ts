/**
 * Tests of the consistent-hash ring (src/core/ring.ts, src/core/tokens.ts):
 * exact balance from the tokens, key movement on join and leave, preference
 * lists (distinct members, fallbacks in ring order, determinism), and token
 * assignment's bounds. Ownership is computed arithmetically from the tokens,
 * not sampled, so every figure is exact.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { RING_VNODES_MAX, RING_VNODES_PER_WEIGHT } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { Ring, vnodeCount, type RingMemberInput } from '../../src/core/ring.js';
import { advance, assignTokens, keyPosition, RING_POSITIONS, rangeLength } from '../../src/core/tokens.js';

const SEED = seedFrom(process.env['SEED'], 0x52494e47);

/** `n` members of weight 1, ids n1..nN. */
function members(n: number, from = 1): RingMemberInput[] {
  return Array.from({ length: n }, (_, i) => ({ id: `n${from + i}`, dc: 'dc1', rack: `r${(from + i) % 3}` }));
}

/** Fraction of the keyspace whose owner differs between rings `a` and `b`, and the owners it moved to. */
function movement(a: Ring, b: Ring): { moved: number; gainers: Set<string>; losers: Set<string> } {
  // Both rings' owners are constant between consecutive tokens of either ring,
  // so comparing owners at each token of the union covers the whole keyspace.
  const cuts = [...new Set([...a.members(), ...b.members()].flatMap((m) => m.tokens))].sort((x, y) => x - y);
  let moved = 0;
  const gainers = new Set<string>();
  const losers = new Set<string>();
  cuts.forEach((cut, i) => {
    const previous = cuts[i === 0 ? cuts.length - 1 : i - 1] as number;
    const before = a.ownerAt(cut);
    const after = b.ownerAt(cut);
    if (before === after) return;
    moved += rangeLength(previous, cut) / RING_POSITIONS;
    gainers.add(after);
    losers.add(before);
  });
  return { moved, gainers, losers };
}

/** The preference list computed naively: walk every token from the key, keeping the first sighting of each member. */
function naiveWalk(ring: Ring, key: Uint8Array): string[] {
  const tokens = ring
    .members()
    .flatMap((m) => m.tokens.map((token) => ({ token, id: m.id })))
    .sort((x, y) => x.token - y.token);
  const position = keyPosition(key);
  let start = tokens.findIndex((t) => t.token >= position);
  if (start < 0) start = 0;
  const order: string[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const id = (tokens[(start + k) % tokens.length] as { id: string }).id;
    if (!order.includes(id)) order.push(id);
  }
  return order;
}

const encoder = new TextEncoder();

describe('core/ring', () => {
  console.log(`    ring tests SEED=${SEED}`);

  describe('positions', () => {
    it('keyPosition is the top 53 bits of the hash, an exact integer in range', () => {
      const prng = new Prng(SEED);
      for (let i = 0; i < 1000; i++) {
        const position = keyPosition(prng.fill(new Uint8Array(prng.range(0, 40))));
        expect(Number.isSafeInteger(position) && position >= 0 && position < RING_POSITIONS).to.equal(true);
      }
    });

    it('rangeLength and advance wrap without leaving exact integers (table)', () => {
      const top = RING_POSITIONS - 1;
      const rows: ReadonlyArray<[from: number, to: number, length: number]> = [
        [0, 10, 10],
        [10, 0, RING_POSITIONS - 10],
        [top, 0, 1],
        [5, 5, RING_POSITIONS],
        [top - 1, top, 1],
      ];
      for (const [from, to, length] of rows) {
        expect(rangeLength(from, to), `${from}→${to}`).to.equal(length);
        if (length < RING_POSITIONS) expect(advance(from, length), `${from}+${length}`).to.equal(to);
      }
    });
  });

  describe('balance (exact ownership from tokens)', () => {
    for (const n of [3, 5, 8, 16, 32]) {
      it(`${n} members at ${RING_VNODES_PER_WEIGHT} vnodes: every share within 10% of the mean`, () => {
        const ring = Ring.build(members(n));
        const shares = [...ring.ownership().values()];
        expect(shares).to.have.length(n);
        expect(shares.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-9);
        const worst = Math.max(...shares.map((s) => Math.abs(s * n - 1)));
        console.log(`      n=${n}: worst share deviation ${(worst * 100).toFixed(2)}% of the mean`);
        expect(worst).to.be.below(0.1);
        for (const m of ring.members()) expect(m.tokens).to.have.length(RING_VNODES_PER_WEIGHT);
      });
    }

    it('weights: a member owns in proportion to its weight (within 10%)', () => {
      const weights = [1, 2, 1, 0.5, 1, 1.5];
      const ring = Ring.build(weights.map((weight, i) => ({ id: `w${i}`, dc: 'dc1', rack: 'r', weight })));
      const total = weights.reduce((a, b) => a + b, 0);
      weights.forEach((weight, i) => {
        const share = ring.ownership().get(`w${i}`) ?? 0;
        expect(share / (weight / total), `w${i} (weight ${weight})`).to.be.within(0.9, 1.1);
        expect(ring.tokensOf(`w${i}`)).to.have.length(Math.round(weight * RING_VNODES_PER_WEIGHT));
      });
    });

    it('weight 0 owns no tokens and appears in no preference list', () => {
      const ring = Ring.build([...members(3), { id: 'idle', dc: 'dc1', rack: 'r', weight: 0 }]);
      expect(ring.tokensOf('idle')).to.deep.equal([]);
      expect(ring.ownership().get('idle')).to.equal(0);
      const list = ring.preferenceList(encoder.encode('k'), 3);
      expect([...list.replicas, ...list.fallbacks]).to.not.include('idle');
    });

    it('vnodes per weight is configurable and bounded by RING_VNODES_MAX', () => {
      expect(vnodeCount(1, 16)).to.equal(16);
      expect(vnodeCount(1.5)).to.equal(192);
      expect(() => vnodeCount((RING_VNODES_MAX + 1) / RING_VNODES_PER_WEIGHT)).to.throw(/RING_VNODES_MAX/);
      const ring = Ring.build(members(4), { vnodesPerWeight: 16 });
      for (const m of ring.members()) expect(m.tokens).to.have.length(16);
    });
  });

  describe('movement', () => {
    for (const n of [3, 5, 8, 16, 32]) {
      it(`a join to ${n} members moves about 1/${n + 1} of the keyspace, all to the newcomer`, () => {
        const before = Ring.build(members(n));
        const after = before.withMember({ id: 'joiner', dc: 'dc1', rack: 'r9' });
        const { moved, gainers } = movement(before, after);
        console.log(`      n=${n}→${n + 1}: moved ${(moved * (n + 1)).toFixed(4)} × 1/${n + 1}`);
        expect(moved * (n + 1)).to.be.within(0.8, 1.2);
        expect([...gainers]).to.deep.equal(['joiner']);
        for (const m of before.members()) expect(after.tokensOf(m.id)).to.deep.equal(m.tokens);
      });
    }

    it('a leave moves only the leaver’s keys, and leaving undoes a join exactly', () => {
      const ring = Ring.build(members(8));
      const without = ring.withoutMember('n3');
      const { moved, losers, gainers } = movement(ring, without);
      expect([...losers]).to.deep.equal(['n3']);
      expect(gainers.has('n3')).to.equal(false);
      expect(moved).to.be.closeTo(ring.ownership().get('n3') ?? 0, 1e-12);
      const joined = ring.withMember({ id: 'x', dc: 'dc1', rack: 'r' }).withoutMember('x');
      expect(movement(ring, joined).moved).to.equal(0);
    });
  });

  describe('state and determinism', () => {
    it('the same members in the same order give the same tokens; fromTokens rebuilds the ring', () => {
      const a = Ring.build(members(6));
      const b = Ring.build(members(6));
      expect(a.members()).to.deep.equal(b.members());
      const rebuilt = Ring.fromTokens(a.members().map((m) => ({ ...m, tokens: [...m.tokens].reverse() })));
      const prng = new Prng(SEED ^ 1);
      for (let i = 0; i < 200; i++) {
        const key = prng.fill(new Uint8Array(8));
        expect(rebuilt.preferenceList(key, 3)).to.deep.equal(a.preferenceList(key, 3));
      }
    });

    it('tokens depend on id and epoch', () => {
      const first = (id: string, epoch: number) => assignTokens([], id, 4, epoch);
      expect(first('a', 0)).to.not.deep.equal(first('b', 0));
      expect(first('a', 0)).to.not.deep.equal(first('a', 1));
      const ring = Ring.build(members(3));
      const joiner = (epoch: number) => assignTokens(ring.members(), 'j', 128, epoch);
      expect(joiner(0)).to.deep.equal(joiner(0));
      expect(joiner(0)).to.not.deep.equal(joiner(1));
    });

    it('two members joining the same ring state at once still get disjoint tokens', () => {
      const ring = Ring.build(members(5));
      const a = assignTokens(ring.members(), 'a', 128);
      const b = assignTokens(ring.members(), 'b', 128);
      const all = new Set([...ring.members().flatMap((m) => m.tokens), ...a, ...b]);
      expect(all.size).to.equal(5 * 128 + 256);
    });

    it('rejects a duplicate member and a token off the ring', () => {
      const ring = Ring.build(members(2));
      expect(() => ring.withMember({ id: 'n1', dc: 'dc1', rack: 'r' })).to.throw(/not on the ring yet/);
      expect(() => Ring.fromTokens([{ id: 'a', dc: 'd', rack: 'r', weight: 1, tokens: [RING_POSITIONS] }])).to.throw(/ring position/);
    });
  });

  describe('preference lists', () => {
    it('property: N distinct members, the first owns the key, fallbacks are the rest in ring order', () => {
      const arbitrary = fc.record({
        weights: fc.array(fc.constantFrom(0, 0.5, 1, 1, 2), { minLength: 1, maxLength: 12 }),
        n: fc.integer({ min: 1, max: 6 }),
        fallbackLimit: fc.integer({ min: 0, max: 12 }),
        key: fc.uint8Array({ maxLength: 16 }),
      });
      fc.assert(
        fc.property(arbitrary, ({ weights, n, fallbackLimit, key }) => {
          const ring = Ring.build(weights.map((weight, i) => ({ id: `m${i}`, dc: 'dc1', rack: 'r', weight })), { vnodesPerWeight: 16 });
          const expected = naiveWalk(ring, key);
          const list = ring.preferenceList(key, n, fallbackLimit);
          const all = [...list.replicas, ...list.fallbacks];
          expect(new Set(all).size).to.equal(all.length);
          expect(list.replicas).to.deep.equal(expected.slice(0, n));
          expect(list.fallbacks).to.deep.equal(expected.slice(n, n + fallbackLimit));
          if (expected.length > 0) expect(list.replicas[0]).to.equal(ring.ownerOf(key));
        }),
        { seed: SEED, numRuns: 150 },
      );
    });

    it('fewer members than N: every member once, no fallbacks', () => {
      const ring = Ring.build(members(2));
      const list = ring.preferenceList(encoder.encode('k'), 3);
      expect([...list.replicas].sort()).to.deep.equal(['n1', 'n2']);
      expect(list.fallbacks).to.deep.equal([]);
      expect(Ring.build([]).preferenceList(encoder.encode('k'), 3)).to.deep.equal({ replicas: [], fallbacks: [] });
    });
  });
});
