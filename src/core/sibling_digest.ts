/**
 * The digest of a key's sibling set, as anti-entropy compares it (issue 15):
 * two replicas holding the same versions, in any order, get the same digest;
 * a tombstone against a value, a missing or an extra sibling, a different
 * clock or different value bytes give different digests (up to a 2^-53
 * chance of collision per compared key).
 *
 * What goes in, per version: the clock bytes and the value bytes, or a
 * tombstone mark. What stays out, and why:
 * - `ts_ms`: the coordinator's write time, one per write. Copies of one
 *   write carry the same clock (issue 12 makes dots unique), and merging
 *   (`storage/version.ts` `reconcile`) collapses equal clocks to one copy
 *   chosen by clock and purge mark, never by `ts_ms`. A digest covering
 *   `ts_ms` could therefore differ on two replicas that merging cannot make
 *   equal, and every exchange would ship that key again, forever. The time
 *   that matters causally is already in the clock (its dot's ts).
 * - `purgeable`: a local mark that the tombstone confirmation round sets on
 *   each replica separately. Covering it would turn every confirmation into a
 *   divergence until all replicas had it, and ship tombstones only to move a
 *   flag; confirmation has its own round (issue 12).
 * Value bytes are covered, not only the value digest some clocks carry, so
 * that two copies of one write whose bytes differ (a broken invariant, or
 * damage a checksum missed) show up as a divergence.
 *
 * Method: each version becomes a fixed 24-byte record (two xxh32 of the
 * clock, two of the value or a tombstone mark, both lengths, the value
 * length stored plus one so an empty value and a tombstone differ even
 * before hashing); the records are sorted, so order does not matter; two
 * seeded murmur3 mixes of the sorted records' words give 21 + 32 bits. 53 bits so that a
 * digest is an exact JS number (no BigInt on the write path).
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import { assert } from './assert.js';
import { hash32 } from './hash.js';
import { SIBLINGS_STORED_MAX } from './limits.js';
import type { Version } from './version.js';

/**
 * A sibling-set digest: an integer in [0, 2^53). A key with no versions
 * has no digest (callers pass `null`), not a digest of the empty set.
 */
export type SiblingDigest = number;

/** Digest of the non-empty sibling set `versions` (order-independent). */
export function siblingDigest(versions: readonly Version[]): SiblingDigest {
  const n = versions.length;
  assert(n > 0, 'a key with no versions has no digest: pass null instead');
  assert(n <= SIBLINGS_STORED_MAX, `a sibling set holds at most SIBLINGS_STORED_MAX (${SIBLINGS_STORED_MAX}) versions`);
  const records = new Uint32Array(n * RECORD_WORDS);
  for (let i = 0; i < n; i++) writeRecord(versions[i]!, records, i * RECORD_WORDS);
  sortRecords(records, n);
  const lo = hashWords(records, DIGEST_SEED_LO);
  const hi = hashWords(records, DIGEST_SEED_HI) & DIGEST_HI_MASK;
  return hi * 2 ** 32 + lo;
}

/**
 * murmur3_32 over whole u32 words: the records are already hashes and
 * lengths, so a word-wise mix in JavaScript does as well as xxh32 over
 * their bytes and saves two calls into WASM and a copy per digest (the
 * digest is taken twice on every replica write). Words, not bytes, so byte
 * order does not enter.
 */
function hashWords(words: Uint32Array, seed: number): number {
  let h = seed;
  for (let i = 0; i < words.length; i++) {
    let k = Math.imul(words[i]!, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= words.length * 4;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** True when `d` is a well-formed digest (an integer in [0, 2^53)). */
export function isSiblingDigest(d: number): boolean {
  return Number.isSafeInteger(d) && d >= 0;
}

/** Words of one version's record: clock hashes (2), value hashes (2), clock length, value length + 1 (0 = tombstone). */
const RECORD_WORDS = 6;
/** Seeds of the per-version hashes: any distinct values give independent hashes. */
const CLOCK_SEED_A = 0x3c6ef372;
const CLOCK_SEED_B = 0xa54ff53a;
const VALUE_SEED_A = 0x510e527f;
const VALUE_SEED_B = 0x9b05688c;
/** Seeds of the two halves of the digest itself. */
const DIGEST_SEED_LO = 0x1f83d9ab;
const DIGEST_SEED_HI = 0x5be0cd19;
/** The high half keeps 21 bits, so hi * 2^32 + lo stays below 2^53. */
const DIGEST_HI_MASK = 0x1fffff;
/** Value-hash words of a tombstone; its length word (0) already tells it apart. */
const TOMBSTONE_WORD = 0xdeadbeef;


function writeRecord(version: Version, out: Uint32Array, at: number): void {
  out[at] = hash32(version.clock, CLOCK_SEED_A);
  out[at + 1] = hash32(version.clock, CLOCK_SEED_B);
  if (version.value === null) {
    out[at + 2] = TOMBSTONE_WORD;
    out[at + 3] = TOMBSTONE_WORD;
    out[at + 5] = 0;
  } else {
    out[at + 2] = hash32(version.value, VALUE_SEED_A);
    out[at + 3] = hash32(version.value, VALUE_SEED_B);
    out[at + 5] = version.value.length + 1;
  }
  out[at + 4] = version.clock.length;
}

/** Sort the `n` records of `records` in place, as tuples of u32 words (insertion sort: n is a sibling count, small). */
function sortRecords(records: Uint32Array, n: number): void {
  const held = new Uint32Array(RECORD_WORDS);
  for (let i = 1; i < n; i++) {
    held.set(records.subarray(i * RECORD_WORDS, (i + 1) * RECORD_WORDS));
    let j = i - 1;
    while (j >= 0 && compareRecord(records, j * RECORD_WORDS, held) > 0) {
      records.copyWithin((j + 1) * RECORD_WORDS, j * RECORD_WORDS, (j + 1) * RECORD_WORDS);
      j--;
    }
    records.set(held, (j + 1) * RECORD_WORDS);
  }
}

function compareRecord(records: Uint32Array, at: number, other: Uint32Array): number {
  for (let w = 0; w < RECORD_WORDS; w++) {
    const a = records[at + w]!;
    const b = other[w]!;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

/**
 * What a replica's hash tree records for `key` holding `versions`: their
 * digest, or null when it holds none.
 *
 * Confirmed tombstones (`purgeable`) count like any version, though each
 * replica purges them at its own compaction with no write to tell the tree.
 * Leaving them out looked cheaper (no tombstone shipped back to a replica
 * that purged it first) but the campaign found what it costs: a replica
 * whose table holding a confirmed tombstone rotted away keeps the value the
 * tombstone deleted from an older table, and nobody's tree says it should
 * not: the value comes back. Counted, the tombstone is shipped to it and
 * deletes the value again; the price is shipping a purgeable tombstone to a
 * replica that already purged it, which purges it again at its next
 * compaction, until every replica has.
 */
export function treeDigestOf(versions: readonly Version[]): SiblingDigest | null {
  return versions.length === 0 ? null : siblingDigest(versions);
}
