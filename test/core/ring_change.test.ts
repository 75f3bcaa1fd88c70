/**
 * Membership changes as plans (issue 16): after any join, decommission,
 * removal or replacement, each key's new replicas are its old ones plus
 * exactly the targets of the transfers covering it, fed from old replicas
 * (never the dead one); and the share that moves is close to the ideal.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { placeReplicas } from '../../src/core/placement.js';
import { inRanges, planChange, ringAfter, type RingChange } from '../../src/core/ring_change.js';
import { Ring } from '../../src/core/ring.js';
import { keyPosition } from '../../src/core/tokens.js';

function ringOf(count: number, dcs = 1): Ring {
  return Ring.build(Array.from({ length: count }, (_, i) => ({ id: `m${i}`, dc: `dc${(i % dcs) + 1}`, rack: `r${i}` })));
}

describe('ring changes', () => {
  it('every key moves exactly to the transfers\' targets, from old replicas (property over changes and rings)', () => {
    const change = fc.oneof(
      fc.record({ kind: fc.constant('join' as const), weight: fc.constantFrom(0.5, 1, 2) }),
      fc.record({ kind: fc.constantFrom('decommission' as const, 'remove' as const, 'replace' as const), victim: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 8 }), fc.integer({ min: 1, max: 3 }), change, fc.array(fc.uint8Array({ minLength: 1, maxLength: 12 }), { minLength: 50, maxLength: 50 }), (count, n, pick, keys) => {
        const ring = ringOf(count);
        const replicas = { dc1: Math.min(n, count - 1) };
        const victim = 'victim' in pick ? `m${pick.victim % count}` : '';
        const asked: RingChange =
          pick.kind === 'join'
            ? { kind: 'join', member: { id: 'new', dc: 'dc1', rack: 'rnew', weight: pick.weight } }
            : pick.kind === 'replace'
              ? { kind: 'replace', dead: victim, member: { id: 'new', dc: 'dc1', rack: 'rnew' } }
              : { kind: pick.kind, id: victim };
        const plan = planChange(ring, replicas, asked);
        const after = ringAfter(ring, asked);
        const gone = pick.kind === 'remove' || pick.kind === 'replace' ? victim : null;
        for (const key of keys) {
          const was = placeReplicas(ring, key, replicas, 0).replicas;
          const now = placeReplicas(after, key, replicas, 0).replicas;
          const covering = plan.transfers.filter((t) => inRanges(t.ranges, keyPosition(key)));
          // With every old replica gone (N = 1, say) nothing can be copied: the plan says so.
          const lost = was.every((m) => m === gone);
          expect(inRanges(plan.unrecoverable.ranges, keyPosition(key))).to.equal(lost);
          expect(covering.map((t) => t.target).sort()).to.deep.equal(lost ? [] : now.filter((m) => !was.includes(m)).sort());
          for (const t of covering) {
            expect(t.sources.length).to.be.greaterThan(0);
            for (const s of t.sources) expect(was).to.include(s);
            if (gone !== null) expect(t.sources).to.not.include(gone);
            if (pick.kind === 'decommission' && was.includes(victim)) expect(t.sources[0]).to.equal(victim);
          }
          const dropping = plan.drops.filter((d) => inRanges(d.ranges, keyPosition(key))).map((d) => d.member);
          expect(dropping.sort()).to.deep.equal(was.filter((m) => !now.includes(m) && m !== gone).sort());
        }
        // Shares add up: what moves is what the targets gain.
        const moved = plan.transfers.reduce((sum, t) => sum + t.share, 0) / replicas.dc1;
        expect(plan.movedShare).to.be.closeTo(moved, 1e-9);
      }),
      { numRuns: 60 },
    );
  });

  it('5 to 6 nodes moves about 1/6 of the copies (issue 16: within 10% of the ideal); replace moves the dead node\'s share', () => {
    for (const n of [1, 2, 3]) {
      const plan = planChange(ringOf(5), { dc1: n }, { kind: 'join', member: { id: 'm5', dc: 'dc1', rack: 'r5' } });
      expect(plan.movedShare, `N=${n}`).to.be.within((1 / 6) * 0.9, (1 / 6) * 1.1);
      expect(plan.transfers.every((t) => t.target === 'm5')).to.equal(true);
    }
    const replace = planChange(ringOf(5), { dc1: 3 }, { kind: 'replace', dead: 'm2', member: { id: 'x', dc: 'dc1', rack: 'rx' } });
    // The new identity gets every copy m2 held: m2's replica share (about 3/5 of the ring) over N.
    expect(replace.movedShare).to.be.within(0.15, 0.25);
    expect(replace.transfers.every((t) => t.target === 'x' && !t.sources.includes('m2'))).to.equal(true);
    expect(replace.drops).to.deep.equal([]);
    const leave = planChange(ringOf(6), { dc1: 3 }, { kind: 'decommission', id: 'm3' });
    expect(leave.movedShare).to.be.within((1 / 6) * 0.9, (1 / 6) * 1.1);
    expect(leave.drops.map((d) => d.member)).to.deep.equal(['m3']);
    expect(() => planChange(ringOf(3), { dc1: 3 }, { kind: 'join', member: { id: 'm1', dc: 'dc1', rack: 'x' } })).to.throw(RangeError, /already a member/);
    expect(() => planChange(ringOf(3), { dc1: 3 }, { kind: 'remove', id: 'zz' })).to.throw(RangeError, /not a member/);
  });
});
