/**
 * What the engine stores for a key: a set of versions, each a value or a
 * tombstone with its causal metadata. The engine treats `clock` as opaque
 * bytes and reconciles versions through the `VersionOrder` supplied by
 * `src/core` (a version dominated by another is dropped; concurrent versions
 * are all kept as siblings).
 */
import type { Version } from '../src/core/version.js';
import type { Causality, VersionOrder } from '../src/core/version_order.js';

/** The one version type (`src/core/version.ts`), as the engine's modules import it. */
export type { Version } from '../src/core/version.js';

/** Told of two versions whose clocks name one write but different values (`Causality` 'conflict'). */
export type DotConflictHandler = (a: Version, b: Version) => void;

/**
 * Reconcile a set of versions: drop every version dominated by another and
 * collapse equal clocks to one, the purgeable copy if there is one (a
 * confirmation must never be lost to a copy stored before it), else the
 * first. Two versions in 'conflict' (one dot, two values: a broken
 * invariant, issue 12) are never resolved silently: both are kept, like
 * siblings, unless a third dominates them, and each conflicting pair is
 * given to `onConflict` once per call (copies of one version count once).
 * Order of the result: stable by input order.
 * O(n^2) in the number of versions, which `SIBLINGS_MAX` bounds.
 */
export function reconcile(order: VersionOrder, versions: readonly Version[], onConflict?: DotConflictHandler): Version[] {
  const n = versions.length;
  const relation: Causality[] = new Array<Causality>(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (i !== j) relation[i * n + j] = order.compare(versions[i]!.clock, versions[j]!.clock);
  }
  const out: Version[] = [];
  const laterCopy: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const v = versions[i]!;
    let kept = true;
    laterCopy.push(false);
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const c = relation[i * n + j]!;
      if (c === 'before') kept = false;
      if (c === 'equal' && keepsOver(versions[j]!, j, v, i)) kept = false;
      if (c === 'equal' && j < i) laterCopy[i] = true;
    }
    if (kept) out.push(v);
  }
  if (onConflict !== undefined) {
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        if (relation[i * n + j] === 'conflict' && !laterCopy[i] && !laterCopy[j]) onConflict(versions[i]!, versions[j]!);
      }
    }
  }
  return out;
}

/** Of two copies of one version (equal clocks), true when copy `a` (at `i`) is kept over copy `b` (at `j`). */
function keepsOver(a: Version, i: number, b: Version, j: number): boolean {
  if (a.purgeable !== b.purgeable) return a.purgeable === true;
  return i < j;
}
