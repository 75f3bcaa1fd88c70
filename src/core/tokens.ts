/**
 * Ring positions and balanced token assignment (consistent hashing, Karger et
 * al. 1997; virtual nodes, Dynamo 2007 §4.2). Pure: no I/O, no clock, no
 * ambient randomness.
 *
 * Positions. A key's position is the top 53 bits of its 64-bit xxhash
 * (`hash64(key) >> 11`), so the ring has 2^53 positions and every position,
 * token and range length is an exact JavaScript number: lookups compare plain
 * doubles in a Float64Array, and tokens travel as `number[]` in membership
 * gossip (`MemberEntry.tokens`) without a bigint encoding. 2^53 positions
 * leave token collisions out of reach for any ring ringkv can hold.
 *
 * Ownership. A token t owns the half-open range (predecessor token, t]: a key
 * belongs to the first token at or clockwise after its position.
 *
 * Assignment. Random tokens do not balance 128 vnodes per node to within 10%
 * (the largest of n shares runs ~15-25% over the mean), so a joining member
 * chooses its tokens against the ring it joins, in the spirit of Cassandra's
 * `allocate_tokens_for_local_replication_factor`: each of its tokens splits
 * the largest range of the member that is currently most over its fair share
 * (share proportional to token count) and takes just enough of it that the
 * newcomer ends at its own fair share. Existing tokens never move, so a join
 * moves only the keys the newcomer takes (about 1/n of them) and a leave
 * moves only the leaver's keys. The first member's tokens are evenly spaced
 * from an offset seeded by its id and epoch; later tokens are a function of
 * the ring joined plus the id and epoch (which jitter each cut by < 2%, so two
 * members that wrongly join the same ring state at once cannot pick
 * identical tokens). Joins are therefore serialized: ring state is the
 * ordered member list plus each member's tokens, and a ring is rebuilt from
 * that state, never by re-deriving tokens of members already placed.
 */
import { assert } from './assert.js';
import { hash64 } from './hash.js';
import { RING_VNODES_MAX } from './limits.js';

/** Number of positions on the ring: 2^53, so positions are exact doubles. */
export const RING_POSITIONS = 2 ** 53;

/** Bits dropped from a 64-bit hash to make a ring position. */
const POSITION_SHIFT = 11n;

/**
 * A new token takes at most this fraction of the range it splits, so the
 * member that owned the range keeps a real (not vanishing) piece of it.
 */
const SPLIT_MAX_FRACTION = 0.95;

/** Each cut is shortened by up to this fraction, seeded by id and epoch (see the header). */
const CUT_JITTER_FRACTION = 0.02;

/** The ring position of a key: the top 53 bits of its xxh64 hash. */
export function keyPosition(key: Uint8Array): number {
  return Number(hash64(key) >> POSITION_SHIFT);
}

/** Length of the range (from, to] going clockwise; a full turn when from === to. */
export function rangeLength(from: number, to: number): number {
  return to > from ? to - from : to - from + RING_POSITIONS;
}

/** Position `from + distance` clockwise, wrapped (written so no intermediate exceeds 2^53). */
export function advance(from: number, distance: number): number {
  const room = RING_POSITIONS - from;
  return distance < room ? from + distance : distance - room;
}

/** A member already on the ring, as token assignment sees it. */
export interface TokenHolder {
  /** Member id. */
  id: string;
  /** Its tokens (positions in [0, RING_POSITIONS)); the count is its weight. */
  tokens: readonly number[];
}

/** Ranges owned by one existing member while a newcomer's tokens are chosen. */
interface DonorRanges {
  /** Start (exclusive) of each range owned. */
  starts: number[];
  /** Length of each range owned. */
  lengths: number[];
  /** Positions owned in all. */
  load: number;
  /** Positions owned at a fair share after the join. */
  target: number;
}

/**
 * Tokens for member `id` joining a ring held by `existing` (in join order)
 * with `vnodes` virtual nodes, sorted ascending. Deterministic in its inputs.
 */
