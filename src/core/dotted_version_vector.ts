/**
 * Dotted version vectors (Preguiça, Baquero, Almeida, Fonte, Gonçalves,
 * "Dotted Version Vectors: Logical Clocks for Optimistic Replication", 2010;
 * "Dotted Version Vectors: Efficient Causality Tracking for Distributed
 * Key-Value Stores", 2012; the scheme Riak 2.0 uses).
 *
 * Each stored version carries its *dot* — (actor, counter) of the one write
 * that made it — and its *past*: a version vector of the writes the client had
 * seen (its causal context). A version X is superseded by Y exactly when Y's
 * past covers X's dot. Because the dot is kept apart from the past, a write
 * coordinated by actor r with a stale or empty context gets a fresh dot that
 * its siblings' pasts do not cover: siblings are exactly the concurrent
 * writes, and clients writing without fresh context do not make siblings
 * multiply (the "sibling explosion" of per-server vector clocks).
 *
 * Contract for callers (the coordinator), on which exactness rests:
 * - `update` runs on a replica that holds the key (the coordinating replica)
 *   and is given every version it holds, so the new dot's counter is above
 *   every dot that actor minted for the key;
 * - the coordinator replicates the whole reconciled sibling set it stores
 *   after the write, not only the new version (as Riak does), so a replica
 *   that knows dot (r, n) also knows, or has something covering, (r, k < n);
 * - a client's context is the `join` of a whole sibling set a replica held
 *   (what a get returns, or a put reply that returns all siblings). Never
 *   hand back `join([newVersion])` alone: a vector cannot say "(r, 7) but not
 *   (r, 5)", so it would claim siblings the client never saw and a write with
 *   it would supersede them.
 *
 * Identity: an actor id names one incarnation of a node's data (`actorId`).
 * A node that lost its data must come back under a new epoch: restarting its
 * counters at 1 under the old id would mint dots that other replicas already
 * hold as covered, so the new writes would compare as 'before' or 'equal' to
 * old ones and be silently dropped (Riak's "vnode vclock reuse" lost writes).
 *
 * Pruning (`prune`): a past with more than `VCLOCK_ENTRIES_MAX` entries loses
 * its oldest entries (by last-bumped time, ties by actor id), never the entry
 * of the version's own dot actor. Riak also exempts entries younger than 20 s;
 * we keep the bound strict instead so an encoded version always fits in
 * `CLOCK_MAX_BYTES`. Risk: a pruned entry makes the past cover fewer dots, so
 * a version that should supersede another may look concurrent with it — a
 * false sibling the next contextual write resolves, never a lost write.
 *
 * Value digest: each dot also names the value its write stored
 * (`Dot.digest`, issue 12 "Merges check what they merge"). A dot is meant to
 * name one write, so two copies of one dot must carry one value; if a node
 * ever mints a dot twice (a lost counter, a reused epoch) the copies differ
 * and, without the digest, every merge would keep one and drop the other
 * silently. With it, `compare` answers 'conflict' and every reconcile keeps
 * both as siblings and reports them. The digest of a value is its xxh32
 * (`valueDigest`); a tombstone's is `TOMBSTONE_DIGEST` = 2^32, one above
 * every u32, so no value can collide with a delete under one dot (any u32
 * marker would: the values hashing to it). A clock without a digest (written
 * before issue 12) compares unchecked: same dot means 'equal', as before.
 *
 * The vocabulary (dots, vectors, digests, actor ids) is in dot.ts; the byte
 * layout of clocks and contexts, and their codec, in dvv_codec.ts. This module
 * re-exports both, so callers import clocks from one place.
 *
 * Pure: no I/O, no clock (the caller passes `now_ms`). Safe from any thread.
 */
import { assert } from './assert.js';
import { assertDigest, assertVector, compareActors, type Dot, type Dvv, type VersionVector, type VvEntry } from './dot.js';
import { decodeDvv } from './dvv_codec.js';
import { VCLOCK_ENTRIES_MAX } from './limits.js';
// Cyclic (planted_bugs.ts decodes clocks), harmless: both only call each other's functions, never at load time.
import { isPlanted } from './planted_bugs.js';
import type { Causality, VersionOrder } from './version_order.js';

export * from './dot.js';
export { decodeContext, decodeDvv, encodeContext, encodeDvv } from './dvv_codec.js';

/** True when `vv` covers `dot`, i.e. the write `dot` is in its causal past. */
export function coversDot(vv: VersionVector, dot: Dot): boolean {
  const entry = vv.find((e) => e.actor === dot.actor);
  return entry !== undefined && entry.counter >= dot.counter;
}

