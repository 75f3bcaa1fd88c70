/**
 * Tests of DC- and rack-aware placement (src/core/placement.ts): per-DC
 * counts met, racks distinct when a DC has enough, a DC with too few members
 * gives what it has, fallbacks in ring order from the listed DCs only.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { placeReplicas, type DcReplicas } from '../../src/core/placement.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { Ring, type RingMemberInput } from '../../src/core/ring.js';

const SEED = seedFrom(process.env['SEED'], 0x504c4143);

/** Members laid out as `{ dc: [rack of each member] }`, ids `<dc>-<i>`. */
function layout(spec: Readonly<Record<string, readonly string[]>>): RingMemberInput[] {
  return Object.entries(spec).flatMap(([dc, racks]) => racks.map((rack, i) => ({ id: `${dc}-${i}`, dc, rack })));
}

/** Random keys for a table row. */
function keys(prng: Prng, count: number): Uint8Array[] {
  return Array.from({ length: count }, () => prng.fill(new Uint8Array(12)));
}

describe('core/placement', () => {
  console.log(`    placement tests SEED=${SEED}`);

  const rows: ReadonlyArray<{
    name: string;
    spec: Record<string, string[]>;
    replicas: DcReplicas;
    perDc: Record<string, number>;
    distinctRacksPerDc: Record<string, number>;
  }> = [
    {
      name: 'two DCs with three racks each',
      spec: { dc1: ['a', 'a', 'b', 'b', 'c', 'c'], dc2: ['x', 'x', 'y', 'y', 'z'] },
      replicas: { dc1: 3, dc2: 2 },
      perDc: { dc1: 3, dc2: 2 },
      distinctRacksPerDc: { dc1: 3, dc2: 2 },
    },
    {
      name: 'more replicas than racks: every rack used, then filled',
      spec: { dc1: ['a', 'a', 'a', 'b', 'b', 'b'] },
      replicas: { dc1: 3 },
      perDc: { dc1: 3 },
      distinctRacksPerDc: { dc1: 2 },
    },
    {
      name: 'a DC with fewer members than its count gives all it has',
      spec: { dc1: ['a', 'b', 'c', 'd'], dc2: ['x', 'y'] },
      replicas: { dc1: 3, dc2: 3 },
      perDc: { dc1: 3, dc2: 2 },
      distinctRacksPerDc: { dc1: 3, dc2: 2 },
    },
    {
      name: 'a DC with no members, and an unlisted DC that holds nothing',
      spec: { dc1: ['a', 'b', 'c'], dc3: ['q', 'r'] },
      replicas: { dc1: 2, dc2: 2 },
      perDc: { dc1: 2 },
      distinctRacksPerDc: { dc1: 2 },
    },
  ];

  for (const row of rows) {
    it(`table: ${row.name}`, () => {
      const ring = Ring.build(layout(row.spec));
      const prng = new Prng(SEED);
      for (const key of keys(prng, 300)) {
        const { replicas, fallbacks } = placeReplicas(ring, key, row.replicas);
        const chosen = replicas.map((id) => ring.member(id));
        expect(new Set(replicas).size).to.equal(replicas.length);
        for (const [dc, count] of Object.entries(row.perDc)) {
          const inDc = chosen.filter((m) => m?.dc === dc);
          expect(inDc, `replicas in ${dc}`).to.have.length(count);
          expect(new Set(inDc.map((m) => m?.rack)).size, `racks in ${dc}`).to.equal(row.distinctRacksPerDc[dc]);
        }
        expect(chosen.every((m) => m !== undefined && m.dc in row.perDc)).to.equal(true);
        // Fallbacks: every other member of a listed DC, in ring order, none of them a replica.
        const listed = ring.members().filter((m) => (row.replicas[m.dc] ?? 0) > 0);
        expect(fallbacks).to.have.length(listed.length - replicas.length);
        expect(fallbacks.filter((id) => replicas.includes(id))).to.deep.equal([]);
        const walk = ring.preferenceList(key, 0).fallbacks.filter((id) => fallbacks.includes(id));
        expect(fallbacks).to.deep.equal(walk);
      }
    });
  }

  it('the first replica is the first member clockwise in a listed DC', () => {
    const ring = Ring.build(layout({ dc1: ['a', 'b', 'c'], dc2: ['x', 'y', 'z'] }));
    for (const key of keys(new Prng(SEED ^ 7), 200)) {
      expect(placeReplicas(ring, key, { dc1: 2, dc2: 2 }).replicas[0]).to.equal(ring.ownerOf(key));
    }
  });

  it('one DC with one rack per member matches the plain preference list', () => {
    const ring = Ring.build(Array.from({ length: 7 }, (_, i) => ({ id: `n${i}`, dc: 'dc1', rack: `r${i}` })));
    for (const key of keys(new Prng(SEED ^ 3), 200)) {
      expect(placeReplicas(ring, key, { dc1: 3 })).to.deep.equal(ring.preferenceList(key, 3));
    }
  });

  it('fallback limit bounds the fallbacks', () => {
    const ring = Ring.build(layout({ dc1: ['a', 'b', 'c', 'd', 'e', 'f'] }));
    expect(placeReplicas(ring, new Uint8Array([1]), { dc1: 3 }, 2).fallbacks).to.have.length(2);
    expect(placeReplicas(ring, new Uint8Array([1]), { dc1: 3 }, 0).fallbacks).to.have.length(0);
  });

  it('property: counts met up to what each DC has, racks distinct up to the racks a DC has', () => {
    const member = fc.record({ dc: fc.constantFrom('d1', 'd2', 'd3'), rack: fc.constantFrom('a', 'b', 'c') });
    const arbitrary = fc.record({
      layout: fc.array(member, { minLength: 1, maxLength: 14 }),
      counts: fc.record({ d1: fc.integer({ min: 0, max: 4 }), d2: fc.integer({ min: 0, max: 4 }) }),
      key: fc.uint8Array({ maxLength: 12 }),
    });
    fc.assert(
      fc.property(arbitrary, ({ layout: members, counts, key }) => {
        const ring = Ring.build(members.map((m, i) => ({ id: `m${i}`, ...m })), { vnodesPerWeight: 8 });
        const { replicas } = placeReplicas(ring, key, counts);
        expect(new Set(replicas).size).to.equal(replicas.length);
        for (const [dc, count] of Object.entries(counts)) {
          const inDc = ring.members().filter((m) => m.dc === dc);
          const chosen = replicas.map((id) => ring.member(id)).filter((m) => m?.dc === dc);
          expect(chosen).to.have.length(Math.min(count, inDc.length));
          const racks = new Set(inDc.map((m) => m.rack)).size;
          expect(new Set(chosen.map((m) => m?.rack)).size).to.equal(Math.min(chosen.length, racks));
        }
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});