export function assignTokens(existing: readonly TokenHolder[], id: string, vnodes: number, epoch = 0): number[] {
  assert(Number.isInteger(vnodes) && vnodes >= 0 && vnodes <= RING_VNODES_MAX, 'vnodes within RING_VNODES_MAX');
  if (vnodes === 0) return [];
  const seed = memberSeed(id, epoch);
  const existingTokens = existing.reduce((sum, holder) => sum + holder.tokens.length, 0);
  if (existingTokens === 0) return evenlySpaced(vnodes, seed);
  const donors = collectRanges(existing, existingTokens + vnodes);
  const target = (RING_POSITIONS * vnodes) / (existingTokens + vnodes);
  const tokens: number[] = [];
  let taken = 0;
  for (let k = 0; k < vnodes; k++) {
    const want = (target - taken) / (vnodes - k);
    const donor = mostOverloaded(donors);
    const r = largestRange(donor);
    const start = donor.starts[r] ?? 0;
    const length = donor.lengths[r] ?? 0;
    const jitter = 1 - CUT_JITTER_FRACTION * unitFromSeed(seed, k);
    const cut = Math.floor(Math.min(want * jitter, length * SPLIT_MAX_FRACTION));
    assert(cut >= 1 && cut < length, 'a new token falls strictly inside the range it splits');
    const token = advance(start, cut);
    tokens.push(token);
    donor.starts[r] = token;
    donor.lengths[r] = length - cut;
    donor.load -= cut;
    taken += cut;
  }
  return tokens.sort((a, b) => a - b);
}

/** `vnodes` tokens a ring's length / vnodes apart, starting from a seeded offset. */
function evenlySpaced(vnodes: number, seed: bigint): number[] {
  const step = Math.floor(RING_POSITIONS / vnodes);
  const offset = Number(seed >> POSITION_SHIFT) % step;
  const tokens: number[] = [];
  for (let k = 0; k < vnodes; k++) tokens.push(offset + k * step);
  return tokens;
}

/** Each existing member's ranges, loads and post-join fair share. */
function collectRanges(existing: readonly TokenHolder[], totalTokens: number): DonorRanges[] {
  const all: Array<{ token: number; owner: number }> = [];
  existing.forEach((holder, owner) => {
    for (const token of holder.tokens) all.push({ token, owner });
  });
  all.sort((a, b) => a.token - b.token || a.owner - b.owner);
  const donors: DonorRanges[] = existing.map((holder) => ({
    starts: [],
    lengths: [],
    load: 0,
    target: (RING_POSITIONS * holder.tokens.length) / totalTokens,
  }));
  let previous = all[all.length - 1]?.token ?? 0;
  for (const { token, owner } of all) {
    const donor = donors[owner];
    assert(donor !== undefined, 'every token has an owner');
    // A duplicate token (only after a protocol violation) owns nothing.
    const length = token === previous && all.length > 1 ? 0 : rangeLength(previous, token);
    donor.starts.push(previous);
    donor.lengths.push(length);
    donor.load += length;
    previous = token;
  }
  return donors;
}

/** The member furthest above its fair share (ties: earliest in join order). */
function mostOverloaded(donors: readonly DonorRanges[]): DonorRanges {
  let best: DonorRanges | undefined;
  for (const donor of donors) {
    if (donor.starts.length === 0) continue;
    if (best === undefined || donor.load - donor.target > best.load - best.target) best = donor;
  }
  assert(best !== undefined, 'some existing member owns tokens');
  return best;
}

/** Index of a member's largest range (ties: the first in ring order). */
function largestRange(donor: DonorRanges): number {
  let best = 0;
  for (let r = 1; r < donor.lengths.length; r++) {
    if ((donor.lengths[r] ?? 0) > (donor.lengths[best] ?? 0)) best = r;
  }
  return best;
}

/** A 64-bit seed from a member id and epoch. */
function memberSeed(id: string, epoch: number): bigint {
  assert(Number.isInteger(epoch) && epoch >= 0, 'epoch is a whole number');
  return hash64(new TextEncoder().encode(`${id}\u0000${epoch}`));
}

/** A number in [0, 1) derived from `seed` and `k` (splitmix-style mixing of 32 bits). */
function unitFromSeed(seed: bigint, k: number): number {
  let z = (Number(seed & 0xffffffffn) + Math.imul(k + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
}
