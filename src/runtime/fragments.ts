/**
 * Messages larger than one ring frame: split into frames by the sending
 * thread, joined again by the receiving one.
 *
 * Why split in the ring rather than hand large messages over out of band (a
 * transferable ArrayBuffer through `postMessage`): the actors rely on FIFO
 * order per pair of threads, and the ring is the one ordered channel between
 * two threads. A message sent out of band would race the ring: the receiver
 * would have to hold every later ring frame until the out-of-band message
 * arrived (a sequence number per pair, a second wake-up path, and a port per
 * pair besides the doorbells). Fragments instead travel in the ring between
 * the frames sent before and after them, so order holds by construction,
 * backpressure is the ring's own (a full ring stalls the sender, the
 * consumer rings its doorbell as it frees space, as for any frame), and a
 * thread restart or a corrupt frame needs no extra cleanup beyond dropping
 * the message being joined. A frame of up to RING_FRAME_MAX_BYTES is still
 * written and read exactly as before (its flags are 0): fragmenting costs
 * nothing on the normal path. The price is paid only by large messages: a
 * copy into the reassembly buffer on the receiving side, and one copy of the
 * encoded message on the sending side when the ring cannot take all of it
 * at once (the encoder's buffer is reused by the next batch).
 *
 * A fragmented message on the ring (flags from ring.ts):
 *
 *   +---------------------+   +----------------------+       +------------------+
 *   | header frame        |   | data frame 0         |  ...  | data frame n-1   |
 *   | FRAME_MORE          |   | CONTINUES | MORE     |       | CONTINUES        |
 *   | u32 LE total bytes  |   | bytes [0, F)         |       | bytes [.., total)|
 *   +---------------------+   +----------------------+       +------------------+
 *
 * F is RING_FRAME_MAX_BYTES. The header frame says up front how large the
 * message is, so the receiver checks it against RING_MESSAGE_MAX_BYTES before
 * allocating, and allocates once. One sender's frames arrive in order on one
 * ring, so a receiver joins at most one message per sending thread at a time:
 * reassembly holds at most RING_MESSAGE_MAX_BYTES per sender. A frame out of
 * sequence (a continuation with nothing being joined, a new message before
 * the last one ended, sizes that disagree) cannot come from a correct sender:
 * it is a `CorruptionError`, and the partial message is dropped.
 *
 * Thread contract: a `Reassembly` belongs to the receiving thread's
 * Transport, one per sending thread; `fragmentCount` and `headerFrame` are pure.
 */
import { assert } from '../core/assert.js';
import { CorruptionError } from '../core/errors.js';
import { RING_FRAME_MAX_BYTES, RING_MESSAGE_MAX_BYTES } from '../core/limits.js';
import { FRAME_CONTINUES, FRAME_MORE } from './ring.js';

/** Bytes of a header frame's payload: the u32 total. */
export const FRAGMENT_HEADER_BYTES = 4;

/** Data frames a message of `totalBytes` (over one frame) is split into. */
export function fragmentCount(totalBytes: number): number {
  assert(totalBytes > RING_FRAME_MAX_BYTES && totalBytes <= RING_MESSAGE_MAX_BYTES, 'only a message over one frame and within RING_MESSAGE_MAX_BYTES is fragmented');
  return Math.ceil(totalBytes / RING_FRAME_MAX_BYTES);
}

/** The payload of the header frame announcing a message of `totalBytes`. */
export function headerFrame(totalBytes: number): Uint8Array {
  const out = new Uint8Array(FRAGMENT_HEADER_BYTES);
  new DataView(out.buffer).setUint32(0, totalBytes, true);
  return out;
}

/** Flags of data frame `index` of `count`. */
export function dataFrameFlags(index: number, count: number): number {
  return index < count - 1 ? (FRAME_CONTINUES | FRAME_MORE) >>> 0 : FRAME_CONTINUES;
}

/** The receiving side: joins the fragments from one sending thread. */
export class Reassembly {
  /** The message being joined, or null between messages. */
  private buffer: Uint8Array | null = null;
  /** Bytes of `buffer` filled so far. */
  private filled = 0;

  constructor(
    /** Name of the ring, for errors. */
    private readonly where: string,
  ) {}

  /** True while a message is being joined. */
  get active(): boolean {
    return this.buffer !== null;
  }

  /** Bytes held for the message being joined (0 between messages). */
  get heldBytes(): number {
    return this.buffer?.length ?? 0;
  }

  /**
   * Take one frame with its flags. Returns the whole message once its last
   * frame came (a frame with no flags is a whole message by itself, returned
   * as it is), else null. Throws `CorruptionError` for a frame out of
   * sequence, after dropping the partial message (the frame is consumed).
   */
  accept(payload: Uint8Array, flags: number): Uint8Array | null {
    if ((flags & FRAME_CONTINUES) === 0) {
      // A whole message or a header: either way nothing may be half joined.
      if (this.buffer !== null) this.fail(`a new message began after ${this.filled} of ${this.buffer.length} bytes of the last one`);
      if (flags === 0) return payload;
      return this.begin(payload, flags);
    }
    const buffer = this.buffer;
    if (buffer === null) return this.fail('a continuation frame came with no message being joined');
    if (this.filled + payload.length > buffer.length) this.fail(`fragments exceed the announced ${buffer.length} bytes`);
    buffer.set(payload, this.filled);
    this.filled += payload.length;
    if ((flags & FRAME_MORE) !== 0) return null;
    if (this.filled !== buffer.length) this.fail(`the last fragment ended at ${this.filled} of ${buffer.length} bytes`);
    this.reset();
    return buffer;
  }

  /** Drop the message being joined (its ring was discarded or replaced). */
  reset(): void {
    this.buffer = null;
    this.filled = 0;
  }

  private begin(payload: Uint8Array, flags: number): null {
    if (flags !== FRAME_MORE || payload.length !== FRAGMENT_HEADER_BYTES) this.fail(`a header frame has flags ${flags >>> 0} and ${payload.length} bytes`);
    const total = new DataView(payload.buffer, payload.byteOffset, payload.length).getUint32(0, true);
    if (total <= RING_FRAME_MAX_BYTES || total > RING_MESSAGE_MAX_BYTES) {
      this.fail(`a fragmented message of ${total} bytes is outside ${RING_FRAME_MAX_BYTES + 1}..${RING_MESSAGE_MAX_BYTES} (RING_MESSAGE_MAX_BYTES)`);
    }
    this.buffer = new Uint8Array(total);
    this.filled = 0;
    return null;
  }

  private fail(why: string): never {
    this.reset();
    throw new CorruptionError(this.where, -1, why);
  }
}
