/**
 * The byte format of the commit log: segment files, record framing, and the
 * scan that recovery uses to tell a torn or rotted tail from corruption.
 *
 * Byte layout. A directory of segment files named
 * `commitlog-<id, 16 decimal digits>.log`; ids only grow, so name order is id
 * order and replay order. All integers are little-endian.
 *
 *   segment file
 *   +------------------------- segment header (20 bytes) ---------------------------+
 *   | magic u32 "RKCL" | version u16 = 1 | zero u16 | segment id u64 | hsum u32     |
 *   +--------------------------------------------------------------------------------+
 *   | record | record | ... | record |
 *
 *   record (12-byte header, then the payload)
 *   +------------+--------------------+---------------------+---------------------+
 *   | length u32 | lsum u32           | psum u32            | payload             |
 *   |            | checksum(length)   | checksum(payload)   | (length bytes)      |
 *   +------------+--------------------+---------------------+---------------------+
 *
 * What recovery assumes about the disk, and why the last segment is special:
 * - Bytes that were fsynced are what was written. Every segment but the last
 *   was fully fsynced before the next one was created (`rollLocked`), and a
 *   segment's header is fsynced before any record goes into it. So anything
 *   wrong in a segment that is not the last, or in a header with records
 *   after it, is corruption: `CorruptionError`, nothing skipped.
 * - The tail of the last segment after its last fsync is NOT trusted: a crash
 *   may keep any prefix of it (a torn write) and that prefix may hold garbage
 *   (a sector written back half-way: the simulator's torn-flip fault, real
 *   disks). So in the last segment the first record that is incomplete OR
 *   fails a check (`lsum`, a length over COMMITLOG_RECORD_MAX_BYTES, `psum`)
 *   ends replay there: point-in-time recovery, as RocksDB's
 *   kPointInTimeRecovery and PostgreSQL's end of WAL at the first bad CRC.
 *   Records after it are dropped even if they check out, since replay must be
 *   a prefix of what was appended. Nothing on disk says where the last fsync
 *   ended, so a record that rotted *after* it was synced reads the same and
 *   is dropped the same way: then acknowledged writes are gone on this
 *   replica (other replicas and read repair restore them). The scan says
 *   which it was (`torn` or `corrupt`) so recovery reports a corrupt tail
 *   loudly, and the node stops trusting what it knew of its own dots.
 * - `lsum` lets recovery trust `length` before using it: a flipped length that
 *   points past the end of the file must not pass for a merely torn record.
 * - The segment header's magic and version refuse a foreign or future file;
 *   its segment id catches a file renamed or copied into the wrong place; `hsum`
 *   covers the 16 bytes before it. Every bit of a segment is under a checksum.
 *   A last segment that is exactly a header failing `hsum` is a roll whose
 *   header fsync a crash interrupted (it never held a record): a corrupt tail.
 * - Segments let the engine drop a flushed memtable's records by deleting
 *   whole files, with no rewriting.
 * Checksums are `checksum()` (xxh32) from `src/core/hash.ts`.
 *
 * Thread contract: pure functions plus a reader bound to one file handle.
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError } from '../src/core/errors.js';
import { checksum } from '../src/core/hash.js';
import { COMMITLOG_RECORD_MAX_BYTES, COMMITLOG_REPLAY_READ_BYTES } from '../src/core/limits.js';
import type { FileHandle } from './fs.js';

/** Bytes of the header at the start of every segment file. */
export const SEGMENT_HEADER_BYTES = 20;
/** Bytes of the header before every record's payload. */
export const RECORD_HEADER_BYTES = 12;

const SEGMENT_MAGIC = 0x4c434b52; // the bytes "RKCL" read as a little-endian u32
const FORMAT_VERSION = 1;
const SEGMENT_NAME = /^commitlog-(\d{16})\.log$/;

export function segmentFileName(id: number): string {
  assert(Number.isSafeInteger(id) && id > 0, 'segment ids are positive integers');
  return `commitlog-${String(id).padStart(16, '0')}.log`;
}

/** The segment id in a file name, or null if the name is not a segment's. */
export function parseSegmentFileName(name: string): number | null {
  const match = SEGMENT_NAME.exec(name);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** Frame one payload as a record (header + payload). */
export function frameRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, checksum(out.subarray(0, 4)), true);
  view.setUint32(8, checksum(payload), true);
  out.set(payload, RECORD_HEADER_BYTES);
  return out;
}

/** The 20-byte header that opens segment `id`. */
export function encodeSegmentHeader(id: number): Uint8Array {
  const out = new Uint8Array(SEGMENT_HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, SEGMENT_MAGIC, true);
  view.setUint16(4, FORMAT_VERSION, true);
  view.setUint16(6, 0, true);
  view.setBigUint64(8, BigInt(id), true);
  view.setUint32(16, checksum(out.subarray(0, 16)), true);
  return out;
}

