/**
 * The consistent-hash ring (Karger et al. 1997) with virtual nodes and
 * preference lists (Dynamo 2007 §4.2-4.3). Pure and immutable: a `Ring` is a
 * value built from the ordered member list plus each member's tokens;
 * `withMember` / `withoutMember` return new rings. Positions, ownership and
 * token assignment are described in `tokens.ts`; DC- and rack-aware
 * placement lives in `placement.ts`.
 *
 * Ring state is exactly: members in join order, each with id, data center,
 * rack, weight and tokens. `Ring.fromTokens` rebuilds a ring from that state
 * (as gossiped in the membership `tokens` field); `Ring.build` derives the
 * tokens by joining members one at a time, which only the first formation of
 * a cluster (or a test) should do.
 *
 * Thread contract: a ring is safe to call from one thread only (lookups reuse
 * a scratch array to avoid allocating); each thread builds its own.
 */
import { assert } from './assert.js';
import { MEMBER_ID_MAX_CHARS, MEMBERS_MAX, RING_VNODES_MAX, RING_VNODES_PER_WEIGHT } from './limits.js';
import { assignTokens, keyPosition, RING_POSITIONS, rangeLength } from './tokens.js';

/** A member as it asks to join the ring. */
export interface RingMemberInput {
  /** Member id (the membership id). */
  id: string;
  /** Data center it runs in. */
  dc: string;
  /** Rack within the data center. */
  rack: string;
  /** Relative capacity, ≥ 0; default 1. Weight 0 owns no tokens and holds no data. */
  weight?: number;
  /** Generation of this identity: a member that rejoins under a new epoch gets fresh tokens. Default 0. */
  epoch?: number;
}

/** A member placed on the ring: its location, weight and tokens. */
export interface RingMember {
  /** Member id. */
  id: string;
  /** Data center. */
  dc: string;
  /** Rack within the data center. */
  rack: string;
  /** Relative capacity it joined with. */
  weight: number;
  /** Its tokens, ascending (positions in [0, RING_POSITIONS)). */
  tokens: readonly number[];
}

/** Options for deriving tokens. */
export interface RingOptions {
  /** Virtual nodes per unit of weight; default RING_VNODES_PER_WEIGHT. */
  vnodesPerWeight?: number;
}

/** The replicas of a key and, after them, the fallbacks that stand in for replicas that are down. */
export interface PreferenceList {
  /** The first N distinct members clockwise from the key (the coordinator is first). */
  replicas: string[];
  /** Further distinct members in ring order, for sloppy quorum (Dynamo §4.6). */
  fallbacks: string[];
}

/** Virtual nodes a member of `weight` owns: round(weight × vnodesPerWeight). */
export function vnodeCount(weight: number, vnodesPerWeight = RING_VNODES_PER_WEIGHT): number {
  assert(Number.isFinite(weight) && weight >= 0, 'weight is a finite number ≥ 0');
  assert(Number.isInteger(vnodesPerWeight) && vnodesPerWeight >= 1, 'vnodesPerWeight is a positive integer');
  const count = Math.round(weight * vnodesPerWeight);
  assert(count <= RING_VNODES_MAX, `weight ${weight} gives ${count} vnodes, over RING_VNODES_MAX`);
  return count;
}

/** An immutable consistent-hash ring. */
export class Ring {
  /** Members in join order. */
  private readonly memberList: readonly RingMember[];
  /** Member index by id. */
  private readonly indexById: ReadonlyMap<string, number>;
  /** Every token, ascending. */
  private readonly positions: Float64Array;
  /** Index into `memberList` of each token's owner, parallel to `positions`. */
  private readonly owners: Uint32Array;
  /** Members that own at least one token. */
  readonly placedCount: number;
  /** Scratch for the distinct-member walk: `seen[i] === stamp` marks member i as taken. */
  private readonly seen: Uint32Array;
  private stamp = 0;

  private constructor(members: readonly RingMember[]) {
    assert(members.length <= MEMBERS_MAX, 'members within MEMBERS_MAX');
    const index = new Map<string, number>();
    const all: Array<{ token: number; owner: number }> = [];
    members.forEach((member, owner) => {
      assertValidMember(member);
      assert(!index.has(member.id), `member ${member.id} appears once`);
      index.set(member.id, owner);
      for (const token of member.tokens) all.push({ token, owner });
    });
    // Equal tokens (only after a protocol violation) sort by join order, so every node orders them alike.
    all.sort((a, b) => a.token - b.token || a.owner - b.owner);
    this.memberList = members;
    this.indexById = index;
    this.positions = Float64Array.from(all, (t) => t.token);
    this.owners = Uint32Array.from(all, (t) => t.owner);
    this.placedCount = members.filter((m) => m.tokens.length > 0).length;
    this.seen = new Uint32Array(members.length);
  }

  /** A ring from explicit state: members in join order with their tokens (e.g. from membership gossip). */
  static fromTokens(members: readonly RingMember[]): Ring {
    return new Ring(members.map((m) => ({ ...m, tokens: [...m.tokens].sort((a, b) => a - b) })));
  }

  /** A ring formed by joining `members` one at a time, in order. */
  static build(members: readonly RingMemberInput[], options: RingOptions = {}): Ring {
    let ring = new Ring([]);
    for (const member of members) ring = ring.withMember(member, options);
    return ring;
  }

  /** This ring with `member` joined: it takes its tokens from the others, whose tokens do not move. */
  withMember(member: RingMemberInput, options: RingOptions = {}): Ring {
    assert(!this.indexById.has(member.id), `member ${member.id} is not on the ring yet`);
    const weight = member.weight ?? 1;
    const vnodes = vnodeCount(weight, options.vnodesPerWeight);
    const tokens = assignTokens(this.memberList, member.id, vnodes, member.epoch ?? 0);
    return new Ring([...this.memberList, { id: member.id, dc: member.dc, rack: member.rack, weight, tokens }]);
  }

