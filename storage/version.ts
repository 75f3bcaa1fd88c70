/**
 * What the engine stores for a key: a set of versions, each a value or a
 * tombstone with its causal metadata. The engine treats `clock` as opaque
 * bytes and reconciles versions through the `VersionOrder` supplied by
 * `src/core` (a version dominated by another is dropped; concurrent versions
 * are all kept as siblings).
 */
import type { VersionOrder } from '../src/core/version_order.js';

/** One version of a key's value. */
export interface StoredVersion {
  /** Opaque causal metadata (an encoded vector clock). */
  clock: Uint8Array;
  /** The value bytes, or null for a tombstone (a delete). */
  value: Uint8Array | null;
  /** When the version was written (ms, from the actor clock): tombstone grace uses it. */
  ts_ms: number;
  /**
   * Tombstones only: every owner of the key is known to hold this tombstone
   * (a coordinator saw all of them store it and sent `confirm-tombstone`), so
   * compaction may purge it once its grace has passed (Riak's delete mode:
   * reap only what every primary holds). Absent on values and on tombstones
   * not yet confirmed.
   */
  purgeable?: true;
}

/**
 * Reconcile a set of versions: drop every version dominated by another and
 * collapse equal clocks to one, the purgeable copy if there is one (a
 * confirmation must never be lost to a copy stored before it), else the
 * first. Order of the result: stable by input order.
 * O(n^2) in the number of versions, which `SIBLINGS_MAX` bounds.
 */
export function reconcile(order: VersionOrder, versions: readonly StoredVersion[]): StoredVersion[] {
  const out: StoredVersion[] = [];
  outer: for (let i = 0; i < versions.length; i++) {
    const v = versions[i]!;
    for (let j = 0; j < versions.length; j++) {
      if (i === j) continue;
      const c = order.compare(v.clock, versions[j]!.clock);
      if (c === 'before') continue outer;
      if (c === 'equal' && keepsOver(versions[j]!, j, v, i)) continue outer;
    }
    out.push(v);
  }
  return out;
}

/** Of two copies of one version (equal clocks), true when copy `a` (at `i`) is kept over copy `b` (at `j`). */
function keepsOver(a: StoredVersion, i: number, b: StoredVersion, j: number): boolean {
  if (a.purgeable !== b.purgeable) return a.purgeable === true;
  return i < j;
}
