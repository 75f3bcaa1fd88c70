/**
 * `npm run bench:ring`: issue 16's data-movement figure. A 5-node ring gets
 * a sixth member (`planChange`, N = 1, 2, 3); the share of replica copies
 * that must move is read from the plan and counted on 1M random keys (each
 * key's new replicas that did not hold it), against the ideal 1/6. The
 * same for a decommission (6 to 5) and a replacement. Writes
 * bench/results/ring_change.json.
 */
import { machine, writeResults } from '../common/report.js';
import { placeReplicas } from '../../src/core/placement.js';
import { planChange, ringAfter, type RingChange } from '../../src/core/ring_change.js';
import { Ring } from '../../src/core/ring.js';
import { Prng } from '../../src/core/prng.js';

const KEYS = 1_000_000;
const ring = (count: number): Ring => Ring.build(Array.from({ length: count }, (_, i) => ({ id: `n${i + 1}`, dc: 'dc1', rack: `n${i + 1}` })));

function measure(before: Ring, change: RingChange, n: number): { plan: number; keys_moved: number; copies_moved: number; transfers: number } {
  const plan = planChange(before, { dc1: n }, change);
  const after = ringAfter(before, change);
  const prng = new Prng(1);
  const key = new Uint8Array(16);
  let keysMoved = 0;
  let copiesMoved = 0;
  for (let i = 0; i < KEYS; i++) {
    prng.fill(key);
    const was = placeReplicas(before, key, { dc1: n }, 0).replicas;
    const now = placeReplicas(after, key, { dc1: n }, 0).replicas;
    const moved = now.filter((m) => !was.includes(m)).length;
    copiesMoved += moved;
    if (moved > 0) keysMoved++;
  }
  return { plan: plan.movedShare, keys_moved: keysMoved / KEYS, copies_moved: copiesMoved / (KEYS * n), transfers: plan.transfers.length };
}

const results: Record<string, unknown> = { machine: machine(), keys: KEYS, ideal_join_5_to_6: 1 / 6 };
for (const n of [1, 2, 3]) {
  const join = measure(ring(5), { kind: 'join', member: { id: 'n6', dc: 'dc1', rack: 'n6' } }, n);
  const leave = measure(ring(6), { kind: 'decommission', id: 'n6' }, n);
  const replace = measure(ring(5), { kind: 'replace', dead: 'n3', member: { id: 'n3b', dc: 'dc1', rack: 'n3b' } }, n);
  results[`n${n}`] = { join_5_to_6: join, decommission_6_to_5: leave, replace_1_of_5: replace, join_vs_ideal: join.copies_moved / (1 / 6) };
  console.log(`N=${n}: join 5->6 moves ${(join.copies_moved * 100).toFixed(2)}% of copies (plan ${(join.plan * 100).toFixed(2)}%, ideal 16.67%: ${(join.copies_moved / (1 / 6)).toFixed(3)}x), ${(join.keys_moved * 100).toFixed(1)}% of keys gain a replica; decommission 6->5 ${(leave.copies_moved * 100).toFixed(2)}%; replace ${(replace.copies_moved * 100).toFixed(2)}%`);
}
writeResults('ring_change', results);
