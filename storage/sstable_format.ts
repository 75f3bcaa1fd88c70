/**
 * The SSTable byte layout, shared by `sstable_writer.ts` and
 * `sstable_reader.ts`. An SSTable is an immutable file of key-sorted entries.
 *
 *   offset 0
 *   +--------------------------------------------------------------+
 *   | data block 0:  entries ... | u32 checksum(entries)           |
 *   | data block 1:  entries ... | u32 checksum(entries)           |
 *   | ...                          (each ~SSTABLE_BLOCK_BYTES)     |
 *   +--------------------------------------------------------------+  filter_offset
 *   | filter block:  bloom filter (bloom.ts) | u32 checksum        |
 *   +--------------------------------------------------------------+  index_offset
 *   | index block:   u32 block count,                              |
 *   |   per block: u16 first key len | first key |                 |
 *   |              u16 last key len  | last key  |                 |
 *   |              u64 offset | u32 length (entries, no checksum)  |
 *   |                                        | u32 checksum        |
 *   +--------------------------------------------------------------+  file size - 64
 *   | footer (64 bytes): u32 format version |                      |
 *   |   u64 filter offset | u32 filter length |                    |
 *   |   u64 index offset  | u32 index length  |                    |
 *   |   u64 entry count | f64 min ts_ms | f64 max ts_ms |          |
 *   |   u32 checksum(the 52 footer bytes before it) | u64 magic    |
 *   +--------------------------------------------------------------+
 *
 *   entry   = u16 key len | key | u16 version count | version ...
 *   version = u8 flags | u16 clock len | clock |
 *             f64 ts_ms | (not a tombstone) u32 value len | value
 *   flags   = bit 0: tombstone (no value bytes follow)
 *             bit 1: purgeable (tombstones only: every owner holds it)
 *             other bits zero: a reader refuses a version with an unknown
 *             bit as corrupt, so a table using a newer bit is never misread
 *             by an older reader, and older tables read unchanged
 *
 * All integers little-endian; block lengths exclude the trailing checksum.
 *
 * Why this shape (after LevelDB and Pebble): blocks are the unit of I/O,
 * checksum and caching, so a read touches one ~4 KiB block found by binary
 * search in the sparse index, and a corrupt block is caught before its bytes
 * are trusted. Index and filter are written after the data, when their sizes
 * are known, which lets the writer stream blocks in one pass; the fixed-size
 * footer at the end is the one place a reader starts from, and its magic
 * number last means a truncated file is detected at once. Every block (data,
 * filter, index, footer) carries its own checksum, so every byte of the file
 * is covered. An entry larger than a block gets a block of its own.
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError } from '../src/core/errors.js';
import { checksum } from '../src/core/hash.js';
import { CLOCK_MAX_BYTES, KEY_MAX_BYTES, SIBLINGS_STORED_MAX, SSTABLE_READ_COPY_CHUNK_BYTES, VALUE_MAX_BYTES } from '../src/core/limits.js';
import { compareKeyRanges, compareKeys } from './key_order.js';
import type { Version } from './version.js';

/** Last 8 bytes of every SSTable: "RKVSST01" read as a little-endian u64. */
export const SSTABLE_MAGIC = 0x3130545353564b52n;
/** Bumped on any change to the layout above. */
export const SSTABLE_FORMAT_VERSION = 1;
/** Fixed size of the footer. */
export const FOOTER_BYTES = 64;
/** Where the footer checksum sits; it covers the footer bytes before it. */
const FOOTER_CHECKSUM_AT = 52;
/** Where the magic sits: last, so a truncated file fails the magic check first. */
const FOOTER_MAGIC_AT = 56;
/** Bytes of the checksum that trails every block. */
export const BLOCK_TRAILER_BYTES = 4;
/** Version flag bit: the version is a tombstone (no value bytes follow). */
export const VERSION_FLAG_TOMBSTONE = 1;
/** Version flag bit: the tombstone is purgeable (`Version.purgeable`); never set on a value. */
export const VERSION_FLAG_PURGEABLE = 2;
/** Every flag bit a reader understands. */
const VERSION_FLAGS_KNOWN = VERSION_FLAG_TOMBSTONE | VERSION_FLAG_PURGEABLE;

