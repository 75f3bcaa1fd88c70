/**
 * Acknowledged writes lost with a node removed for good (issue 16): named
 * apart from violations, as writes lost in the sync window are
 * (`sync_window.ts`).
 *
 * Removing a dead node (or replacing it with a new identity) is the
 * operator declaring its disk gone for good. A write that only that node
 * stored itself, the others holding it as hints (sloppy quorum), is lost
 * with it if those hints are gone too: dropped because they were for the
 * removed node, lost with a removed holder, or expired before delivery in a
 * run whose hints expire. That is the durability sloppy quorum gives (a
 * hint is a copy only until it is delivered or expires), not a bug the
 * checker should report as one; a write any remaining replica stored
 * itself must survive, and is checked as any other.
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import type { FinalState, HistoryOp } from './history.js';

/** Why removing a node explains losing `write`, or undefined when it does not. */
export function removedNodeLoss(write: HistoryOp, final: FinalState): string | undefined {
  const removed = new Set((final.removed ?? []).map((r) => r.node));
  const holders = write.stored_on ?? [];
  if (removed.size === 0 || holders.length === 0) return undefined;
  const reasons: string[] = [];
  for (const entry of holders) {
    const [holder, owner] = entry.split('>') as [string, string | undefined];
    if (owner === undefined) {
      if (!removed.has(holder)) return undefined;
      reasons.push(`${holder} was removed`);
    } else if (removed.has(holder) || removed.has(owner)) {
      reasons.push(`${holder}'s hint for ${owner} went with the removal`);
    } else if (final.hintsExpire === true) {
      reasons.push(`${holder}'s hint for ${owner} may have expired`);
    } else {
      return undefined;
    }
  }
  return reasons.join(', ');
}
