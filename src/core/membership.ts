/**
 * The gossip membership table (Dynamo 2007 §4.8; Cassandra's gossiper; the
 * status lattice of SWIM 2002 and HashiCorp memberlist's `state.go`).
 *
 * Each node keeps one entry per member it knows. The owner of an entry is
 * the member itself: only it raises its heartbeat, its incarnation, and
 * changes its address, location or tokens (and it raises its heartbeat when
 * it does). Other nodes may only move its *status* forward within one
 * incarnation (alive → suspect → down); the owner answers a suspicion by
 * raising its incarnation (refutation).
 *
 * Merging a received entry is a lattice join, so it is commutative,
 * associative and idempotent and gossip converges whatever the order:
 *   - incarnation: the higher wins outright (a rejoin, a refutation);
 *   - within one incarnation, status by precedence
 *     alive < suspect < down < left (suspect overrides alive, down overrides
 *     suspect, `left` is final for that incarnation), and heartbeat by max;
 *   - so a member that left can come back only with a higher incarnation;
 *     its `left` entry is kept as a tombstone for `MEMBER_LEFT_TOMBSTONE_MS`
 *     so stale gossip cannot revive it.
 *
 * Pure: local times come in as `now_ms`, randomness as `random`. Owned by one
 * actor (the gossip actor); not safe to share across threads.
 */
import { assert, assertNever } from './assert.js';
import { GOSSIP_DELTAS_MAX_ENTRIES, GOSSIP_FANOUT_MAX, MEMBERS_MAX, MEMBER_ID_MAX_CHARS, MEMBER_LEFT_TOMBSTONE_MS, MEMBER_TOKENS_MAX } from './limits.js';

/** Where a member can be reached. A thread now; host and port later (an object so fields can be added). */
export interface MemberAddress {
  /** Actor-system thread the member's actors run on. */
  thread: number;
}

/** Membership status of a member, in precedence order within one incarnation. */
export type MemberStatus = 'alive' | 'suspect' | 'down' | 'left';

/** The gossiped part of one member's entry. */
export interface MemberEntry {
  /** Stable member id (unique in the cluster). */
  id: string;
  /** Where to reach the member. */
  address: MemberAddress;
  /** Data center the member is in (placement, Dynamo §4.6). */
  data_center: string;
  /** Rack within the data center (placement). */
  rack: string;
  /** Raised by the member every gossip interval; growth is evidence it lives. */
  heartbeat: number;
  /** Raised by the member to refute a suspicion or to rejoin; orders entries first. */
  incarnation: number;
  /** Status at this incarnation. */
  status: MemberStatus;
  /** Ring tokens the member owns (filled by the ring issue). */
  tokens: number[];
}

/** One row of the local table: the gossiped entry plus local bookkeeping that is never gossiped. */
export interface MemberRecord {
  /** The gossiped entry as merged here. */
  entry: MemberEntry;
  /** Local time the heartbeat (or incarnation) last grew; drives staleness. */
  heartbeat_grew_at_ms: number;
  /** Local time the entry last changed here; newest-first order of deltas. */
  changed_at_ms: number;
}

/** What one compact digest says about one member: enough to tell who has the newer entry. */
export interface DigestEntry {
  /** Member id. */
  id: string;
  /** Incarnation the sender holds. */
  incarnation: number;
  /** Status the sender holds. */
  status: MemberStatus;
  /** Heartbeat the sender holds. */
  heartbeat: number;
}

/** How a received entry changed the table. */
export type MergeOutcome = 'added' | 'updated' | 'unchanged' | 'refuted' | 'table_full';

/** Precedence of a status within one incarnation. */
export function statusRank(status: MemberStatus): number {
  switch (status) {
    case 'alive':
      return 0;
    case 'suspect':
      return 1;
    case 'down':
      return 2;
    case 'left':
      return 3;
    default:
      return assertNever(status);
  }
}

