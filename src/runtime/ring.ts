/**
 * A single-producer single-consumer ring of frames on a SharedArrayBuffer
 * (after ringbuf.js). One ring carries one directed pair of threads; the
 * producer thread only writes, the consumer thread only reads.
 *
 * Thread contract: exactly one thread calls `tryWrite`, exactly one other
 * thread calls `read`/`peek`; both may call `usedBytes`. Nothing else.
 *
 * Memory layout of the SharedArrayBuffer:
 *
 *   byte 0            64                128                 128 + capacity
 *   +-----------------+-----------------+--------------------------------+
 *   | i32 write_index | i32 read_index  |  data (capacity bytes, 2^k)    |
 *   | i32 producer_   | (consumer owns) |  frames, wrapping at the end   |
 *   |   waiting       |                 |                                |
 *   | i32 options     |                 |                                |
 *   +-----------------+-----------------+--------------------------------+
 *   (producer's words and consumer's words sit on separate cache lines;
 *   `options` is written once by `allocateRing` and only read after)
 *
 * `write_index` and `read_index` count bytes ever written / read, modulo
 * 2^32; `(write - read) >>> 0` is the number of bytes in use. A frame is:
 *
 *   +-------------+----------------+-------------------------+---------+
 *   | u32 flags   | u32 check      | payload (length bytes,  | pad to  |
 *   |  | length   |                | may wrap past the end)  | 8 bytes |
 *   +-------------+----------------+-------------------------+---------+
 *
 *   check = xxh32(payload) ^ flags     on a ring with checksums
 *   check = first word ^ HEADER_CHECK  on a ring without
 *
 * The first word holds the payload length in its low 30 bits and two flag
 * bits on top (FRAME_MORE: another frame of the same message follows;
 * FRAME_CONTINUES: this frame continues the message of the frame before), which
 * fragments.ts uses to carry a message larger than one frame. The ring itself
 * only carries them.
 *
 * Checksums are a property of the ring, fixed when it is allocated and kept
 * in its `options` word, so both ends always agree. The bytes of an
 * in-memory ring never cross a disk or a socket: production rings carry no
 * payload checksum (xxh32 of every frame, twice, was a measurable share of
 * each thread's CPU) and check only the header, which costs nothing and
 * still catches a reader at a wrong offset. Debugging and tests turn payload
 * checksums on (`allocateRing(n, { checksums: true })`, or
 * RINGKV_RING_CHECKSUMS=1 in the environment for every ring allocated
 * without an explicit choice); the flags are then XORed into the stored
 * checksum, so a flipped flag bit fails the check like a flipped payload bit.
 *
 * Frames start at 8-byte-aligned offsets and the capacity is a power of two,
 * so the 8-byte header never straddles the end of the buffer; only the payload
 * may wrap, and it is copied in two parts. The consumer verifies the header
 * (and the checksum, when on) before a single byte is decoded: a mismatch is
 * a `CorruptionError`, and because a corrupt length cannot be trusted to find
 * the next frame, the consumer discards the rest of the ring.
 *
 * A full ring never blocks and never throws: `tryWrite` returns false and the
 * producer keeps the frame (backpressure). The producer sets `producer_waiting`
 * so that the consumer, after freeing space, rings the producer's doorbell.
 */
import { assert } from '../core/assert.js';
import { CorruptionError } from '../core/errors.js';
import { checksum } from '../core/hash.js';

const HEADER_BYTES = 128;
const WRITE_INDEX = 0; // Int32 slot, producer-owned
const PRODUCER_WAITING = 1; // Int32 slot, set by producer, cleared by consumer
const OPTIONS = 2; // Int32 slot, written once by allocateRing
const READ_INDEX = 16; // Int32 slot (byte 64), consumer-owned
/** Bit of the options word: frames carry an xxh32 of their payload. */
const OPTION_CHECKSUMS = 1;
/** XORed into a frame's first word to form its check word on a ring without checksums. */
const HEADER_CHECK = 0x5a17_c0de;
const FRAME_HEADER_BYTES = 8;
/** Low bits of a frame's first word: the payload length. */
const FRAME_LENGTH_MASK = 0x3fff_ffff;

/** Frame flag: another frame of the same message follows this one. */
export const FRAME_MORE = 0x8000_0000;
/** Frame flag: this frame continues the message of the frame before it. */
export const FRAME_CONTINUES = 0x4000_0000;
/** Both flag bits. */
const FRAME_FLAGS_MASK = (FRAME_MORE | FRAME_CONTINUES) >>> 0;

