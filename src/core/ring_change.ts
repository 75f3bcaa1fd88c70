/**
 * A membership change as a plan (issue 16): the ring after it, and which
 * key ranges must be copied to whom, from whom, before ownership may
 * switch. Riak shows a staged change's transfers before `cluster commit`;
 * Cassandra computes "pending ranges" for a bootstrapping node. Here the
 * plan is a value computed the same way by anyone who holds the ring.
 *
 * The four changes:
 * - join: the member takes tokens from the others (`Ring.withMember`: it
 *   splits the longest ranges, so about 1/n of the keys move, honouring
 *   weight; DC and rack come in through placement);
 * - decommission: a live member leaves; its ranges pass to their
 *   successors, streamed from the leaving member first (it holds them all);
 * - remove: a dead member is dropped for good; its ranges are re-replicated
 *   from the surviving replicas;
 * - replace: a new identity takes a dead member's tokens exactly, and is
 *   filled from the surviving replicas of those ranges.
 *
 * Every key's new replicas are its old replicas plus the targets of the
 * transfers covering its position; a transfer's sources are old replicas
 * of those ranges, the leaving member first on decommission, the dead one
 * never. Ranges are (from, to] on the ring, as tokens own them.
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import { assert } from './assert.js';
import { placeAt, type DcReplicas } from './placement.js';
import { Ring, type RingMember, type RingMemberInput } from './ring.js';
import { RING_POSITIONS, rangeLength } from './tokens.js';

/** What the operator asked for. */
export type RingChange =
  | { kind: 'join'; member: RingMemberInput }
  | { kind: 'decommission'; id: string }
  | { kind: 'remove'; id: string }
  | { kind: 'replace'; dead: string; member: Omit<RingMemberInput, 'weight' | 'epoch'> };

/** A range of ring positions, (from, to]. */
export interface RingRange {
  from: number;
  to: number;
}

/** Keys one member must receive before the change commits. */
export interface Transfer {
  /** The member that will replicate the ranges and does not hold them yet. */
  target: string;
  /**
   * Members that hold them now, in the order to try: first those that drop
   * the ranges (the leaving member, or the replica a joining member takes
   * over), whose copy the target takes over exactly, then the others.
   */
  sources: string[];
  /**
   * 'first': the target is done when it matches the first source that
   * answers (a replica that drops the ranges: copies are carried over one
   * for one). 'each': no replica drops them (a removal or replacement of a
   * dead one), so it matches each surviving replica in turn and holds the
   * union of what they hold.
   */
  syncWith: 'first' | 'each';
  /** The key ranges, merged where adjacent. */
  ranges: RingRange[];
  /** Fraction of the ring the ranges cover. */
  share: number;
}

/** A change, planned. */
export interface RingChangePlan {
  change: RingChange;
  before: readonly RingMember[];
  after: readonly RingMember[];
  transfers: Transfer[];
  /** Copies each member no longer replicates after the switch (dropped once it is confirmed). */
  drops: { member: string; ranges: RingRange[]; share: number }[];
  /**
   * Ranges whose every replica is gone (a removal or replacement of the
   * last holder, as with N = 1): their keys cannot be copied from anyone.
   */
  unrecoverable: { ranges: RingRange[]; share: number };
  /** Fraction of all replica copies that move: Σ transfer share / N. */
  movedShare: number;
}

/** The ring after `change`; throws `RangeError` saying why a change cannot apply. */
export function ringAfter(ring: Ring, change: RingChange): Ring {
  switch (change.kind) {
    case 'join':
      if (ring.member(change.member.id) !== undefined) throw new RangeError(`${change.member.id} is already a member`);
      return ring.withMember(change.member);
    case 'decommission':
    case 'remove':
      if (ring.member(change.id) === undefined) throw new RangeError(`${change.id} is not a member`);
      if (ring.members().length <= 1) throw new RangeError(`${change.id} is the last member`);
      return ring.withoutMember(change.id);
    case 'replace': {
      const dead = ring.member(change.dead);
      if (dead === undefined) throw new RangeError(`${change.dead} is not a member`);
      if (ring.member(change.member.id) !== undefined) throw new RangeError(`${change.member.id} is already a member`);
      // The new identity takes the dead member's place (and so its tokens) exactly.
      return Ring.fromTokens(ring.members().map((m) => (m.id === change.dead ? { ...change.member, weight: dead.weight, tokens: dead.tokens } : m)));
    }
  }
}

/**
 * Plan `change` on `ring` with `replicas` per data center: the ring after,
 * the transfers it needs, the copies it frees, and the share that moves.
 */