/**
 * Order of two (incarnation, status, heartbeat) claims: negative when `a` is
 * older, 0 when equal, positive when newer. Incarnation first, then status
 * precedence, then heartbeat.
 */
export function compareClaims(a: Omit<DigestEntry, 'id'>, b: Omit<DigestEntry, 'id'>): number {
  if (a.incarnation !== b.incarnation) return a.incarnation - b.incarnation;
  const rank = statusRank(a.status) - statusRank(b.status);
  if (rank !== 0) return rank;
  return a.heartbeat - b.heartbeat;
}

/**
 * The join of two entries for the same member. The result's incarnation is
 * the higher one; within the same incarnation the status with precedence
 * and the higher heartbeat win independently. Owner-written fields (address,
 * location, tokens) come from the entry with the higher (incarnation,
 * heartbeat); at a tie they are equal by the ownership rule, and `a`'s are kept.
 */
export function mergeEntries(a: MemberEntry, b: MemberEntry): MemberEntry {
  assert(a.id === b.id, 'merge entries of one member');
  if (a.incarnation !== b.incarnation) return cloneEntry(a.incarnation > b.incarnation ? a : b);
  const owner = b.heartbeat > a.heartbeat ? b : a;
  const status = statusRank(b.status) > statusRank(a.status) ? b.status : a.status;
  return { ...cloneEntry(owner), status, heartbeat: Math.max(a.heartbeat, b.heartbeat) };
}

/** A deep copy of an entry (the table never shares arrays with messages). */
export function cloneEntry(entry: MemberEntry): MemberEntry {
  return { ...entry, address: { ...entry.address }, tokens: entry.tokens.slice() };
}

/** Check an entry from the wire or a caller against the bounds. */
export function assertValidEntry(entry: MemberEntry): void {
  assert(entry.id.length > 0 && entry.id.length <= MEMBER_ID_MAX_CHARS, 'member id length within MEMBER_ID_MAX_CHARS');
  assert(Number.isInteger(entry.heartbeat) && entry.heartbeat >= 0, 'heartbeat is a whole number');
  assert(Number.isInteger(entry.incarnation) && entry.incarnation >= 0, 'incarnation is a whole number');
  assert(entry.tokens.length <= MEMBER_TOKENS_MAX, 'tokens within MEMBER_TOKENS_MAX');
  statusRank(entry.status);
}

/**
 * `k` distinct items chosen uniformly at random (partial Fisher–Yates);
 * all of them, shuffled, when there are at most `k`. `random` returns a
 * float in [0, 1), e.g. `() => prng.next()`.
 */
export function chooseRandom<T>(items: readonly T[], k: number, random: () => number): T[] {
  assert(Number.isInteger(k) && k >= 0, 'choose a whole number of items');
  const pool = items.slice();
  const take = Math.min(k, pool.length);
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    const picked = pool[j] as T;
    pool[j] = pool[i] as T;
    pool[i] = picked;
  }
  return pool.slice(0, take);
}

/** The membership table of one node. */
export class MembershipTable {
  /** Records by member id, self included; at most MEMBERS_MAX. */
  private readonly records = new Map<string, MemberRecord>();
  /** Id of the member this table belongs to. */
  readonly self_id: string;

  /** Start a table holding only `self` (alive). */
  constructor(self: MemberEntry, now_ms: number) {
    assertValidEntry(self);
    this.self_id = self.id;
    this.records.set(self.id, { entry: cloneEntry(self), heartbeat_grew_at_ms: now_ms, changed_at_ms: now_ms });
  }

  /** The record of `id`, or undefined. The caller must not modify it. */
  get(id: string): MemberRecord | undefined {
    return this.records.get(id);
  }

  /** This node's own entry. */
  self(): MemberEntry {
    const record = this.records.get(this.self_id);
    assert(record !== undefined, 'the table always holds self');
    return record.entry;
  }

