/**
 * The key ranges anti-entropy keeps a hash tree for (issue 15): one per
 * replica group, the set of members that replicate a key. Every ring range
 * (between consecutive tokens) has one preference list, so its keys have one
 * replica set; ranges with the same set are one group.
 *
 * Why groups rather than ring ranges or fixed partitions: two replicas can
 * only compare a tree over keys both of them hold, all of them. A ring range
 * has that property, but with RING_VNODES_PER_WEIGHT tokens per member a
 * node replicates hundreds of ranges (384 for 5 nodes and N = 3): hundreds
 * of tiny trees, and as many exchanges per round. Fixed partitions of the
 * ring (Riak's) straddle tokens, so a partition's keys would have several
 * replica sets and no two nodes would hold all of it. A group is the union
 * of every range with one replica set: as few trees as there are sets (at
 * most C(members, N), 6 per node for 5 nodes and N = 3), each exactly the
 * keys its members share. Membership is fixed today; when it changes
 * (issue 16) the groups are recomputed and the trees rebuilt.
 *
 * Pure: a function of the ring and the replication. Thread contract: a
 * `ReplicaGroups` belongs to one actor (the ring's lookups reuse scratch).
 */
import { assert } from './assert.js';
import { placeAt, type DcReplicas } from './placement.js';
import type { Ring } from './ring.js';
import { keyPosition } from './tokens.js';

/** One replica group: its id (members sorted, comma-separated) and members. */
export interface ReplicaGroup {
  id: string;
  /** Members replicating the group's keys, sorted. */
  members: readonly string[];
}

/** The replica groups of a ring, and which one each key belongs to. */
export class ReplicaGroups {
  /** Group of each token's range (the keys whose position the token owns), by token index. */
  private readonly groupOfToken: ReplicaGroup[];
  /** Every group, by id, in the order first met on the ring. */
  private readonly byId = new Map<string, ReplicaGroup>();

  constructor(
    private readonly ring: Ring,
    replicas: DcReplicas,
  ) {
    const tokens = ring.tokenCount;
    this.groupOfToken = new Array<ReplicaGroup>(tokens);
    for (let i = 0; i < tokens; i++) {
      // The preference list depends only on the token that owns a position: ask at the token itself.
      const members = [...placeAt(ring, ring.tokenPosition(i), replicas, 0).replicas].sort();
      const id = members.join(',');
      let group = this.byId.get(id);
      if (group === undefined) this.byId.set(id, (group = { id, members }));
      this.groupOfToken[i] = group;
    }
  }

  /** The group `key` belongs to. */
  groupOf(key: Uint8Array): ReplicaGroup {
    assert(this.groupOfToken.length > 0, 'a ring with tokens has groups');
    return this.groupOfToken[this.ring.tokenIndexAt(keyPosition(key))]!;
  }

  /** The group with this id, if any. */
  group(id: string): ReplicaGroup | undefined {
    return this.byId.get(id);
  }

  /** The groups `member` replicates, sorted by id. */
  groupsOf(member: string): ReplicaGroup[] {
    return [...this.byId.values()].filter((g) => g.members.includes(member)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
