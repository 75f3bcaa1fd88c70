/**
 * Clock skew between simulated machines: each node's actors read virtual
 * time plus that node's offset. Only what actors read is skewed; the world
 * schedules events, timers and asks on true virtual time, as a real
 * kernel's timers do not follow a wrong wall clock. Offsets are >= 0, so
 * every node clock stays >= 0; nodes differ by the difference of their
 * offsets.
 */
import { assert } from '../../core/assert.js';

export class NodeClocks {
  /** Per node, how far its clock reads ahead of virtual time (ms); absent = 0. */
  private readonly skew = new Map<number, number>();

  constructor(private readonly virtualNow: () => number) {}

  /** From now on node `node`'s clock reads `offset_ms` ahead of virtual time. */
  setSkew(node: number, offset_ms: number): void {
    assert(Number.isFinite(offset_ms) && offset_ms >= 0, 'a clock offset is a finite number >= 0');
    if (offset_ms === 0) this.skew.delete(node);
    else this.skew.set(node, offset_ms);
  }

  /** Node `node`'s clock: virtual time plus its skew. */
  now(node: number): number {
    return this.virtualNow() + (this.skew.get(node) ?? 0);
  }
}