  /** Every record (self included), in insertion order. The caller must not modify them. */
  all(): MemberRecord[] {
    return [...this.records.values()];
  }

  /** Members (self included) known. */
  size(): number {
    return this.records.size;
  }

  /** Raise this node's own heartbeat (once per gossip interval). */
  beat(now_ms: number): void {
    const record = this.selfRecord();
    record.entry.heartbeat++;
    record.heartbeat_grew_at_ms = now_ms;
    record.changed_at_ms = now_ms;
  }

  /** Mark this node as leaving: `left` at its current incarnation, gossiped like any change. */
  leave(now_ms: number): void {
    const record = this.selfRecord();
    record.entry.status = 'left';
    record.changed_at_ms = now_ms;
  }

  /**
   * Merge an entry received by gossip. An entry about self that claims a
   * suspicion, a death or a newer incarnation is refuted: self takes an
   * incarnation above the claim and stays alive (SWIM §4.2). New members
   * beyond MEMBERS_MAX are refused ('table_full').
   */
  apply(received: MemberEntry, now_ms: number): MergeOutcome {
    assertValidEntry(received);
    if (received.id === this.self_id) return this.applyAboutSelf(received, now_ms);
    const record = this.records.get(received.id);
    if (record === undefined) {
      if (this.records.size >= MEMBERS_MAX) return 'table_full';
      this.records.set(received.id, { entry: cloneEntry(received), heartbeat_grew_at_ms: now_ms, changed_at_ms: now_ms });
      return 'added';
    }
    const merged = mergeEntries(record.entry, received);
    if (compareClaims(merged, record.entry) === 0) return 'unchanged';
    if (merged.incarnation > record.entry.incarnation || merged.heartbeat > record.entry.heartbeat) {
      record.heartbeat_grew_at_ms = now_ms;
    }
    record.entry = merged;
    record.changed_at_ms = now_ms;
    return 'updated';
  }

  /**
   * Move another member's status forward at its current incarnation (a local
   * decision: stale heartbeat → suspect, liveness decision → down). Returns
   * false when the status would not move forward.
   */
  raiseStatus(id: string, status: MemberStatus, now_ms: number): boolean {
    assert(id !== this.self_id, 'a node does not suspect itself');
    const record = this.records.get(id);
    if (record === undefined || statusRank(status) <= statusRank(record.entry.status)) return false;
    record.entry.status = status;
    record.changed_at_ms = now_ms;
    return true;
  }

  /** A digest of the whole table (≤ MEMBERS_MAX entries). */
  digest(): DigestEntry[] {
    return this.all().map(({ entry }) => ({ id: entry.id, incarnation: entry.incarnation, status: entry.status, heartbeat: entry.heartbeat }));
  }

  /**
   * Entries this node holds newer than what `peer_digest` shows (or that the
   * peer lacks), most recently changed here first, at most `max_entries`.
   */
  deltasFor(peer_digest: readonly DigestEntry[], max_entries: number = GOSSIP_DELTAS_MAX_ENTRIES): MemberEntry[] {
    assert(max_entries >= 1 && max_entries <= GOSSIP_DELTAS_MAX_ENTRIES, 'deltas bounded by GOSSIP_DELTAS_MAX_ENTRIES');
    const theirs = new Map(peer_digest.map((d) => [d.id, d]));
    const newer = this.all().filter(({ entry }) => {
      const known = theirs.get(entry.id);
      return known === undefined || compareClaims(entry, known) > 0;
    });
    return newestFirst(newer).slice(0, max_entries).map((r) => cloneEntry(r.entry));
  }

  /** Ids in `peer_digest` for which the peer holds a newer entry than this node (to ask it for). */
  wantedFrom(peer_digest: readonly DigestEntry[]): string[] {
    return peer_digest
      .filter((d) => {
        const record = this.records.get(d.id);
        return record === undefined || compareClaims(d, record.entry) > 0;
      })
      .map((d) => d.id);
  }