/** Bytes a frame of `payloadBytes` occupies in the ring, header and padding included. */
export function frameBytes(payloadBytes: number): number {
  return (FRAME_HEADER_BYTES + payloadBytes + 7) & ~7;
}

/** Environment variable that turns payload checksums on for rings allocated without an explicit choice. */
export const RING_CHECKSUMS_ENV = 'RINGKV_RING_CHECKSUMS';

/** Whether a ring allocated without an explicit choice checksums its frames: only when RINGKV_RING_CHECKSUMS=1. */
export function ringChecksumsByDefault(): boolean {
  return process.env[RING_CHECKSUMS_ENV] === '1';
}

/** Choices fixed when a ring is allocated. */
export interface RingOptions {
  /** Frames carry an xxh32 of their payload (a debug and test option; default from RINGKV_RING_CHECKSUMS). */
  checksums?: boolean;
}

/** Allocate the shared memory for a ring with `capacityBytes` of data space. */
export function allocateRing(capacityBytes: number, options: RingOptions = {}): SharedArrayBuffer {
  assert(capacityBytes >= 64 && (capacityBytes & (capacityBytes - 1)) === 0, 'ring capacity is a power of two >= 64');
  const buffer = new SharedArrayBuffer(HEADER_BYTES + capacityBytes);
  const checksums = options.checksums ?? ringChecksumsByDefault();
  Atomics.store(new Int32Array(buffer, 0, HEADER_BYTES / 4), OPTIONS, checksums ? OPTION_CHECKSUMS : 0);
  return buffer;
}

/** One end (or both, in tests) of an SPSC ring over shared memory. */
export class SpscRing {
  /** Data capacity in bytes (a power of two). */
  readonly capacity: number;
  private readonly mask: number;
  private readonly control: Int32Array;
  private readonly data: Uint8Array;
  private readonly dataView: DataView;
  /** Consumer-side scratch that payloads are copied into before decoding. */
  private scratch: Uint8Array = new Uint8Array(4096);
  /** Consumer: the flag bits (FRAME_MORE, FRAME_CONTINUES) of the frame `read` returned last. */
  lastFlags = 0;
  /** Frames carry an xxh32 of their payload (read from the ring's options word, so both ends agree). */
  readonly checksums: boolean;

  constructor(
    readonly buffer: SharedArrayBuffer,
    /** Name for errors and logs, e.g. "ring t1->t2". */
    readonly name: string,
    /** Largest payload accepted; larger frames are a programmer error. */
    readonly frameMaxBytes: number,
  ) {
    this.capacity = buffer.byteLength - HEADER_BYTES;
    assert((this.capacity & (this.capacity - 1)) === 0, 'ring capacity is a power of two');
    assert(frameBytes(frameMaxBytes) <= this.capacity, 'largest frame fits in the ring');
    assert(frameMaxBytes <= FRAME_LENGTH_MASK, 'a frame length leaves the flag bits free');
    this.mask = this.capacity - 1;
    this.control = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.data = new Uint8Array(buffer, HEADER_BYTES, this.capacity);
    this.dataView = new DataView(buffer, HEADER_BYTES, this.capacity);
    this.checksums = (Atomics.load(this.control, OPTIONS) & OPTION_CHECKSUMS) !== 0;
  }

  /** Bytes currently in use (written, not yet read). */
  usedBytes(): number {
    return (Atomics.load(this.control, WRITE_INDEX) - Atomics.load(this.control, READ_INDEX)) >>> 0;
  }

  /** True when the producer is waiting for the consumer to free space. */
  producerWaiting(): boolean {
    return Atomics.load(this.control, PRODUCER_WAITING) !== 0;
  }

