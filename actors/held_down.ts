/**
 * What one coordinator holds down, from the liveness changes its node's
 * failure detector publishes (`failure_detector.ts`): members that two
 * observers agree are unreachable (or that left), and members whose storage
 * failed (issue 13; the node itself included: then it must not mint).
 * Writes skip a member held down for the next fallback with a hint; reads
 * do not ask it.
 *
 * Thread contract: the owning coordinator's.
 */
import type { LivenessMsg } from './failure_detector.js';

/** The coordinator's view of which members not to use, and why. */
export class HeldDown {
  /** Members the failure detector holds down (or left). */
  private readonly unreachable = new Set<string>();
  /** Members whose storage failed, with the cause. */
  private readonly storageFailed = new Map<string, string>();

  constructor(
    /** The coordinator's own member id: never held down as unreachable (it is running), only for its storage. */
    private readonly self: string,
  ) {}

  /** Apply a change the failure detector published. */
  apply(msg: LivenessMsg): void {
    if (msg.storage === 'failed') this.storageFailed.set(msg.member, msg.cause ?? 'storage failed');
    else if (msg.storage === 'ok') this.storageFailed.delete(msg.member);
    else if (msg.status === 'down' || msg.status === 'left') this.unreachable.add(msg.member);
    else if (msg.status === 'alive') this.unreachable.delete(msg.member);
  }

  /** True when `node` must not be used: unreachable, or its storage failed. */
  has(node: string): boolean {
    return this.storageFailed.has(node) || (node !== this.self && this.unreachable.has(node));
  }

  /** The cause when `node`'s storage failed, else undefined. */
  storageFailure(node: string): string | undefined {
    return this.storageFailed.get(node);
  }

  /** Why `node` is held down, for receipts and errors. */
  reason(node: string): string {
    const storage = this.storageFailed.get(node);
    return storage !== undefined ? `its storage failed (${storage})` : 'held down by the failure detector';
  }

  /** Members held down as unreachable, sorted (the `stats` ask). */
  unreachableMembers(): string[] {
    return [...this.unreachable].sort();
  }

  /** Members whose storage failed, sorted (the `stats` ask, and receipts: the client routes around them). */
  storageFailedMembers(): string[] {
    return [...this.storageFailed.keys()].sort();
  }

  /** True when some member's storage is failed. */
  get anyStorageFailed(): boolean {
    return this.storageFailed.size > 0;
  }
}
