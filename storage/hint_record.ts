/**
 * The byte layouts of the hint store (`hint_store.ts`), with their encoders
 * and decoders. LMDB environment `<dir>/hints.mdb` has two named databases:
 *
 * `hints`: one entry per hint. The LMDB key sorts a node's hints by owner,
 * then by a sequence number that grows across the whole store and survives
 * reopen, so a range scan over one owner's prefix returns its hints in
 * insertion order (LMDB compares keys bytewise; big-endian integers sort
 * numerically). The length prefix keeps "node-1" and "node-10" apart.
 *
 * ```
 *  key:  +------------+------------------+----------------------+
 *        | owner_len  | owner (UTF-8)    | seq (u64 BE)         |
 *        | u8, 1..255 | owner_len bytes  | 8 bytes, < 2^53      |
 *        +------------+------------------+----------------------+
 *
 *  value (compact binary, all integers big-endian):
 *    0   u32  checksum   xxh32 (src/core/hash.ts checksum) of key ‖ value[4..]
 *    4   u8   format     HINT_FORMAT_VERSION
 *    5   f64  created_ms  when the hint was added (the injected clock)
 *   13   u16  key_len, then key_len bytes of the data key
 *        u16  version_count (1..SIBLINGS_MAX), then per version:
 *             u16 clock_len, clock bytes,
 *             u8  kind (0 tombstone, 1 value),
 *             u32 value_len (0 for a tombstone), value bytes,
 *             f64 ts_ms
 * ```
 *
 * A compact hand-written layout rather than msgpack: it is small, it has no
 * shared-structure state to lose, and the checksum covers exact bytes. LMDB
 * keeps no checksums of its own, so the checksum (which also covers the LMDB
 * key, so a value found under the wrong key is caught too) is verified on
 * every read; a mismatch is a `CorruptionError`.
 *
 * `meta`: `next_seq` as u64 BE ‖ u32 checksum, written in the same
 * transaction as every add, so sequence numbers never repeat even after all
 * hints were delivered and deleted.
 *
 * Thread contract: pure functions.
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError, InvalidRequestError } from '../src/core/errors.js';
import { checksum } from '../src/core/hash.js';
import { CLOCK_MAX_BYTES, KEY_MAX_BYTES, SIBLINGS_MAX, VALUE_MAX_BYTES } from '../src/core/limits.js';
import type { Version } from './version.js';

/** One stored hint: versions of `key` that `owner` should have received. */
export interface Hint {
  /** Store-wide sequence number; increasing in insertion order. */
  id: number;
  /** Node id of the intended owner. */
  owner: string;
  /** The data key. */
  key: Uint8Array;
  /** The versions to hand over, as the coordinator gave them. */
  versions: Version[];
  /** When the hint was added (injected clock, ms). */
  created_ms: number;
}

/** Version byte of the value layout above; bump it when the layout changes. */
const HINT_FORMAT_VERSION = 1;
/** Bytes of the fixed value header: checksum, format, created_ms. */
const VALUE_HEADER_BYTES = 13;
/** Bytes of a big-endian sequence number at the end of a key. */
const SEQ_BYTES = 8;
/** Longest owner id, in UTF-8 bytes: its length is one byte in the key. */
const OWNER_MAX_BYTES = 255;
/** `owner_len ‖ owner`, the prefix shared by all of an owner's keys. */
export function ownerPrefix(owner: string): Uint8Array {
  const bytes = new TextEncoder().encode(owner);
  assert(bytes.length > 0 && bytes.length <= OWNER_MAX_BYTES, 'owner id is 1..255 UTF-8 bytes');
  const prefix = new Uint8Array(1 + bytes.length);
  prefix[0] = bytes.length;
  prefix.set(bytes, 1);
  return prefix;
}

/** The LMDB key of hint `seq` under `prefix`. */
export function hintKey(prefix: Uint8Array, seq: number): Buffer {
  assert(Number.isSafeInteger(seq) && seq >= 0, 'sequence numbers are safe non-negative integers');
  const key = Buffer.alloc(prefix.length + SEQ_BYTES);
  key.set(prefix, 0);
  key.writeBigUInt64BE(BigInt(seq), prefix.length);
  return key;
}

/** Range-scan bounds covering `prefix`'s keys from `from_seq` on (the end is exclusive). */
export function ownerRange(prefix: Uint8Array, from_seq: number): { start: Buffer; end: Buffer } {
  const end = Buffer.alloc(prefix.length + SEQ_BYTES, 0xff);
  end.set(prefix, 0);
  return { start: hintKey(prefix, from_seq), end };
}

/** Split an LMDB key into owner and sequence; null when its shape is wrong. */
export function parseHintKey(key: Uint8Array): { owner: string; seq: number } | null {
  const owner_len = key[0];
  if (owner_len === undefined || owner_len === 0 || key.length !== 1 + owner_len + SEQ_BYTES) return null;
  const view = new DataView(key.buffer, key.byteOffset, key.length);
  const seq = view.getBigUint64(1 + owner_len);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { owner: new TextDecoder().decode(key.subarray(1, 1 + owner_len)), seq: Number(seq) };
}

/** Checksum of `lmdb_key ‖ value[4..]`, the bytes the stored checksum covers. */
export function entryChecksum(lmdb_key: Uint8Array, value: Uint8Array): number {
  const covered = new Uint8Array(lmdb_key.length + value.length - 4);
  covered.set(lmdb_key, 0);
  covered.set(value.subarray(4), lmdb_key.length);
  return checksum(covered);
}

