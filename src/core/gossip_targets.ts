/**
 * Whom a node gossips to in one round, after Cassandra's `Gossiper`
 * (`doGossipToLiveMember`, `maybeGossipToUnreachableMember`,
 * `maybeGossipToSeed`):
 *
 *   - `fanout` random live members (alive or suspect), the epidemic part
 *     that spreads news in O(log n) rounds;
 *   - with probability down / (live + 1), one random member held down, so a
 *     member wrongly held down (or back from a partition) hears what is said
 *     about it and can refute it;
 *   - a seed when no live member is known (joining), and otherwise with
 *     probability seeds / (live + down) unless a seed was already chosen, so
 *     that two halves of a healed partition find each other through the seeds.
 *
 * Pure: randomness comes in as `random`. Safe to call from any thread.
 */
import { assert } from './assert.js';
import { GOSSIP_FANOUT_MAX } from './limits.js';
import { chooseRandom, type MembershipTable } from './membership.js';

/** Member ids to gossip to this round, distinct, never self. */
export function chooseGossipTargets(table: MembershipTable, seeds: readonly string[], fanout: number, random: () => number): string[] {
  assert(Number.isInteger(fanout) && fanout >= 1 && fanout <= GOSSIP_FANOUT_MAX, 'gossip fan-out within 1..GOSSIP_FANOUT_MAX');
  const live = table.liveIds();
  const targets = chooseRandom(live, fanout, random);
  const down = table
    .all()
    .filter(({ entry }) => entry.id !== table.self_id && entry.status === 'down')
    .map(({ entry }) => entry.id);
  if (down.length > 0 && random() < down.length / (live.length + 1)) {
    const [unreachable] = chooseRandom(down, 1, random);
    if (unreachable !== undefined) targets.push(unreachable);
  }
  const other_seeds = seeds.filter((id) => id !== table.self_id);
  if (other_seeds.length === 0) return targets;
  if (live.length === 0) {
    // Joining (or everyone else held down): ask every seed, the only members we can name.
    for (const seed of other_seeds) if (!targets.includes(seed)) targets.push(seed);
    return targets;
  }
  const seed_chosen = targets.some((id) => other_seeds.includes(id));
  if (!seed_chosen && random() < other_seeds.length / (live.length + down.length)) {
    const [seed] = chooseRandom(other_seeds, 1, random);
    if (seed !== undefined) targets.push(seed);
  }
  return targets;
}