/** What a finished SSTable holds; the writer returns it, the manifest records it. */
export interface SSTableMeta {
  /** Path of the file. */
  path: string;
  /** Distinct keys. */
  entry_count: number;
  /** Smallest and largest key (bytewise). */
  min_key: Uint8Array;
  max_key: Uint8Array;
  /** Size of the file. */
  file_bytes: number;
  /** Oldest and newest version timestamp: compaction uses them for tombstone grace. */
  min_ts_ms: number;
  max_ts_ms: number;
}

/** The decoded footer. */
export interface Footer {
  filter_offset: number;
  filter_length: number;
  index_offset: number;
  index_length: number;
  entry_count: number;
  min_ts_ms: number;
  max_ts_ms: number;
}

/** Write a u64 that is a safe integer (offsets, counts) as two u32 halves. */
export function setU64(view: DataView, at: number, n: number): void {
  view.setUint32(at, n % 0x1_0000_0000, true);
  view.setUint32(at + 4, Math.floor(n / 0x1_0000_0000), true);
}

/** Read a u64 written by `setU64`. */
export function getU64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x1_0000_0000;
}

/** Encode the footer (layout at the top of this file). */
export function encodeFooter(footer: Footer): Uint8Array {
  const out = new Uint8Array(FOOTER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, SSTABLE_FORMAT_VERSION, true);
  setU64(view, 4, footer.filter_offset);
  view.setUint32(12, footer.filter_length, true);
  setU64(view, 16, footer.index_offset);
  view.setUint32(24, footer.index_length, true);
  setU64(view, 28, footer.entry_count);
  view.setFloat64(36, footer.min_ts_ms, true);
  view.setFloat64(44, footer.max_ts_ms, true);
  view.setUint32(FOOTER_CHECKSUM_AT, checksum(out.subarray(0, FOOTER_CHECKSUM_AT)), true);
  view.setBigUint64(FOOTER_MAGIC_AT, SSTABLE_MAGIC, true);
  return out;
}

/** Decode and check a footer read from `fileBytes`-long `path`; any mismatch is corruption. */
export function decodeFooter(
  bytes: Uint8Array,
  path: string,
  fileBytes: number,
): Footer {
  const at = fileBytes - FOOTER_BYTES;
  if (bytes.length !== FOOTER_BYTES) throw new CorruptionError(path, at, 'SSTable shorter than its footer');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getBigUint64(FOOTER_MAGIC_AT, true) !== SSTABLE_MAGIC) throw new CorruptionError(path, at, 'bad SSTable magic');
  const stored = view.getUint32(FOOTER_CHECKSUM_AT, true);
  if (checksum(bytes.subarray(0, FOOTER_CHECKSUM_AT)) !== stored) throw new CorruptionError(path, at, 'footer checksum mismatch');
  const version = view.getUint32(0, true);
  if (version !== SSTABLE_FORMAT_VERSION) throw new CorruptionError(path, at, `unknown SSTable format version ${version}`);
  return {
    filter_offset: getU64(view, 4),
    filter_length: view.getUint32(12, true),
    index_offset: getU64(view, 16),
    index_length: view.getUint32(24, true),
    entry_count: getU64(view, 28),
    min_ts_ms: view.getFloat64(36, true),
    max_ts_ms: view.getFloat64(44, true),
  };
}

/** Append the checksum trailer of the block `bytes[start, end)` at `end`; returns the end of the trailer. */
export function sealBlock(bytes: Uint8Array, start: number, end: number): number {
  const sum = checksum(bytes.subarray(start, end));
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(end, sum, true);
  return end + BLOCK_TRAILER_BYTES;
}

/**
 * Check a block read as payload + trailer (pair of `sealBlock`) and return its
 * payload (a view into `raw`); a short read or checksum mismatch is
 * corruption at `offset`. `what` and `number` name the block in errors.
 */
export function verifyBlock(raw: Uint8Array, payloadLength: number, path: string, offset: number, what: string, number?: number): Uint8Array {
  if (raw.length !== payloadLength + BLOCK_TRAILER_BYTES) {
    throw new CorruptionError(path, offset, `${blockName(what, number)} truncated: ${raw.length} of ${payloadLength + BLOCK_TRAILER_BYTES} bytes`);
  }
  const payload = raw.subarray(0, payloadLength);
  if (checksum(payload) !== readU32(raw, payloadLength)) throw new CorruptionError(path, offset, `${blockName(what, number)} checksum mismatch`);
  return payload;
}

