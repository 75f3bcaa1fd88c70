/**
 * Data-center- and rack-aware preference lists (Dynamo 2007 §4.3 and §4.6;
 * the walk is Cassandra's NetworkTopologyStrategy). Pure.
 *
 * Given per-DC replica counts (e.g. `{ dc1: 3, dc2: 2 }`), walk the ring
 * clockwise from the key, visiting each distinct member once. A member is
 * taken for its DC while that DC still needs replicas, except that while
 * some rack of the DC holds no replica yet, a member on a rack that already
 * holds one is set aside; once every rack of the DC is used, the set-aside
 * members are taken first (in the order met), then the walk fills the DC
 * from any rack. So racks within a DC are distinct whenever the DC has enough
 * racks, and replicas still land when it has too few.
 *
 * A DC with fewer members than its count gets all of its members and no
 * more: the count is a ceiling, never a reason to place a second replica on
 * one member or to borrow members of another DC. Fallbacks are the members
 * of the listed DCs that are not replicas, in ring order from the key; a
 * member in a DC absent from the counts (or with count 0) is neither a
 * replica nor a fallback, because that DC is meant to hold none of the data.
 */
import { assert } from './assert.js';
import { MEMBERS_MAX } from './limits.js';
import type { PreferenceList, Ring, RingMember } from './ring.js';
import { keyPosition } from './tokens.js';

/** Replica count per data center, e.g. `{ dc1: 3, dc2: 2 }`. */
export type DcReplicas = Readonly<Record<string, number>>;

/** Per-DC progress of the walk. */
interface DcProgress {
  /** Replicas still wanted in this DC. */
  needed: number;
  /** Racks of this DC (members with tokens only). */
  rackCount: number;
  /** Racks that already hold a replica. */
  racksUsed: Set<string>;
  /** Members met on a used rack while unused racks remained, in the order met. */
  setAside: RingMember[];
}

/**
 * The DC- and rack-aware preference list of `key`: replicas in the order
 * chosen (the first member clockwise from the key in a listed DC comes
 * first), then up to `fallbackLimit` fallbacks in ring order.
 */
export function placeReplicas(ring: Ring, key: Uint8Array, replicas: DcReplicas, fallbackLimit = MEMBERS_MAX): PreferenceList {
  return placeAt(ring, keyPosition(key), replicas, fallbackLimit);
}

/** `placeReplicas` for a ring position rather than a key. */
export function placeAt(ring: Ring, position: number, replicas: DcReplicas, fallbackLimit = MEMBERS_MAX): PreferenceList {
  const progress = dcProgress(ring, replicas);
  const chosen: string[] = [];
  let stillNeeded = 0;
  for (const dc of progress.values()) stillNeeded += dc.needed;
  ring.walkDistinct(position, (member) => {
    const dc = progress.get(member.dc);
    if (dc === undefined) return true;
    stillNeeded -= takeOrSetAside(dc, member, chosen);
    return stillNeeded > 0;
  });
  const isReplica = new Set(chosen);
  const fallbacks: string[] = [];
  // Fallbacks: members of listed DCs not chosen, in ring order from the key
  // (members set aside and never needed included).
  const addFallback = (member: RingMember): boolean => {
    if (progress.has(member.dc) && !isReplica.has(member.id)) fallbacks.push(member.id);
    return fallbacks.length < fallbackLimit;
  };
  if (fallbackLimit > 0) ring.walkDistinct(position, addFallback);
  return { replicas: chosen, fallbacks };
}

/** Walk state for each listed DC with a positive count. */
function dcProgress(ring: Ring, replicas: DcReplicas): Map<string, DcProgress> {
  const racks = new Map<string, Set<string>>();
  for (const member of ring.members()) {
    if (member.tokens.length === 0) continue;
    const set = racks.get(member.dc) ?? new Set<string>();
    set.add(member.rack);
    racks.set(member.dc, set);
  }
  const progress = new Map<string, DcProgress>();
  for (const [dc, count] of Object.entries(replicas)) {
    assert(Number.isInteger(count) && count >= 0 && count <= MEMBERS_MAX, `replica count for ${dc} is a whole number`);
    if (count === 0) continue;
    const dcRacks = racks.get(dc);
    // A DC with no members on the ring needs nothing: take what exists.
    if (dcRacks === undefined) continue;
    progress.set(dc, { needed: count, rackCount: dcRacks.size, racksUsed: new Set(), setAside: [] });
  }
  return progress;
}

/**
 * Take `member` for its DC, or set it aside (NetworkTopologyStrategy's rule).
 * Returns how many replicas this step placed.
 */
function takeOrSetAside(dc: DcProgress, member: RingMember, chosen: string[]): number {
  if (dc.needed === 0) return 0;
  if (dc.racksUsed.size === dc.rackCount) {
    chosen.push(member.id);
    dc.needed--;
    return 1;
  }
  if (dc.racksUsed.has(member.rack)) {
    dc.setAside.push(member);
    return 0;
  }
  chosen.push(member.id);
  dc.needed--;
  dc.racksUsed.add(member.rack);
  let placed = 1;
  if (dc.racksUsed.size === dc.rackCount) {
    while (dc.needed > 0 && dc.setAside.length > 0) {
      const next = dc.setAside.shift() as RingMember;
      chosen.push(next.id);
      dc.needed--;
      placed++;
    }
  }
  return placed;
}
