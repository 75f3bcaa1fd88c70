/**
 * The one key order of the storage engine: keys are raw bytes compared
 * bytewise as unsigned octets (memcmp order), a shorter key sorting before any
 * longer key it prefixes. Memtables, SSTables, scans and compaction merges all
 * use this order, so it lives in one place.
 *
 * Pure functions, safe from any thread.
 */

/** Negative, zero or positive as `a` sorts before, equal to or after `b`. */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * Compare the key stored at `bytes[at .. at+length)` with `key`, without
 * allocating a subarray (the SSTable read path searches blocks in place).
 */
export function compareKeyAt(bytes: Uint8Array, at: number, length: number, key: Uint8Array): number {
  return compareKeyRanges(bytes, at, length, key, 0, key.length);
}

/**
 * Compare `a[aAt .. aAt+aLength)` with `b[bAt .. bAt+bLength)` in key order.
 * Callers that know both keys share their first c bytes pass ranges starting
 * at c, which orders them exactly as the whole keys.
 */
export function compareKeyRanges(a: Uint8Array, aAt: number, aLength: number, b: Uint8Array, bAt: number, bLength: number): number {
  const n = aLength < bLength ? aLength : bLength;
  for (let i = 0; i < n; i++) {
    const d = a[aAt + i]! - b[bAt + i]!;
    if (d !== 0) return d;
  }
  return aLength - bLength;
}

/** True when both keys hold the same bytes. */
export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareKeys(a, b) === 0;
}

/** Bytes of a key folded into `keyPrefix`: 6 bytes keep the number an exact double. */
const PREFIX_BYTES = 6;

/**
 * The first 6 bytes of `key` as a big-endian number, zero-padded. Monotone
 * in key order: `keyPrefix(a) < keyPrefix(b)` implies `a < b` (a shorter key
 * pads with zeros, which sorts it first as bytewise order does), so searches
 * compare prefixes, held in flat arrays, and touch full keys only on a tie.
 */
export function keyPrefix(key: Uint8Array): number {
  return keyPrefixAt(key, 0, key.length);
}

/** `keyPrefix` of the key stored at `bytes[at .. at+length)` (same monotonicity among keys compared from the same offset). */
export function keyPrefixAt(bytes: Uint8Array, at: number, length: number): number {
  let prefix = 0;
  const n = length < PREFIX_BYTES ? length : PREFIX_BYTES;
  for (let i = 0; i < PREFIX_BYTES; i++) prefix = prefix * 256 + (i < n ? bytes[at + i]! : 0);
  return prefix;
}

/** Length of the longest common prefix of `a` and `b`. */
export function sharedPrefixLength(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