/** True when `a`'s history includes all of `b`'s (a is `b` or supersedes it). */
export function descends(a: Dvv, b: Dvv): boolean {
  return (sameDot(a.dot, b.dot) && !digestsDiffer(a.dot, b.dot)) || coversDot(a.past, b.dot);
}

/**
 * How version `a` relates to version `b`: 'before' exactly when b's past
 * covers a's dot. If each covers the other's dot (impossible for clocks made
 * by `update`; only corrupt or hand-made input) the answer is 'concurrent',
 * which keeps both rather than lose a write. One dot with two different
 * digests is 'conflict': an invariant is broken (a dot minted twice), and the
 * caller keeps both and reports it.
 */
export function compare(a: Dvv, b: Dvv): Causality {
  if (sameDot(a.dot, b.dot)) return digestsDiffer(a.dot, b.dot) ? 'conflict' : 'equal';
  const aBeforeB = coversDot(b.past, a.dot);
  const bBeforeA = coversDot(a.past, b.dot);
  if (aBeforeB && !bBeforeA) return 'before';
  if (bBeforeA && !aBeforeB) return 'after';
  return 'concurrent';
}

/**
 * The clock of a new write coordinated by `actor`: its dot's counter is one
 * above every counter of `actor` among `siblingsAtCoordinator` (dots and
 * pasts), the client's `context` and `counterFloor` (the coordinator's own
 * persisted high-water mark, which guards against reuse after pruning); its
 * past is the context. It supersedes exactly the versions the context covers
 * and stays concurrent with the rest. `now_ms` defaults to the latest time in
 * the inputs. `digest` (`valueDigest` of the value written) goes into the
 * dot; omit it only for clocks that name no value (tests of causality alone).
 */
export function update(
  context: VersionVector,
  siblingsAtCoordinator: readonly Dvv[],
  actor: string,
  now_ms?: number,
  counterFloor = 0,
  digest?: number,
): Dvv {
  assertVector(context);
  let counter = Math.max(counterFloor, entryOf(context, actor)?.counter ?? 0);
  let latest_ms = 0;
  for (const e of context) latest_ms = Math.max(latest_ms, e.ts_ms);
  for (const s of siblingsAtCoordinator) {
    if (s.dot.actor === actor) counter = Math.max(counter, s.dot.counter);
    counter = Math.max(counter, entryOf(s.past, actor)?.counter ?? 0);
    latest_ms = Math.max(latest_ms, s.dot.ts_ms);
  }
  const ts_ms = now_ms ?? latest_ms;
  const dot: Dot = { actor, counter: counter + 1, ts_ms };
  if (digest !== undefined) {
    assertDigest(digest);
    dot.digest = digest;
  }
  assert(Number.isSafeInteger(dot.counter), 'dot counter stays an exact integer');
  return { dot, past: prune(context, actor) };
}

/**
 * Reconcile two sets of versions (anti-entropy, read repair, a replica storing
 * what the coordinator sent): the union, minus every version whose dot
 * another's past covers, one copy per (dot, digest). Two copies of one dot
 * with different digests are both kept, as siblings, and each such pair is
 * given to `onConflict`: never resolved silently. Commutative, associative
 * and idempotent; the result is sorted by dot, then digest.
 */
export function sync(a: readonly Dvv[], b: readonly Dvv[], onConflict?: (x: Dvv, y: Dvv) => void): Dvv[] {
  return syncBy(a, b, (v) => v, onConflict);
}

/** `sync` over versions carrying a payload: `clockOf` gives each one's clock. */
export function syncBy<T>(
  a: readonly T[],
  b: readonly T[],
  clockOf: (version: T) => Dvv,
  onConflict?: (x: T, y: T) => void,
): T[] {
  // The common case on the write path (one stored version, one new): the same rules without the maps and copies.
  if (a.length + b.length <= 2) return a.length === 2 ? syncTwo(a[0], a[1], clockOf, onConflict) : a.length === 1 ? syncTwo(a[0], b[0], clockOf, onConflict) : syncTwo(b[0], b[1], clockOf, onConflict);
  // Per dot, its copies with pairwise different digests (almost always one).
  const byDot = new Map<string, T[]>();
  for (const v of [...a, ...b]) {
    const dot = clockOf(v).dot;
    const key = dotKey(dot);
    const copies = byDot.get(key);
    if (copies === undefined) {
      byDot.set(key, [v]);
      continue;
    }
    const same = copies.findIndex((c) => !digestsDiffer(clockOf(c).dot, dot));
    if (same < 0) {
      for (const c of copies) onConflict?.(c, v);
      copies.push(v);
    } else if (clockOf(copies[same]!).dot.digest === undefined && dot.digest !== undefined) {
      copies[same] = v; // keep the checked copy of an unchecked pair
    }
  }
  const all = [...byDot.values()].flat();
  const kept = all.filter((v) => !all.some((w) => w !== v && coversDot(clockOf(w).past, clockOf(v).dot)));
  return kept.sort((x, y) => compareDots(clockOf(x).dot, clockOf(y).dot) || (clockOf(x).dot.digest ?? -1) - (clockOf(y).dot.digest ?? -1));
}