  /** The entries for `ids` that this node holds, at most GOSSIP_DELTAS_MAX_ENTRIES. */
  entriesFor(ids: readonly string[]): MemberEntry[] {
    const out: MemberEntry[] = [];
    for (const id of ids) {
      const record = this.records.get(id);
      if (record !== undefined) out.push(cloneEntry(record.entry));
      if (out.length >= GOSSIP_DELTAS_MAX_ENTRIES) break;
    }
    return out;
  }

  /** The `max_entries` most recently changed entries (push gossip without a digest). */
  recentEntries(max_entries: number = GOSSIP_DELTAS_MAX_ENTRIES): MemberEntry[] {
    assert(max_entries >= 1 && max_entries <= GOSSIP_DELTAS_MAX_ENTRIES, 'recent entries bounded by GOSSIP_DELTAS_MAX_ENTRIES');
    return newestFirst(this.all()).slice(0, max_entries).map((r) => cloneEntry(r.entry));
  }

  /** Ids of other members that are alive or suspect (gossip and probe targets). */
  liveIds(): string[] {
    return this.all()
      .filter(({ entry }) => entry.id !== this.self_id && (entry.status === 'alive' || entry.status === 'suspect'))
      .map(({ entry }) => entry.id);
  }

  /** `k` random live peers to gossip to this round. */
  choosePeers(k: number, random: () => number): string[] {
    assert(k <= GOSSIP_FANOUT_MAX, 'gossip fan-out bounded by GOSSIP_FANOUT_MAX');
    return chooseRandom(this.liveIds(), k, random);
  }

  /** Live members (not self) whose heartbeat has not grown for `stale_after_ms`. */
  staleIds(now_ms: number, stale_after_ms: number): string[] {
    assert(stale_after_ms > 0, 'staleness needs a positive time');
    return this.liveIds().filter((id) => now_ms - (this.records.get(id)?.heartbeat_grew_at_ms ?? now_ms) >= stale_after_ms);
  }

  /** Drop `left` tombstones older than `tombstone_ms`; returns the ids dropped. */
  expireTombstones(now_ms: number, tombstone_ms: number = MEMBER_LEFT_TOMBSTONE_MS): string[] {
    const dropped: string[] = [];
    for (const [id, record] of this.records) {
      if (id !== this.self_id && record.entry.status === 'left' && now_ms - record.changed_at_ms >= tombstone_ms) dropped.push(id);
    }
    for (const id of dropped) this.records.delete(id);
    return dropped;
  }

  /** Refute claims about self; adopt a higher heartbeat (a restart may have lost ours). */
  private applyAboutSelf(received: MemberEntry, now_ms: number): MergeOutcome {
    const record = this.selfRecord();
    const own = record.entry;
    if (own.status === 'left') return 'unchanged';
    const accused = received.status !== 'alive' && received.incarnation >= own.incarnation;
    if (accused || received.incarnation > own.incarnation) {
      own.incarnation = received.incarnation + 1;
      own.heartbeat = Math.max(own.heartbeat, received.heartbeat);
      record.changed_at_ms = now_ms;
      return 'refuted';
    }
    if (received.incarnation === own.incarnation && received.heartbeat > own.heartbeat) {
      own.heartbeat = received.heartbeat;
      record.changed_at_ms = now_ms;
      return 'updated';
    }
    return 'unchanged';
  }

  private selfRecord(): MemberRecord {
    const record = this.records.get(this.self_id);
    assert(record !== undefined, 'the table always holds self');
    return record;
  }
}

/** Records sorted by local change time, newest first (ties by id, so the order is deterministic). */
function newestFirst(records: MemberRecord[]): MemberRecord[] {
  return records.slice().sort((a, b) => b.changed_at_ms - a.changed_at_ms || (a.entry.id < b.entry.id ? -1 : a.entry.id > b.entry.id ? 1 : 0));
}
