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
  const n = length < key.length ? length : key.length;
  for (let i = 0; i < n; i++) {
    const d = bytes[at + i]! - key[i]!;
    if (d !== 0) return d;
  }
  return length - key.length;
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
  let prefix = 0;
  const n = key.length < PREFIX_BYTES ? key.length : PREFIX_BYTES;
  for (let i = 0; i < PREFIX_BYTES; i++) prefix = prefix * 256 + (i < n ? key[i]! : 0);
  return prefix;
}