/** `syncBy` of at most two versions (`x` absent: none; `y` absent: one), by the same rules. */
function syncTwo<T>(x: T | undefined, y: T | undefined, clockOf: (version: T) => Dvv, onConflict?: (x: T, y: T) => void): T[] {
  if (x === undefined) return [];
  if (y === undefined) return [x];
  const dx = clockOf(x).dot;
  const dy = clockOf(y).dot;
  if (sameDot(dx, dy)) {
    if (!digestsDiffer(dx, dy)) return [dx.digest === undefined && dy.digest !== undefined ? y : x];
    onConflict?.(x, y);
  }
  const keepX = !coversDot(clockOf(y).past, dx);
  const keepY = !coversDot(clockOf(x).past, dy);
  if (keepX && keepY) return (compareDots(dx, dy) || (dx.digest ?? -1) - (dy.digest ?? -1)) <= 0 ? [x, y] : [y, x];
  return keepX ? [x] : keepY ? [y] : [];
}

/**
 * The causal context for a client that read `siblings`: the least vector
 * covering every sibling's past and dot. A write with it supersedes exactly
 * these siblings.
 */
export function join(siblings: readonly Dvv[]): VersionVector {
  const byActor = new Map<string, VvEntry>();
  const add = (e: VvEntry): void => {
    const seen = byActor.get(e.actor);
    if (!seen || e.counter > seen.counter || (e.counter === seen.counter && e.ts_ms > seen.ts_ms)) {
      byActor.set(e.actor, { actor: e.actor, counter: e.counter, ts_ms: e.ts_ms });
    }
  };
  for (const s of siblings) {
    for (const e of s.past) add(e);
    add(s.dot);
  }
  return sortEntries([...byActor.values()]);
}

/**
 * Bound a past to `maxEntries`: drop the oldest entries (by ts_ms, ties by
 * actor id), never the entry of `keepActor` (the version's own dot actor).
 * See the file header for the risk.
 */
export function prune(vv: VersionVector, keepActor: string, maxEntries = VCLOCK_ENTRIES_MAX): VersionVector {
  assert(maxEntries >= 1, 'a pruned vector keeps at least one entry');
  if (vv.length <= maxEntries) return vv.map((e) => ({ ...e }));
  const byAge = vv
    .filter((e) => e.actor !== keepActor)
    .sort((x, y) => x.ts_ms - y.ts_ms || compareActors(x.actor, y.actor));
  const drop = new Set<string>();
  for (const e of byAge) {
    if (vv.length - drop.size <= maxEntries) break;
    drop.add(e.actor);
  }
  return vv.filter((e) => !drop.has(e.actor)).map((e) => ({ ...e }));
}

/** The `VersionOrder` the storage engine uses for encoded dotted version vectors. */
export const dottedVersionVectorOrder: VersionOrder = {
  compare(a: Uint8Array, b: Uint8Array): Causality {
    return compare(decodeDvv(a), decodeDvv(b));
  },
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

function sameDot(a: Dot, b: Dot): boolean {
  return a.actor === b.actor && a.counter === b.counter;
}

/** True when two copies of one dot both carry a digest and they differ: the dot names two values. */
function digestsDiffer(a: Dot, b: Dot): boolean {
  // Test-only planted bug 'silent-same-dot-merge' (planted_bugs.ts): ignore digests, as before issue 12.
  if (isPlanted('silent-same-dot-merge')) return false;
  return a.digest !== undefined && b.digest !== undefined && a.digest !== b.digest;
}

function dotKey(dot: Dot): string {
  return `${dot.counter}:${dot.actor}`;
}

function compareDots(a: Dot, b: Dot): number {
  return compareActors(a.actor, b.actor) || a.counter - b.counter;
}

function entryOf(vv: VersionVector, actor: string): VvEntry | undefined {
  return vv.find((e) => e.actor === actor);
}

function sortEntries(entries: VvEntry[]): VvEntry[] {
  return entries.sort((x, y) => compareActors(x.actor, y.actor));
}
