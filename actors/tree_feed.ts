/**
 * The replica's side of anti-entropy's hash trees (issue 15): which writes
 * the anti-entropy actor must hear of while it rebuilds its trees from a
 * scan of this replica, so that each write is counted exactly once.
 *
 * A rebuild reads the store in key order, one `tree-scan` page per ask
 * (each starting where the last said the next begins),
 * under an epoch the anti-entropy actor picks. A write to a key the scan
 * has already passed is told (`ae-changes` with that epoch); a write to a
 * key ahead of it is not, because the scan will read the key as it is
 * then. Once the scan reaches the end, every write is told (the writes of
 * one turn in one message, after it). The test is
 * made here, on the replica's thread, at the moment the write is applied,
 * so it is exact however the page answers and the changes interleave on
 * their way; the trees fold both in with XOR, in any order.
 *
 * Thread contract: the replica actor's.
 */
import { compareKeys } from '../storage/key_order.js';
import type { Version } from '../storage/version.js';

/** What the replica tells the anti-entropy actor. */
export type TreeFeedMsg =
  /** Writes were applied, in order: each `key` held `before` and then `after` (reconciled). */
  | { type: 'ae-changes'; epoch: number; changes: TreeChange[] }
  /** The replica lost data without a write (a quarantined table, a cut commit-log tail): its trees must be rebuilt. */
  | { type: 'ae-damaged' };

/** One write as the trees see it. */
export interface TreeChange {
  key: Uint8Array;
  before: readonly Version[];
  after: readonly Version[];
}

/** Which writes to tell, for one replica. */
export class TreeFeed {
  /** Epoch of the rebuild in progress or last finished; 0 before the first, whose changes nobody wants. */
  private epoch = 0;
  /**
   * Where the rebuild's next page starts: every key before it has been read
   * (a key created there since is told, since no page will read it); null
   * before the first page; 'all' once it read everything.
   */
  private cursor: Uint8Array | null | 'all' = null;

  constructor(private readonly tell: (msg: TreeFeedMsg) => void) {}

  /** A write was applied (the engine's `onChanged`). */
  changed(key: Uint8Array, before: readonly Version[], after: readonly Version[]): void {
    if (this.epoch === 0) return;
    const cursor = this.cursor;
    if (!(cursor === 'all' || (cursor !== null && compareKeys(key, cursor) < 0))) return;
    if (this.pending.length === 0) queueMicrotask(this.flush);
    this.pending.push({ key, before, after });
  }

  /** Changes not yet told: the writes of this turn go in one message (a put-batch applies many). */
  private pending: TreeChange[] = [];

  private readonly flush = (): void => {
    if (this.pending.length === 0) return;
    const changes = this.pending;
    this.pending = [];
    this.tell({ type: 'ae-changes', epoch: this.epoch, changes });
  };

  /**
   * A `tree-scan` page of rebuild `epoch` was read (`first`: it starts the
   * rebuild). False when the feed does not follow that rebuild (the replica
   * restarted since its first page, or a newer one started): the
   * anti-entropy actor must start again.
   */
  scanned(epoch: number, first: boolean, page: { next: Uint8Array | null }): boolean {
    if (first) {
      this.flush(); // changes of the old epoch go out under it
      this.epoch = epoch;
      this.cursor = null;
    } else if (epoch !== this.epoch) {
      return false;
    }
    this.cursor = page.next ?? 'all';
    return true;
  }

  /** Data was lost without a write. */
  damaged(): void {
    this.tell({ type: 'ae-damaged' });
  }
}
