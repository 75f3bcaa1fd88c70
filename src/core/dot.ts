/**
 * The vocabulary of dotted version vectors (dotted_version_vector.ts): dots,
 * version vectors, value digests and actor ids. Kept apart so the clock's
 * logic and its byte codec (dvv_codec.ts) share one definition of each.
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import { assert } from './assert.js';
import { hash32 } from './hash.js';

/** One version-vector entry: an actor, how many writes of it are covered, when last bumped. */
export interface VvEntry {
  /** Actor id (see `actorId`). */
  actor: string;
  /** Writes of `actor` covered: dots (actor, 1..counter). */
  counter: number;
  /** When the entry was last bumped (ms, from the caller): pruning drops the oldest. */
  ts_ms: number;
}

/** A version vector: entries sorted by actor, each actor at most once. */
export type VersionVector = readonly VvEntry[];

/** The write that made a version: the coordinating actor and its counter. */
export interface Dot {
  /** Actor that coordinated the write. */
  actor: string;
  /** That actor's counter for the write (>= 1). */
  counter: number;
  /** When the write was coordinated (ms). */
  ts_ms: number;
  /**
   * What the write stored: `valueDigest` of its value (a u32, or
   * TOMBSTONE_DIGEST for a delete). Absent on clocks written before issue 12:
   * such a dot is not checked against other copies of itself.
   */
  digest?: number;
}

/** The digest of a tombstone: 2^32, outside the u32 range of every value's xxh32 (see the file header). */
export const TOMBSTONE_DIGEST = 0x1_0000_0000;

/** The digest a dot carries for a write of `value` (null: a tombstone). */
export function valueDigest(value: Uint8Array | null): number {
  return value === null ? TOMBSTONE_DIGEST : hash32(value);
}

/** A digest for logs: 8 hex digits, "tombstone", or "none" (a clock from before issue 12). */
export function digestText(digest: number | undefined): string {
  if (digest === undefined) return 'none';
  return digest === TOMBSTONE_DIGEST ? 'tombstone' : digest.toString(16).padStart(8, '0');
}

/** One version's causal metadata: its own dot and the causal past it supersedes. */
export interface Dvv {
  /** The write that made this version. */
  dot: Dot;
  /** What the writer had seen; every version whose dot this covers is superseded. */
  past: VersionVector;
}

/** Separator between node id and epoch in an actor id. */
const EPOCH_SEPARATOR = '#epoch';

/**
 * The actor id of `nodeId` in its `epoch`: bump the epoch whenever the node
 * comes back without its data, so its counters never restart under an old id.
 */
export function actorId(nodeId: string, epoch: number): string {
  assert(nodeId.length > 0 && !nodeId.includes('#'), 'node id is non-empty and has no "#"');
  assert(Number.isSafeInteger(epoch) && epoch >= 0, 'epoch is a non-negative integer');
  const id = `${nodeId}${EPOCH_SEPARATOR}${epoch}`;
  assert(new TextEncoder().encode(id).length <= 255, 'actor id fits in a u8 length');
  return id;
}

/** The node id an actor id belongs to (the part before the epoch). */
export function actorNode(actor: string): string {
  const at = actor.indexOf(EPOCH_SEPARATOR);
  return at < 0 ? actor : actor.slice(0, at);
}

/** Orders actor ids (code-unit order, the order vectors are sorted in). */
export function compareActors(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A digest is a u32 (a value's xxh32) or TOMBSTONE_DIGEST. */
export function assertDigest(digest: number): void {
  assert(digest === TOMBSTONE_DIGEST || (Number.isInteger(digest) && digest >= 0 && digest <= 0xffff_ffff), 'a digest is a u32 or TOMBSTONE_DIGEST');
}

/** A vector is sorted by actor, each actor once, counters positive integers. */
export function assertVector(vv: VersionVector): void {
  for (let i = 0; i < vv.length; i++) {
    const e = vv[i]!;
    assert(Number.isSafeInteger(e.counter) && e.counter >= 1, 'vector counters are positive integers');
    if (i > 0) assert(compareActors(vv[i - 1]!.actor, e.actor) < 0, 'vector sorted by actor, each actor once');
  }
}
