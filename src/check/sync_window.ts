/**
 * Acknowledged writes lost inside the commit-log sync window: named apart
 * from violations, neither hidden nor counted as one.
 *
 * Under 'periodic' sync a replica acknowledges a write before it is on disk
 * and fsyncs every `window_ms`; a crash loses what was not yet synced. So a
 * write every replica that stored it lost to a crash within the window after
 * acknowledging it is a loss the sync mode allows (and documents), not a bug
 * the checker should report as one. It still must not vanish from the
 * report: the campaign prints these apart, so a rise in them is seen.
 *
 * A write counts as lost in the window when the run used periodic sync and
 * every node in its `stored_on` crashed at a time in
 * [invoked_ms, completed_ms + window_ms]. A write a hint holder stored
 * ("label>owner") never counts: hint stores survive crashes, so the window
 * does not explain losing it. A write without `stored_on` does not either.
 *
 * Read-your-writes needs less: a read misses a write when one node of the
 * quorum it meets lost it (`syncWindowCrashesOfAny`).
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import type { FinalState, HistoryOp } from './history.js';

/** An acknowledged write lost within the sync window. */
export interface LostInSyncWindow {
  key: string;
  /** Id of the write. */
  op: number;
  /** A sentence naming the nodes and their crashes. */
  detail: string;
}

/**
 * The crash of each node of `write.stored_on` that explains its loss, or
 * undefined when the sync window does not explain it (see the file comment).
 */
export function syncWindowCrashes(write: HistoryOp, final: FinalState): string[] | undefined {
  const sync = final.sync;
  if (sync?.mode !== 'periodic' || write.completed_ms === null) return undefined;
  const nodes = write.stored_on ?? [];
  if (nodes.length === 0 || nodes.some((node) => node.includes('>'))) return undefined;
  const until = write.completed_ms + sync.window_ms;
  const explained: string[] = [];
  for (const node of nodes) {
    const crash = (final.crashes ?? []).find((c) => c.node === node && c.at_ms >= write.invoked_ms && c.at_ms <= until);
    if (crash === undefined) return undefined;
    explained.push(`${node} crashed at ${crash.at_ms} ms`);
  }
  return explained;
}

/**
 * For read-your-writes under periodic sync: the crashes, within the window
 * after `write` was acknowledged, of any node of its `stored_on` (hint
 * holders excepted), or undefined when none crashed. W+R>N makes a later
 * read meet a node that acknowledged the write; one such node losing it in
 * the window is enough for that read to miss it, as the sync mode allows
 * (the write itself may survive on the others).
 */
export function syncWindowCrashesOfAny(write: HistoryOp, final: FinalState): string[] | undefined {
  const sync = final.sync;
  if (sync?.mode !== 'periodic' || write.completed_ms === null) return undefined;
  const until = write.completed_ms + sync.window_ms;
  const explained: string[] = [];
  for (const node of write.stored_on ?? []) {
    if (node.includes('>')) continue;
    const crash = (final.crashes ?? []).find((c) => c.node === node && c.at_ms >= write.invoked_ms && c.at_ms <= until);
    if (crash !== undefined) explained.push(`${node} crashed at ${crash.at_ms} ms`);
  }
  return explained.length > 0 ? explained : undefined;
}