export function planChange(ring: Ring, replicas: DcReplicas, change: RingChange): RingChangePlan {
  const after = ringAfter(ring, change);
  const gone = change.kind === 'remove' ? change.id : change.kind === 'replace' ? change.dead : null;
  const n = Object.values(replicas).reduce((a, b) => a + b, 0);
  assert(n >= 1, 'at least one replica per key');

  // Every token of either ring bounds an elementary range on which both placements are constant.
  const bounds = [...new Set([...tokensOf(ring), ...tokensOf(after)])].sort((a, b) => a - b);
  const transfers = new Map<string, Transfer>();
  const drops = new Map<string, { member: string; ranges: RingRange[]; share: number }>();
  const unrecoverable = { ranges: [] as RingRange[], share: 0 };
  let movedLength = 0;
  for (let i = 0; i < bounds.length; i++) {
    const to = bounds[i]!;
    const from = i === 0 ? bounds[bounds.length - 1]! : bounds[i - 1]!;
    const length = bounds.length === 1 ? RING_POSITIONS : rangeLength(from, to);
    const was = placeAt(ring, to, replicas, 0).replicas;
    const now = placeAt(after, to, replicas, 0).replicas;
    const holders = was.filter((m) => m !== gone);
    // The replicas dropping the range (the leaving member, or the one a newcomer takes over) hold what the target
    // takes over: stream from them first.
    const dropping = holders.filter((m) => !now.includes(m));
    const sources = [...dropping, ...holders.filter((m) => !dropping.includes(m))];
    if (holders.length === 0) {
      addRange(unrecoverable.ranges, { from, to });
      unrecoverable.share += length / RING_POSITIONS;
    }
    for (const target of now) {
      if (was.includes(target) || holders.length === 0) continue;
      movedLength += length;
      // One transfer per target and first source (each pass scans that source's store once): ranges of one
      // dropping replica go together, their other holders kept as fallbacks where they hold every range.
      const syncWith = dropping.length > 0 ? 'first' : 'each';
      const key = syncWith === 'first' ? `${target}>${sources[0]}` : `${target}>${sources.join(',')}`;
      let transfer = transfers.get(key);
      if (transfer === undefined) transfers.set(key, (transfer = { target, sources: [...sources], syncWith, ranges: [], share: 0 }));
      else if (syncWith === 'first') transfer.sources = [sources[0]!, ...transfer.sources.slice(1).filter((m) => sources.includes(m))];
      addRange(transfer.ranges, { from, to });
      transfer.share += length / RING_POSITIONS;
    }
    for (const member of was) {
      if (now.includes(member) || member === gone) continue;
      let drop = drops.get(member);
      if (drop === undefined) drops.set(member, (drop = { member, ranges: [], share: 0 }));
      addRange(drop.ranges, { from, to });
      drop.share += length / RING_POSITIONS;
    }
  }
  return {
    change,
    before: ring.members(),
    after: after.members(),
    transfers: [...transfers.values()],
    drops: [...drops.values()],
    unrecoverable,
    movedShare: movedLength / RING_POSITIONS / n,
  };
}

/** The ranges of ring positions `member` replicates on `ring` with `replicas` per data center. */
export function rangesOf(ring: Ring, replicas: DcReplicas, member: string): RingRange[] {
  const bounds = [...new Set(tokensOf(ring))].sort((a, b) => a - b);
  const ranges: RingRange[] = [];
  for (let i = 0; i < bounds.length; i++) {
    const to = bounds[i]!;
    const from = i === 0 ? bounds[bounds.length - 1]! : bounds[i - 1]!;
    if (placeAt(ring, to, replicas, 0).replicas.includes(member)) addRange(ranges, { from, to });
  }
  // The last range may continue into the first (the ring wraps).
  if (ranges.length > 1 && ranges[ranges.length - 1]!.to === ranges[0]!.from) {
    ranges[0]!.from = ranges[ranges.length - 1]!.from;
    ranges.pop();
  }
  return ranges;
}

/**
 * A set of ring ranges answering `has(position)` in O(log ranges): what a
 * cleanup compaction asks for every key it merges.
 */
export class RangeSet {
  /** Non-wrapping (from, to] pieces, sorted by `to`. */
  private readonly pieces: RingRange[] = [];

  constructor(ranges: readonly RingRange[]) {
    for (const r of ranges) {
      if (r.from < r.to) this.pieces.push({ ...r });
      else {
        // A range over the wrap: (from, end of the ring) and [0, to].
        this.pieces.push({ from: r.from, to: RING_POSITIONS });
        this.pieces.push({ from: -1, to: r.to });
      }
    }
    this.pieces.sort((a, b) => a.to - b.to);
  }

  has(position: number): boolean {
    let lo = 0;
    let hi = this.pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pieces[mid]!.to < position) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.pieces.length && this.pieces[i]!.to >= position; i++) if (this.pieces[i]!.from < position) return true;
    return false;
  }
}

/** Whether `position` falls in one of `ranges`. */
export function inRanges(ranges: readonly RingRange[], position: number): boolean {
  for (const r of ranges) {
    if (r.from < r.to ? position > r.from && position <= r.to : position > r.from || position <= r.to) return true;
  }
  return false;
}

function tokensOf(ring: Ring): number[] {
  return ring.members().flatMap((m) => m.tokens);
}

/** Append `range`, merging it into the last one when they touch. */
function addRange(ranges: RingRange[], range: RingRange): void {
  const last = ranges[ranges.length - 1];
  if (last !== undefined && last.to === range.from) last.to = range.to;
  else ranges.push({ ...range });
}