/** Write the checksum into `body` now that its LMDB key is known. */
export function sealBody(lmdb_key: Uint8Array, body: Uint8Array): void {
  new DataView(body.buffer, body.byteOffset, body.length).setUint32(0, entryChecksum(lmdb_key, body));
}

/** The hint's created_ms if its header and checksum hold, else null. */
export function verifiedCreatedMs(lmdb_key: Uint8Array, value: Uint8Array): number | null {
  if (value.length < VALUE_HEADER_BYTES) return null;
  const view = new DataView(value.buffer, value.byteOffset, value.length);
  if (view.getUint32(0) !== entryChecksum(lmdb_key, value)) return null;
  if (view.getUint8(4) !== HINT_FORMAT_VERSION) return null;
  return view.getFloat64(5);
}

/** Encode everything but the checksum (left zero until `sealBody`). Validates sizes. */
export function encodeBody(created_ms: number, key: Uint8Array, versions: readonly Version[]): Uint8Array {
  assert(Number.isFinite(created_ms), 'now() returns finite milliseconds');
  if (key.length > KEY_MAX_BYTES) throw new InvalidRequestError(`key of ${key.length} bytes exceeds ${KEY_MAX_BYTES}`);
  if (versions.length === 0 || versions.length > SIBLINGS_MAX) {
    throw new InvalidRequestError(`a hint carries 1..${SIBLINGS_MAX} versions, got ${versions.length}`);
  }
  let size = VALUE_HEADER_BYTES + 2 + key.length + 2;
  for (const version of versions) {
    if (version.clock.length > CLOCK_MAX_BYTES) {
      throw new InvalidRequestError(`clock of ${version.clock.length} bytes exceeds ${CLOCK_MAX_BYTES}`);
    }
    const value_len = version.value?.length ?? 0;
    if (value_len > VALUE_MAX_BYTES) throw new InvalidRequestError(`value of ${value_len} bytes exceeds ${VALUE_MAX_BYTES}`);
    size += 2 + version.clock.length + 1 + 4 + value_len + 8;
  }
  const body = new Uint8Array(size);
  const view = new DataView(body.buffer);
  view.setUint8(4, HINT_FORMAT_VERSION);
  view.setFloat64(5, created_ms);
  let at = VALUE_HEADER_BYTES;
  view.setUint16(at, key.length);
  body.set(key, at + 2);
  at += 2 + key.length;
  view.setUint16(at, versions.length);
  at += 2;
  for (const version of versions) {
    view.setUint16(at, version.clock.length);
    body.set(version.clock, at + 2);
    at += 2 + version.clock.length;
    view.setUint8(at, version.value === null ? 0 : 1);
    view.setUint32(at + 1, version.value?.length ?? 0);
    at += 5;
    if (version.value !== null) body.set(version.value, at);
    at += version.value?.length ?? 0;
    view.setFloat64(at, version.ts_ms);
    at += 8;
  }
  assert(at === size, 'encoded hint fills its buffer exactly');
  return body;
}

/** Decode a checksum-verified value; a structural mismatch is still corruption (pair check with `encodeBody`). */
export function decodeBody(location: string, value: Uint8Array): Omit<Hint, 'id' | 'owner'> {
  const bytes = new Uint8Array(value.buffer, value.byteOffset, value.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const need = (at: number, n: number): void => {
    if (at + n > bytes.length) throw new CorruptionError(location, at, 'hint value shorter than its fields say');
  };
  let at = VALUE_HEADER_BYTES;
  need(at, 2);
  const key_len = view.getUint16(at);
  need(at + 2, key_len + 2);
  const key = bytes.slice(at + 2, at + 2 + key_len);
  at += 2 + key_len;
  const version_count = view.getUint16(at);
  at += 2;
  if (version_count === 0 || version_count > SIBLINGS_MAX) throw new CorruptionError(location, at, 'bad version count');
  const versions: Version[] = [];
  for (let i = 0; i < version_count; i++) {
    need(at, 2);
    const clock_len = view.getUint16(at);
    need(at + 2, clock_len + 5);
    const clock = bytes.slice(at + 2, at + 2 + clock_len);
    at += 2 + clock_len;
    const kind = view.getUint8(at);
    const value_len = view.getUint32(at + 1);
    at += 5;
    if (kind > 1 || (kind === 0 && value_len !== 0)) throw new CorruptionError(location, at, 'bad version kind');
    need(at, value_len + 8);
    const stored = kind === 0 ? null : bytes.slice(at, at + value_len);
    at += value_len;
    versions.push({ clock, value: stored, ts_ms: view.getFloat64(at) });
    at += 8;
  }
  if (at !== bytes.length) throw new CorruptionError(location, at, 'trailing bytes after the last version');
  return { key, versions, created_ms: view.getFloat64(5) };
}

/** `next_seq` as u64 BE ‖ checksum of those 8 bytes. */
export function encodeSeqRecord(seq: number): Buffer {
  const record = Buffer.alloc(SEQ_BYTES + 4);
  record.writeBigUInt64BE(BigInt(seq), 0);
  record.writeUInt32BE(checksum(record.subarray(0, SEQ_BYTES)), SEQ_BYTES);
  return record;
}

/** Inverse of `encodeSeqRecord`, verifying its checksum. */
export function decodeSeqRecord(location: string, record: Buffer): number {
  if (record.length !== SEQ_BYTES + 4 || record.readUInt32BE(SEQ_BYTES) !== checksum(record.subarray(0, SEQ_BYTES))) {
    throw new CorruptionError(location, -1, 'the next_seq record fails its checksum');
  }
  const seq = record.readBigUInt64BE(0);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptionError(location, -1, 'next_seq out of range');
  return Number(seq);
}