  /** This ring without member `id`: its ranges pass to their successors; nobody else's tokens move. */
  withoutMember(id: string): Ring {
    assert(this.indexById.has(id), `member ${id} is on the ring`);
    return new Ring(this.memberList.filter((m) => m.id !== id));
  }

  /** Members in join order (the ring's state, with `tokensOf` for each). */
  members(): readonly RingMember[] {
    return this.memberList;
  }

  /** The member with this id, if on the ring. */
  member(id: string): RingMember | undefined {
    const index = this.indexById.get(id);
    return index === undefined ? undefined : this.memberList[index];
  }

  /** The tokens of member `id`, ascending (what it gossips in its membership entry). */
  tokensOf(id: string): readonly number[] {
    const member = this.member(id);
    assert(member !== undefined, `member ${id} is on the ring`);
    return member.tokens;
  }

  /** Total tokens on the ring. */
  get tokenCount(): number {
    return this.positions.length;
  }

  /** Index of the token that owns `position`: the first at or after it, wrapping (binary search). */
  tokenIndexAt(position: number): number {
    const positions = this.positions;
    let lo = 0;
    let hi = positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((positions[mid] as number) < position) lo = mid + 1;
      else hi = mid;
    }
    return lo === positions.length ? 0 : lo;
  }

  /** The position of token `tokenIndex` (tokens ascending). */
  tokenPosition(tokenIndex: number): number {
    const position = this.positions[tokenIndex];
    assert(position !== undefined, 'token index on the ring');
    return position;
  }

  /** The member (by join-order index) owning token `tokenIndex`. */
  ownerIndexOfToken(tokenIndex: number): number {
    const owner = this.owners[tokenIndex];
    assert(owner !== undefined, 'token index on the ring');
    return owner;
  }

  /** The member owning `position`. */
  ownerAt(position: number): string {
    assert(this.positions.length > 0, 'the ring has tokens');
    return this.memberAt(this.ownerIndexOfToken(this.tokenIndexAt(position))).id;
  }

  /** The member owning `key`: the first clockwise from its hash (the head of its preference list). */
  ownerOf(key: Uint8Array): string {
    return this.ownerAt(keyPosition(key));
  }

  /** The member at join-order index `index`. */
  memberAt(index: number): RingMember {
    const member = this.memberList[index];
    assert(member !== undefined, 'member index on the ring');
    return member;
  }

  /**
   * Preference list of `key` (Dynamo §4.3): the first `n` distinct members
   * clockwise from its position, skipping further vnodes of members already
   * chosen, then up to `fallbackLimit` further distinct members in ring order
   * (all of them by default). Fewer than `n` replicas when fewer members own tokens.
   */
  preferenceList(key: Uint8Array, n: number, fallbackLimit = MEMBERS_MAX): PreferenceList {
    assert(Number.isInteger(n) && n >= 0, 'n is a whole number');
    const result: PreferenceList = { replicas: [], fallbacks: [] };
    const want = Math.min(n + fallbackLimit, this.placedCount);
    this.walkDistinct(keyPosition(key), (member) => {
      const list = result.replicas.length < n ? result.replicas : result.fallbacks;
      list.push(member.id);
      return result.replicas.length + result.fallbacks.length < want;
    });
    return result;
  }

  /**
   * Visit each distinct member once, clockwise from `position`, until `visit`
   * returns false or every placed member has been visited. Placement builds on this.
   */
  walkDistinct(position: number, visit: (member: RingMember) => boolean): void {
    const total = this.positions.length;
    if (total === 0) return;
    const stamp = this.nextStamp();
    let found = 0;
    let t = this.tokenIndexAt(position);
    for (let step = 0; step < total && found < this.placedCount; step++) {
      const owner = this.owners[t] as number;
      if (this.seen[owner] !== stamp) {
        this.seen[owner] = stamp;
        found++;
        if (!visit(this.memberAt(owner))) return;
      }
      t = t + 1 === total ? 0 : t + 1;
    }
  }

  /** Each member's exact share of the keyspace (fraction of positions owned), computed from the tokens. */
  ownership(): Map<string, number> {
    const shares = new Map<string, number>(this.memberList.map((m) => [m.id, 0]));
    const total = this.positions.length;
    for (let t = 0; t < total; t++) {
      const previous = this.positions[t === 0 ? total - 1 : t - 1] as number;
      const token = this.positions[t] as number;
      const length = total > 1 && previous === token ? 0 : rangeLength(previous, token);
      const id = this.memberAt(this.owners[t] as number).id;
      shares.set(id, (shares.get(id) ?? 0) + length / RING_POSITIONS);
    }
    return shares;
  }

  /** A fresh stamp for the distinct-member walk (clears the scratch on wrap-around). */
  private nextStamp(): number {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.seen.fill(0);
      this.stamp = 1;
    }
    return this.stamp;
  }
}

/** Check a member's fields and tokens against the bounds. */
function assertValidMember(member: RingMember): void {
  assert(member.id.length > 0 && member.id.length <= MEMBER_ID_MAX_CHARS, 'member id length within MEMBER_ID_MAX_CHARS');
  assert(Number.isFinite(member.weight) && member.weight >= 0, 'weight is a finite number ≥ 0');
  assert(member.tokens.length <= RING_VNODES_MAX, 'tokens within RING_VNODES_MAX');
  for (const token of member.tokens) {
    assert(Number.isInteger(token) && token >= 0 && token < RING_POSITIONS, 'token is a ring position');
  }
}