function blockName(what: string, number: number | undefined): string {
  return number === undefined ? what : `${what} ${number}`;
}

/** The little-endian u32 at `bytes[at]`, without a DataView. */
function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)) + bytes[at + 3]! * 0x100_0000;
}

// ---------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------

/** Encoded size of one entry. */
export function entryBytes(key: Uint8Array, versions: readonly Version[]): number {
  let size = 2 + key.length + 2;
  for (const v of versions) size += 1 + 2 + v.clock.length + 8 + (v.value === null ? 0 : 4 + v.value.length);
  return size;
}

/** Write one entry at `at` (the caller made room for `entryBytes`); returns the end. */
export function writeEntry(out: Uint8Array, view: DataView, at: number, key: Uint8Array, versions: readonly Version[]): number {
  view.setUint16(at, key.length, true);
  out.set(key, at + 2);
  at += 2 + key.length;
  view.setUint16(at, versions.length, true);
  at += 2;
  for (const v of versions) {
    assert(v.purgeable === undefined || v.value === null, 'only a tombstone is purgeable');
    out[at] = (v.value === null ? VERSION_FLAG_TOMBSTONE : 0) | (v.purgeable ? VERSION_FLAG_PURGEABLE : 0);
    view.setUint16(at + 1, v.clock.length, true);
    out.set(v.clock, at + 3);
    at += 3 + v.clock.length;
    view.setFloat64(at, v.ts_ms, true);
    at += 8;
    if (v.value !== null) {
      view.setUint32(at, v.value.length, true);
      out.set(v.value, at + 4);
      at += 4 + v.value.length;
    }
  }
  return at;
}

/**
 * Where each entry of one block starts, in a buffer reused from block to
 * block so that walking a block allocates nothing once the buffer has grown to
 * the largest block seen (one offset per entry of the largest block).
 */
export class EntryOffsets {
  /** Offsets (into the walked block) of entries 0 .. count-1, ascending. */
  offsets = new Uint32Array(ENTRY_OFFSETS_INITIAL);
  /** Entries of the last block walked. */
  count = 0;

