/**
 * Replica groups (issue 15): the key ranges anti-entropy keeps a tree for.
 * Each key's group is exactly its preference list as a set, so two members
 * of a group hold the same keys of it; and the byte budget that throttles
 * exchanges. Randomized cases name their seed; replay with SEED=<n>.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ByteBudget } from '../../src/core/byte_budget.js';
import { placeReplicas } from '../../src/core/placement.js';
import { seedFrom } from '../../src/core/prng.js';
import { ReplicaGroups } from '../../src/core/replica_groups.js';
import { Ring } from '../../src/core/ring.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const members = (n: number, dcs = 1) => Array.from({ length: n }, (_, i) => ({ id: `n${i + 1}`, dc: `dc${(i % dcs) + 1}`, rack: `r${i + 1}` }));

describe('core/replica_groups', () => {
  it(`puts every key in the group of its preference list, as a set (property, SEED=${SEED})`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 9 }), fc.array(fc.uint8Array({ minLength: 1, maxLength: 24 }), { minLength: 1, maxLength: 200 }), (n, keys) => {
        const ring = Ring.build(members(n));
        const groups = new ReplicaGroups(ring, { dc1: 3 });
        for (const key of keys) {
          const expected = [...placeReplicas(ring, key, { dc1: 3 }).replicas].sort();
          const group = groups.groupOf(key);
          expect(group.members).to.deep.equal(expected);
          expect(group.id).to.equal(expected.join(','));
          expect(groups.group(group.id)).to.equal(group);
        }
      }),
      { seed: SEED, numRuns: 30 },
    );
  });

  it('gives a node of 5 with N = 3 the 6 groups of the 10 possible that hold it, with data centers too', () => {
    const groups = new ReplicaGroups(Ring.build(members(5)), { dc1: 3 });
    for (const m of ['n1', 'n2', 'n3', 'n4', 'n5']) {
      const mine = groups.groupsOf(m);
      expect(mine.length, m).to.be.at.most(6);
      expect(mine.every((g) => g.members.includes(m) && g.members.length === 3)).to.equal(true);
    }
    expect(groups.groupsOf('n1').length).to.equal(6); // 128 vnodes each: every 3-set that holds n1 occurs
    const twoDcs = new ReplicaGroups(Ring.build(members(6, 2)), { dc1: 2, dc2: 1 });
    for (const g of twoDcs.groupsOf('n1')) expect(g.members.filter((m) => Number(m.slice(1)) % 2 === 1)).to.have.length(2);
  });
});

describe('core/byte_budget', () => {
  it('lets work start while the bucket is not overdrawn, refills at the rate, and saves up at most one second', () => {
    const budget = new ByteBudget(1000, 0);
    expect(budget.available(0)).to.equal(true);
    budget.spend(1500, 0);
    expect(budget.available(0)).to.equal(false);
    expect(budget.waitMs(0)).to.equal(500);
    expect(budget.available(499)).to.equal(false);
    expect(budget.available(500)).to.equal(true);
    budget.spend(0, 60_000); // an idle minute saves one second's worth, not sixty
    budget.spend(1001, 60_000);
    expect(budget.available(60_000)).to.equal(false);
    expect(() => new ByteBudget(0, 0)).to.throw(/positive rate/);
  });
});
