/**
 * The commit-log payload of one write: a key and one version. The commit
 * log frames and checksums it; this layout only has to be compact and
 * self-delimiting.
 *
 *   +-----------+-----+-------------+-------+----------+-----------+-------------+-------+
 *   | u16 klen  | key | u16 clklen  | clock | u8 flags | f64 ts_ms | u32 vlen    | value |
 *   +-----------+-----+-------------+-------+----------+-----------+-------------+-------+
 *   flags bit 0: tombstone (then vlen is 0 and there is no value)
 *   flags bit 1: purgeable (tombstones only: every owner of the key holds it)
 *   other bits: zero; a record with an unknown bit is refused as corrupt
 *
 * All integers little-endian.
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError } from '../src/core/errors.js';
import type { Version } from './version.js';

const FLAG_TOMBSTONE = 1;
const FLAG_PURGEABLE = 2;
const FLAGS_KNOWN = FLAG_TOMBSTONE | FLAG_PURGEABLE;

/** One logged write. */
export interface Mutation {
  key: Uint8Array;
  version: Version;
}

/** Encode a mutation for the commit log. */
export function encodeMutation(key: Uint8Array, version: Version): Uint8Array {
  const valueLength = version.value === null ? 0 : version.value.length;
  const out = new Uint8Array(2 + key.length + 2 + version.clock.length + 1 + 8 + 4 + valueLength);
  const view = new DataView(out.buffer);
  let at = 0;
  view.setUint16(at, key.length, true);
  out.set(key, at + 2);
  at += 2 + key.length;
  view.setUint16(at, version.clock.length, true);
  out.set(version.clock, at + 2);
  at += 2 + version.clock.length;
  assert(version.purgeable === undefined || version.value === null, 'only a tombstone is purgeable');
  out[at] = (version.value === null ? FLAG_TOMBSTONE : 0) | (version.purgeable ? FLAG_PURGEABLE : 0);
  view.setFloat64(at + 1, version.ts_ms, true);
  view.setUint32(at + 9, valueLength, true);
  at += 13;
  if (version.value !== null) out.set(version.value, at);
  return out;
}

/**
 * Decode a mutation. The commit log already verified the record's checksum,
 * so a layout mismatch here means a bug or a forged record: `CorruptionError`.
 */
export function decodeMutation(bytes: Uint8Array, location: string): Mutation {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new CorruptionError(location, -1, `commit-log mutation ${why}`);
  };
  if (bytes.length < 2) fail('shorter than its key length');
  const keyLength = view.getUint16(0, true);
  let at = 2 + keyLength;
  if (at + 2 > bytes.length) fail('truncated in its key');
  const key = bytes.slice(2, at);
  const clockLength = view.getUint16(at, true);
  const clock = bytes.slice(at + 2, at + 2 + clockLength);
  at += 2 + clockLength;
  if (at + 13 > bytes.length) fail('truncated in its clock');
  const flags = bytes[at]!;
  if ((flags & ~FLAGS_KNOWN) !== 0) fail(`has unknown flags ${flags}`);
  const tombstone = (flags & FLAG_TOMBSTONE) !== 0;
  const purgeable = (flags & FLAG_PURGEABLE) !== 0;
  if (purgeable && !tombstone) fail('is a purgeable value (only tombstones are purgeable)');
  const ts_ms = view.getFloat64(at + 1, true);
  const valueLength = view.getUint32(at + 9, true);
  at += 13;
  if (at + valueLength !== bytes.length) fail('length does not match its value');
  if (tombstone && valueLength !== 0) fail('is a tombstone with a value');
  const version: Version = { clock, value: tombstone ? null : bytes.slice(at), ts_ms };
  if (purgeable) version.purgeable = true;
  return { key, version };
}