  push(at: number): void {
    if (this.count === this.offsets.length) {
      const grown = new Uint32Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.offsets[this.count++] = at;
  }
}

/** Starting room of an `EntryOffsets`: a 4 KiB block of ~130-byte entries has ~32. */
const ENTRY_OFFSETS_INITIAL = 128;

/**
 * Walk a verified data block: check every length stays inside it and keys
 * strictly increase (the reader's half of the writer's order assertion), and
 * record where each entry starts in `out` (overwriting it). `fileOffset`
 * locates errors. One pass, no allocation: this runs on every block-cache miss.
 */
export function walkEntries(block: Uint8Array, path: string, fileOffset: number, out: EntryOffsets): void {
  out.count = 0;
  const end = block.length;
  let at = 0;
  let prevStart = -1;
  while (at < end) {
    if (at + 2 > end) throw entryError(path, fileOffset, at, out.count, 'key length past block end');
    const keyLength = block[at]! | (block[at + 1]! << 8);
    if (keyLength > KEY_MAX_BYTES || at + 4 + keyLength > end) throw entryError(path, fileOffset, at, out.count, `bad key length ${keyLength}`);
    if (prevStart >= 0 && compareKeyRanges(block, prevStart + 2, block[prevStart]! | (block[prevStart + 1]! << 8), block, at + 2, keyLength) >= 0) {
      throw entryError(path, fileOffset, at, out.count, 'keys out of order');
    }
    const countAt = at + 2 + keyLength;
    const count = block[countAt]! | (block[countAt + 1]! << 8);
    if (count < 1 || count > SIBLINGS_STORED_MAX) throw entryError(path, fileOffset, at, out.count, `bad version count ${count}`);
    let cursor = countAt + 2;
    for (let i = 0; i < count; i++) {
      cursor = skipVersion(block, cursor);
      if (cursor < 0) throw entryError(path, fileOffset, at, out.count, VERSION_ERRORS[-cursor - 1]!);
    }
    out.push(at);
    prevStart = at;
    at = cursor;
  }
  if (out.count === 0) throw new CorruptionError(path, fileOffset, 'empty data block');
}

function entryError(path: string, fileOffset: number, at: number, entry: number, detail: string): CorruptionError {
  return new CorruptionError(path, fileOffset + at, `data block entry ${entry}: ${detail}`);
}

/** What `skipVersion` found wrong; it returns -(index + 1) of one of these. */
const VERSION_ERRORS = [
  'version header past block end',
  'unknown version flags',
  'bad clock length',
  'value length past block end',
  'bad value length',
  'version past block end',
  'purgeable flag on a value',
] as const;

/** End of the version at `at`, or -(index into VERSION_ERRORS + 1) when it does not fit the block. */
function skipVersion(block: Uint8Array, at: number): number {
  if (at + 3 > block.length) return -1;
  const flags = block[at]!;
  if ((flags & ~VERSION_FLAGS_KNOWN) !== 0) return -2;
  const tombstone = (flags & VERSION_FLAG_TOMBSTONE) !== 0;
  if (!tombstone && flags !== 0) return -7;
  const clockLength = block[at + 1]! | (block[at + 2]! << 8);
  if (clockLength > CLOCK_MAX_BYTES) return -3;
  let end = at + 3 + clockLength + 8;
  if (!tombstone) {
    if (end + 4 > block.length) return -4;
    const valueLength = readU32(block, end);
    if (valueLength > VALUE_MAX_BYTES) return -5;
    end += 4 + valueLength;
  }
  if (end > block.length) return -6;
  return end;
}

/** The key of the entry starting at `at` (a view into `block`). */
export function keyAt(block: Uint8Array, at: number): Uint8Array {
  const keyLength = block[at]! | (block[at + 1]! << 8);
  return block.subarray(at + 2, at + 2 + keyLength);
}

/**
 * Where `versionsAt` copies version bytes: a write-once bump allocator. A
 * chunk is filled front to back and replaced, never reset, so a copy handed
 * out is never rewritten. One 4 KiB allocation serves ~30 entries of 100-byte
 * values, where one allocation per entry (an off-heap ArrayBuffer each) made
 * a cache hit ~30% slower. The price: a returned value keeps its chunk
 * (`SSTABLE_READ_COPY_CHUNK_BYTES`) alive. One per thread (module state).
 */
let copyChunk = new Uint8Array(SSTABLE_READ_COPY_CHUNK_BYTES);
/** Bytes of `copyChunk` handed out (8-aligned). */
let copyChunkUsed = 0;

/**
 * Decode the versions of the entry at `at` of a block already walked by
 * `walkEntries`; `view` spans the same bytes as `block` (same offsets).
 * Clocks and values are copies (of the entry's version bytes, copied once
 * into a copy chunk, or into a buffer of their own when over a quarter
 * chunk), so nothing returned aliases `block`, which may be a block-cache
 * slab that is later rewritten.
 */
export function versionsAt(block: Uint8Array, view: DataView, at: number): Version[] {
  at += 2 + (block[at]! | (block[at + 1]! << 8));
  const count = block[at]! | (block[at + 1]! << 8);
  at += 2;
  // First pass: where the versions end (the block was walked, so every length is in bounds).
  let end = at;
  for (let i = 0; i < count; i++) {
    const tombstone = (block[end]! & VERSION_FLAG_TOMBSTONE) !== 0;
    end += 3 + (block[end + 1]! | (block[end + 2]! << 8)) + 8;
    if (!tombstone) end += 4 + view.getUint32(end, true);
  }
  const length = end - at;
  let copy: Uint8Array;
  /** `copy[i + shift]` is the copy of `block[i]`. */
  let shift: number;
  if (length > SSTABLE_READ_COPY_CHUNK_BYTES / 4) {
    copy = block.slice(at, end);
    shift = -at;
  } else {
    if (copyChunkUsed + length > copyChunk.length) {
      copyChunk = new Uint8Array(SSTABLE_READ_COPY_CHUNK_BYTES);
      copyChunkUsed = 0;
    }
    copy = copyChunk;
    shift = copyChunkUsed - at;
    copy.set(block.subarray(at, end), copyChunkUsed);
    copyChunkUsed = (copyChunkUsed + length + 7) & ~7;
  }
  const versions: Version[] = [];
  for (let i = 0; i < count; i++) {
    const flags = block[at]!;
    const tombstone = (flags & VERSION_FLAG_TOMBSTONE) !== 0;
    const clockLength = block[at + 1]! | (block[at + 2]! << 8);
    const clock = copy.subarray(at + 3 + shift, at + 3 + clockLength + shift);
    at += 3 + clockLength;
    const ts_ms = view.getFloat64(at, true);
    at += 8;
    let value: Uint8Array | null = null;
    if (!tombstone) {
      const valueLength = view.getUint32(at, true);
      value = copy.subarray(at + 4 + shift, at + 4 + valueLength + shift);
      at += 4 + valueLength;
    }
    const version: Version = { clock, value, ts_ms };
    if ((flags & VERSION_FLAG_PURGEABLE) !== 0) version.purgeable = true;
    versions.push(version);
  }
  return versions;
}

// ---------------------------------------------------------------------------
// Sparse index
// ---------------------------------------------------------------------------

/** Where one data block is and which keys it spans. */
export interface BlockHandle {
  first_key: Uint8Array;
  last_key: Uint8Array;
  /** File offset of the block's entries. */
  offset: number;
  /** Bytes of entries (the checksum trailer follows). */
  length: number;
}

/** Encoded size of the index payload for `blocks`. */
export function indexBytes(blocks: readonly BlockHandle[]): number {
  let size = 4;
  for (const b of blocks) size += 2 + b.first_key.length + 2 + b.last_key.length + 8 + 4;
  return size;
}

/** Encode the index payload into `out` at 0 (sized by `indexBytes`). */
export function writeIndex(out: Uint8Array, blocks: readonly BlockHandle[]): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, blocks.length, true);
  let at = 4;
  for (const b of blocks) {
    for (const key of [b.first_key, b.last_key]) {
      view.setUint16(at, key.length, true);
      out.set(key, at + 2);
      at += 2 + key.length;
    }
    setU64(view, at, b.offset);
    view.setUint32(at + 8, b.length, true);
    at += 12;
  }
  return at;
}

