/**
 * A node's view of the ring, which a membership change updates while the
 * node runs (issue 16): the ring that places keys now, and, while a change
 * streams ranges to new replicas, the ring that will place them once it
 * commits. Writes go to a key's replicas under both (`pendingReplicas`);
 * reads and ownership follow the current ring only.
 *
 * Updates are numbered: a node applies an update only if it is newer than
 * the one it holds, so a late or repeated one changes nothing. The change's
 * driver sends every update to every node's coordinator and anti-entropy
 * actor (`ring-update`), and spawns a joining node with the view it holds.
 *
 * Thread contract: one per actor; the rings' lookups reuse scratch space.
 */
import type { Message } from '../src/runtime/actor.js';
import { placeReplicas, type DcReplicas } from '../src/core/placement.js';
import { Ring, type RingMember } from '../src/core/ring.js';

/** Ask → true: hold this ring view from now on (ignored, still true, when not newer than the one held). */
export interface RingUpdate extends Message {
  type: 'ring-update';
  /** Numbers the cluster's ring views; each change takes the next (pending, then committed). */
  version: number;
  ring: RingMember[];
  /** The ring after the change in progress, or null. */
  pending: RingMember[] | null;
  /**
   * Once a change committed, until its old replicas dropped their copies:
   * the ring before it. Its replicas may still hold a key, so a tombstone is
   * confirmed only once they hold it too (`holders`).
   */
  previous?: RingMember[] | null;
}

export class RingView {
  ring: Ring;
  pending: Ring | null;
  previous: Ring | null;
  version: number;
  /** Data center of every member of either ring. */
  private readonly dcs = new Map<string, string>();

  constructor(ring: readonly RingMember[], pending: readonly RingMember[] | null = null, version = 0, previous: readonly RingMember[] | null = null) {
    this.ring = Ring.fromTokens(ring);
    this.pending = pending === null ? null : Ring.fromTokens(pending);
    this.previous = previous === null ? null : Ring.fromTokens(previous);
    this.version = version;
    this.noteDcs();
  }

  /** Take `update` if it is newer; true when the view changed. */
  apply(update: RingUpdate): boolean {
    if (update.version <= this.version) return false;
    this.ring = Ring.fromTokens(update.ring);
    this.pending = update.pending === null ? null : Ring.fromTokens(update.pending);
    this.previous = update.previous === undefined || update.previous === null ? null : Ring.fromTokens(update.previous);
    this.version = update.version;
    this.noteDcs();
    return true;
  }

  /** The data center of `member`, if either ring has it. */
  dcOf(member: string): string | undefined {
    return this.dcs.get(member);
  }

  /** The members that will replicate `key` after the pending change and do not now (none without one). */
  pendingReplicas(key: Uint8Array, replicas: DcReplicas, now: readonly string[]): string[] {
    if (this.pending === null) return [];
    return placeReplicas(this.pending, key, replicas, 0).replicas.filter((m) => !now.includes(m));
  }

  /**
   * Every member that may hold `key` (its `replicas` under the ring now,
   * `now`): during a change also its replicas under the pending ring, and
   * after one its replicas under the previous ring until they dropped their
   * copies. A tombstone may be purged only once all of them hold it: a
   * holder that missed the delete would bring the value back (through a
   * transfer's last sync from it, or by holding the key again later).
   */
  holders(key: Uint8Array, replicas: DcReplicas, now: readonly string[]): readonly string[] {
    if (this.pending === null && this.previous === null) return now;
    const all = new Set(now);
    for (const ring of [this.pending, this.previous]) if (ring !== null) for (const m of placeReplicas(ring, key, replicas, 0).replicas) all.add(m);
    return [...all];
  }

  private noteDcs(): void {
    for (const ring of [this.ring, this.pending, this.previous]) for (const m of ring?.members() ?? []) this.dcs.set(m.id, m.dc);
  }
}
