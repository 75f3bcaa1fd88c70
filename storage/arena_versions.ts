/**
 * A key's reconciled version set as one record in a `ByteArena`: what the
 * arena memtable (storage/arena_memtable.ts) stores in place of an array of
 * `Version` objects. Clocks are inline; each value is its own arena
 * record, written once and referenced by address, so re-encoding a key's
 * list after a merge copies the surviving clocks but never a value.
 *
 * Layout (little-endian; offsets in bytes):
 *
 *   list:   +-----------+---------+---------+-----+
 *           | count u32 | entry 0 | entry 1 | ... |
 *           +-----------+---------+---------+-----+
 *
 *   entry:  0        8         9              11             15              19              23
 *           +--------+---------+--------------+--------------+---------------+---------------+-------------+
 *           | ts_ms  | flags   | clock length | value chunk  | value offset  | value length  | clock bytes |
 *           | f64    | u8      | u16          | u32          | u32           | u32           |             |
 *           +--------+---------+--------------+--------------+---------------+---------------+-------------+
 *
 *   flags:  bit 0 FLAG_TOMBSTONE (value null; the value fields are 0)
 *           bit 1 FLAG_PURGEABLE (`purgeable: true`)
 *
 * Not a disk format: it lives only as long as its memtable, so it has no
 * version byte or checksum. Reads return `Version` objects whose clock
 * and value are subarrays of the arena (no copy); they stay valid and
 * unchanged for as long as they are held.
 *
 * Thread contract: one thread only (the memtable's).
 */
import { assert } from '../src/core/assert.js';
import { CLOCK_MAX_BYTES } from '../src/core/limits.js';
import type { ByteArena } from './arena.js';
import type { Version } from './version.js';

/** Bytes of the list header (the count). */
const LIST_HEADER_BYTES = 4;
/** Bytes of an entry before its clock bytes. */
const ENTRY_HEADER_BYTES = 23;
const AT_TS = 0;
const AT_FLAGS = 8;
const AT_CLOCK_LENGTH = 9;
const AT_VALUE_CHUNK = 11;
const AT_VALUE_OFFSET = 15;
const AT_VALUE_LENGTH = 19;
const FLAG_TOMBSTONE = 1;
const FLAG_PURGEABLE = 2;

/** Encodes and decodes version lists in one arena. */
export class ArenaVersionLists {
  /** Chunk of the list the last `write` stored (its offset is `write`'s result). */
  lastChunk = 0;

  constructor(private readonly arena: ByteArena) {}

  /** Bytes of the list record for `versions` (values not included: they are records of their own). */
  static listBytes(versions: readonly Version[]): number {
    let bytes = LIST_HEADER_BYTES;
    for (const v of versions) bytes += ENTRY_HEADER_BYTES + v.clock.length;
    return bytes;
  }

  /** The versions of the list at (`chunk`, `offset`), as fresh objects over arena bytes. */
  read(chunk: number, offset: number): Version[] {
    const view = this.arena.view(chunk);
    const bytes = this.arena.bytes(chunk);
    const count = view.getUint32(offset, true);
    const out = new Array<Version>(count);
    let at = offset + LIST_HEADER_BYTES;
    for (let i = 0; i < count; i++) {
      const flags = bytes[at + AT_FLAGS]!;
      const clockLength = view.getUint16(at + AT_CLOCK_LENGTH, true);
      const clockAt = at + ENTRY_HEADER_BYTES;
      let value: Uint8Array | null = null;
      if ((flags & FLAG_TOMBSTONE) === 0) {
        const valueOffset = view.getUint32(at + AT_VALUE_OFFSET, true);
        const valueLength = view.getUint32(at + AT_VALUE_LENGTH, true);
        value = this.arena.bytes(view.getUint32(at + AT_VALUE_CHUNK, true)).subarray(valueOffset, valueOffset + valueLength);
      }
      const version: Version = { clock: bytes.subarray(clockAt, clockAt + clockLength), value, ts_ms: view.getFloat64(at + AT_TS, true) };
      if ((flags & FLAG_PURGEABLE) !== 0) version.purgeable = true;
      out[i] = version;
      at = clockAt + clockLength;
    }
    return out;
  }

  /**
   * Store `versions` as a new list; returns its offset in chunk `lastChunk`.
   * A version that is one of `previous` (the objects `read` returned for the
   * list at (`previousChunk`, `previousOffset`)) keeps its value record; any
   * other value is copied in.
   */
  write(versions: readonly Version[], previous?: readonly Version[], previousChunk = 0, previousOffset = 0): number {
    assert(versions.length > 0, 'a version list holds at least one version');
    // The list first, so that value records allocated below cannot move its chunk.
    const offset = this.arena.alloc(ArenaVersionLists.listBytes(versions));
    const chunk = this.arena.lastChunk;
    const view = this.arena.view(chunk);
    const bytes = this.arena.bytes(chunk);
    view.setUint32(offset, versions.length, true);
    let at = offset + LIST_HEADER_BYTES;
    for (const v of versions) {
      assert(v.clock.length <= CLOCK_MAX_BYTES, 'clock within CLOCK_MAX_BYTES');
      view.setFloat64(at + AT_TS, v.ts_ms, true);
      bytes[at + AT_FLAGS] = (v.value === null ? FLAG_TOMBSTONE : 0) | (v.purgeable === true ? FLAG_PURGEABLE : 0);
      view.setUint16(at + AT_CLOCK_LENGTH, v.clock.length, true);
      let valueChunk = 0;
      let valueOffset = 0;
      let valueLength = 0;
      const kept = previous === undefined ? -1 : previous.indexOf(v);
      if (kept >= 0) {
        const from = this.entryOffset(previousChunk, previousOffset, kept);
        const fromView = this.arena.view(previousChunk);
        valueChunk = fromView.getUint32(from + AT_VALUE_CHUNK, true);
        valueOffset = fromView.getUint32(from + AT_VALUE_OFFSET, true);
        valueLength = fromView.getUint32(from + AT_VALUE_LENGTH, true);
      } else if (v.value !== null) {
        valueOffset = this.arena.copyIn(v.value);
        valueChunk = this.arena.lastChunk;
        valueLength = v.value.length;
      }
      view.setUint32(at + AT_VALUE_CHUNK, valueChunk, true);
      view.setUint32(at + AT_VALUE_OFFSET, valueOffset, true);
      view.setUint32(at + AT_VALUE_LENGTH, valueLength, true);
      bytes.set(v.clock, at + ENTRY_HEADER_BYTES);
      at += ENTRY_HEADER_BYTES + v.clock.length;
    }
    this.lastChunk = chunk;
    return offset;
  }

  /** Offset of entry `index` of the list at (`chunk`, `offset`). */
  private entryOffset(chunk: number, offset: number, index: number): number {
    const view = this.arena.view(chunk);
    assert(index < view.getUint32(offset, true), 'entry index within the list');
    let at = offset + LIST_HEADER_BYTES;
    for (let i = 0; i < index; i++) at += ENTRY_HEADER_BYTES + view.getUint16(at + AT_CLOCK_LENGTH, true);
    return at;
  }
}