/**
 * Decode a verified index payload found at `fileOffset` and check it is
 * coherent: blocks tile the data region [0, dataEnd) in order and their key
 * ranges strictly increase. Anything else is corruption.
 */
export function decodeIndex(payload: Uint8Array, path: string, fileOffset: number, dataEnd: number): BlockHandle[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const fail = (detail: string): never => {
    throw new CorruptionError(path, fileOffset, `index block: ${detail}`);
  };
  if (payload.length < 4) fail('shorter than its count');
  const count = view.getUint32(0, true);
  const blocks: BlockHandle[] = [];
  let at = 4;
  let expectedOffset = 0;
  const readKey = (): Uint8Array => {
    if (at + 2 > payload.length) fail('key length past end');
    const length = view.getUint16(at, true);
    if (length > KEY_MAX_BYTES || at + 2 + length > payload.length) fail(`bad key length ${length}`);
    const key = payload.slice(at + 2, at + 2 + length);
    at += 2 + length;
    return key;
  };
  for (let i = 0; i < count; i++) {
    const first_key = readKey();
    const last_key = readKey();
    if (at + 12 > payload.length) fail('block handle past end');
    const offset = getU64(view, at);
    const length = view.getUint32(at + 8, true);
    at += 12;
    if (offset !== expectedOffset || length === 0) fail(`block ${i} at ${offset} (+${length}) does not follow the previous one`);
    if (compareKeys(first_key, last_key) > 0) fail(`block ${i} first key after its last key`);
    const prev = blocks[blocks.length - 1];
    if (prev !== undefined && compareKeys(prev.last_key, first_key) >= 0) fail(`block ${i} keys out of order`);
    blocks.push({ first_key, last_key, offset, length });
    expectedOffset = offset + length + BLOCK_TRAILER_BYTES;
  }
  if (at !== payload.length) fail('trailing bytes');
  if (expectedOffset !== dataEnd) fail(`blocks end at ${expectedOffset}, data region ends at ${dataEnd}`);
  return blocks;
}