  /**
   * Producer: append one frame holding `payload`, with `flags` (FRAME_MORE,
   * FRAME_CONTINUES or 0). Returns false, writing nothing, when the ring
   * lacks space; the caller keeps the payload and retries once the consumer
   * frees space (it is told through its doorbell).
   */
  tryWrite(payload: Uint8Array, flags = 0): boolean {
    const length = payload.length;
    assert(length > 0 && length <= this.frameMaxBytes, `frame of ${length} bytes within 1..${this.frameMaxBytes}`);
    assert((flags & ~FRAME_FLAGS_MASK) === 0, 'only frame flag bits');
    const need = frameBytes(length);
    const write = Atomics.load(this.control, WRITE_INDEX) >>> 0;
    const read = Atomics.load(this.control, READ_INDEX) >>> 0;
    if (this.capacity - ((write - read) >>> 0) < need) {
      Atomics.store(this.control, PRODUCER_WAITING, 1);
      // Re-check after announcing: the consumer may have freed space in between.
      const readAgain = Atomics.load(this.control, READ_INDEX) >>> 0;
      if (this.capacity - ((write - readAgain) >>> 0) < need) return false;
      Atomics.store(this.control, PRODUCER_WAITING, 0);
    }
    const at = write & this.mask;
    const word = (length | flags) >>> 0;
    this.dataView.setUint32(at, word, true);
    this.dataView.setUint32(at + 4, (this.checksums ? checksum(payload) ^ flags : word ^ HEADER_CHECK) >>> 0, true);
    this.copyIn((at + FRAME_HEADER_BYTES) & this.mask, payload);
    // Publish: the store of the index is the release that makes the bytes visible.
    Atomics.store(this.control, WRITE_INDEX, (write + need) | 0);
    return true;
  }

  /**
   * Consumer: the next frame's payload, verified, or undefined when the ring
   * is empty; its flags are in `lastFlags`. The returned bytes live in a
   * scratch buffer that the next call overwrites, so decode before reading
   * again. Throws `CorruptionError` on a header or checksum mismatch, after
   * discarding everything in the ring.
   */
  read(): Uint8Array | undefined {
    const read = Atomics.load(this.control, READ_INDEX) >>> 0;
    const write = Atomics.load(this.control, WRITE_INDEX) >>> 0;
    const used = (write - read) >>> 0;
    if (used === 0) return undefined;
    const at = read & this.mask;
    const word = this.dataView.getUint32(at, true);
    const length = word & FRAME_LENGTH_MASK;
    const flags = (word & FRAME_FLAGS_MASK) >>> 0;
    const check = this.dataView.getUint32(at + 4, true);
    if (length === 0 || length > this.frameMaxBytes || frameBytes(length) > used) {
      this.discardAll(write);
      throw new CorruptionError(this.name, read, `frame length ${length} is impossible (${used} bytes in ring)`);
    }
    if (!this.checksums && (check ^ HEADER_CHECK) >>> 0 !== word) {
      this.discardAll(write);
      throw new CorruptionError(this.name, read, `frame header check ${check} does not match its first word ${word}`);
    }
    const payload = this.copyOut((at + FRAME_HEADER_BYTES) & this.mask, length);
    if (this.checksums) {
      const expected = (check ^ flags) >>> 0;
      const actual = checksum(payload);
      if (actual !== expected) {
        this.discardAll(write);
        throw new CorruptionError(this.name, read, `frame checksum ${actual} != ${expected}`);
      }
    }
    Atomics.store(this.control, READ_INDEX, (read + frameBytes(length)) | 0);
    this.lastFlags = flags;
    return payload;
  }

  /**
   * Consumer: after reading, clear the producer's waiting flag and report
   * whether it was set, so the caller can ring the producer's doorbell.
   */
  takeProducerWaiting(): boolean {
    return Atomics.exchange(this.control, PRODUCER_WAITING, 0) !== 0;
  }

  /** Test hook: flip one bit of the data area (simulates memory corruption). */
  corruptBitForTest(byteOffset: number, bit: number): void {
    const i = byteOffset & this.mask;
    this.data[i] = (this.data[i]! ^ (1 << bit)) & 0xff;
  }

  /** Test hook: set both indexes, to exercise wrap-around at any offset. */
  setIndexesForTest(index: number): void {
    assert((index & 7) === 0, 'ring index is 8-byte aligned');
    Atomics.store(this.control, WRITE_INDEX, index | 0);
    Atomics.store(this.control, READ_INDEX, index | 0);
  }

  private discardAll(write: number): void {
    Atomics.store(this.control, READ_INDEX, write | 0);
  }

  private copyIn(at: number, payload: Uint8Array): void {
    const first = Math.min(payload.length, this.capacity - at);
    this.data.set(first === payload.length ? payload : payload.subarray(0, first), at);
    if (first < payload.length) this.data.set(payload.subarray(first), 0);
  }

  private copyOut(at: number, length: number): Uint8Array {
    if (this.scratch.length < length) {
      this.scratch = new Uint8Array(Math.max(length, this.scratch.length * 2));
    }
    const out = this.scratch.subarray(0, length);
    const first = Math.min(length, this.capacity - at);
    out.set(this.data.subarray(at, at + first), 0);
    if (first < length) out.set(this.data.subarray(0, length - first), first);
    return out;
  }
}