/** How a segment's scan ended: at its end, or where replay of the last segment must stop. */
export interface SegmentScan {
  /** End of the last good record (the segment's size when nothing is wrong). */
  end: number;
  /**
   * Why replay stopped before the end of the last segment: 'torn' (the data
   * ends inside a header or record), 'corrupt' (a record or lone header that
   * is all there fails a check), or null (it did not).
   */
  stop: { kind: 'torn' | 'corrupt'; detail: string } | null;
}

/**
 * Check a segment's header and records, calling `onRecord` for each good one,
 * until the end or, in the last segment only, the first torn or failing
 * record (see the header comment). Throws `CorruptionError` for anything wrong
 * in a segment that is not the last, or in a last segment's header that has
 * records after it.
 */
export function scanSegment(
  reader: ChunkedReader,
  size: number,
  path: string,
  id: number,
  isLast: boolean,
  onRecord: (payload: Uint8Array, offset: number) => void,
): SegmentScan {
  const stopAt = (kind: 'torn' | 'corrupt', offset: number, detail: string): SegmentScan => {
    if (isLast) return { end: offset, stop: { kind, detail } };
    throw new CorruptionError(path, offset, `${detail} in a segment that is not the last`);
  };
  if (size < SEGMENT_HEADER_BYTES) return stopAt('torn', 0, 'the segment header is incomplete');
  const headerBytes = reader.read(0, SEGMENT_HEADER_BYTES);
  if (isLast && size === SEGMENT_HEADER_BYTES && !headerSumHolds(headerBytes)) {
    return stopAt('corrupt', 0, 'the segment header (no records after it) fails its checksum');
  }
  checkSegmentHeader(headerBytes, path, id);
  let offset = SEGMENT_HEADER_BYTES;
  while (offset < size) {
    if (size - offset < RECORD_HEADER_BYTES) return stopAt('torn', offset, 'the record header is incomplete');
    const header = viewOf(reader.read(offset, RECORD_HEADER_BYTES));
    const length = header.getUint32(0, true);
    if (checksum(new Uint8Array(header.buffer, header.byteOffset, 4)) !== header.getUint32(4, true)) {
      return stopAt('corrupt', offset, 'the record length fails its checksum');
    }
    if (length > COMMITLOG_RECORD_MAX_BYTES) {
      return stopAt('corrupt', offset, `record length ${length} exceeds COMMITLOG_RECORD_MAX_BYTES`);
    }
    const payloadSum = header.getUint32(8, true);
    if (size - offset - RECORD_HEADER_BYTES < length) return stopAt('torn', offset, 'the record payload is incomplete');
    const payload = reader.read(offset + RECORD_HEADER_BYTES, length);
    assert(payload.length === length, 'a record inside the file reads whole');
    if (checksum(payload) !== payloadSum) return stopAt('corrupt', offset, 'the record payload fails its checksum');
    onRecord(payload.slice(), offset);
    offset += RECORD_HEADER_BYTES + length;
  }
  assert(offset === size, 'a scan that found nothing wrong ends at the end of the segment');
  return { end: offset, stop: null };
}

function headerSumHolds(bytes: Uint8Array): boolean {
  return checksum(bytes.subarray(0, 16)) === viewOf(bytes).getUint32(16, true);
}

function checkSegmentHeader(bytes: Uint8Array, path: string, id: number): void {
  const view = viewOf(bytes);
  if (!headerSumHolds(bytes)) {
    throw new CorruptionError(path, 0, 'the segment header fails its checksum');
  }
  if (view.getUint32(0, true) !== SEGMENT_MAGIC) throw new CorruptionError(path, 0, 'not a commit-log segment (bad magic)');
  const version = view.getUint16(4, true);
  if (version !== FORMAT_VERSION || view.getUint16(6, true) !== 0) {
    throw new CorruptionError(path, 0, `unknown segment format version ${version}`);
  }
  const headerId = view.getBigUint64(8, true);
  if (headerId !== BigInt(id)) throw new CorruptionError(path, 0, `segment header names segment ${headerId}, not ${id}`);
}

/** Positional reads served from one COMMITLOG_REPLAY_READ_BYTES window, so replay is not a syscall per record. */
export class ChunkedReader {
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;

  constructor(private readonly handle: FileHandle) {}

  /** Bytes [offset, offset + length), fewer at end of file; valid until the caller drops them. */
  read(offset: number, length: number): Uint8Array {
    const end = offset + length;
    if (offset >= this.windowStart && end <= this.windowStart + this.window.length) {
      return this.window.subarray(offset - this.windowStart, end - this.windowStart);
    }
    if (length > COMMITLOG_REPLAY_READ_BYTES) return this.handle.readSync(offset, length);
    this.window = this.handle.readSync(offset, COMMITLOG_REPLAY_READ_BYTES);
    this.windowStart = offset;
    return this.window.subarray(0, Math.min(length, this.window.length));
  }
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
