/**
 * Messages from this thread to one destination thread, on their way into
 * the SPSC ring: an open wire batch being filled, and sealed (encoded)
 * frames that did not fit in the ring yet.
 *
 * A batch is sealed as soon as it holds RING_BATCH_MAX_MESSAGES, while the
 * producer's data is still hot, and at each flush. A sealed frame goes
 * straight from the encoder's buffer into the ring when nothing is queued
 * before it; only when the ring is full is it copied into the queue. Order
 * is kept: sealed frames leave in order, the open batch after them.
 *
 * An encoded batch over RING_FRAME_MAX_BYTES crosses as several frames
 * (fragments.ts: a header frame, then data frames), queued in order like any
 * frame. One over RING_MESSAGE_MAX_BYTES is split into its messages, each
 * encoded alone; a single message over it is refused (an answer is replaced
 * by an error answer naming the limit, so the asker hears why at once).
 *
 * Everything waiting here (open plus sealed) is bounded by
 * OUTBOUND_PENDING_MAX_MESSAGES, and the sealed frames' bytes by
 * OUTBOUND_PENDING_MAX_BYTES; `add` returns false at either bound.
 *
 * Thread contract: owned by the producing thread's Transport.
 */
import { InvalidRequestError, toErrorRecord } from '../core/errors.js';
import {
  OUTBOUND_PENDING_MAX_BYTES,
  OUTBOUND_PENDING_MAX_MESSAGES,
  RING_BATCH_MAX_MESSAGES,
  RING_FRAME_MAX_BYTES,
  RING_MESSAGE_MAX_BYTES,
} from '../core/limits.js';
import { BatchDecoder, pushWire, WIRE_FIELDS, wireEnvelopes, type BatchEncoder } from './codec.js';
import { EnvelopeKind, type Envelope } from './envelope.js';
import { dataFrameFlags, fragmentCount, headerFrame } from './fragments.js';
import { FRAME_MORE, type SpscRing } from './ring.js';

/** An encoded frame waiting for ring space. */
interface SealedFrame {
  bytes: Uint8Array;
  /** Ring frame flags (0 for a whole batch; fragments.ts for the frames of a larger one). */
  flags: number;
  /** Messages this frame completes: all of its batch's on a whole or last frame, else 0. */
  messages: number;
  /** On the last frame of a fragmented batch: the whole encoded batch, to rebuild its envelopes in `drain`. */
  whole?: Uint8Array;
}

/** What happened to messages that could not be framed at all. */
export type Undeliverable = (envelope: Envelope, reason: Error) => void;

/** The outbound queue towards one thread. */
export class Outbox {
  /** Frames and messages that went into the ring; stalls on a full ring. */
  readonly stats = { frames: 0, messages: 0, stalls: 0 };
  private wire: unknown[] = [];
  private readonly sealed: SealedFrame[] = [];
  private sealedMessages = 0;
  /** Bytes of the frames in `sealed` (fragments of one batch share its copy, counted once per frame). */
  private sealedBytes = 0;

  constructor(
    private readonly encoder: BatchEncoder,
    private readonly undeliverable: Undeliverable,
  ) {}

  /** Messages waiting here (not yet in the ring). */
  get pending(): number {
    return this.wire.length / WIRE_FIELDS + this.sealedMessages;
  }

  /** Queue one message; false at a bound (backpressure), nothing taken. */
  add(k: EnvelopeKind, a: number, route: number, to: string, fi: string, m: unknown, ring: SpscRing | null): boolean {
    if (this.pending >= OUTBOUND_PENDING_MAX_MESSAGES || this.sealedBytes >= OUTBOUND_PENDING_MAX_BYTES) return false;
    pushWire(this.wire, k, a, route, to, fi, m);
    if (this.wire.length === RING_BATCH_MAX_MESSAGES * WIRE_FIELDS && ring) this.seal(ring);
    return true;
  }

  /** Move everything that fits into `ring`, sealing the open batch last. */
  flush(ring: SpscRing): void {
    while (this.sealed.length > 0) {
      const frame = this.sealed[0]!;
      if (!ring.tryWrite(frame.bytes, frame.flags)) {
        this.stats.stalls++;
        return;
      }
      this.sealed.shift();
      this.sealedMessages -= frame.messages;
      this.sealedBytes -= frame.bytes.length;
      this.wrote(frame.messages);
    }
    if (this.wire.length > 0) this.seal(ring);
  }

  /** Take every waiting message back as envelopes (the destination died). */
  drain(): Envelope[] {
    const decoder = new BatchDecoder();
    const out: Envelope[] = [];
    for (const frame of this.sealed) {
      // A fragmented batch is rebuilt from its last frame's copy; its other frames carry no messages.
      if (frame.flags === 0) out.push(...decoder.decode(frame.bytes));
      else if (frame.whole !== undefined) out.push(...decoder.decode(frame.whole));
    }
    out.push(...wireEnvelopes(this.wire));
    this.sealed.length = 0;
    this.sealedMessages = 0;
    this.sealedBytes = 0;
    this.wire = [];
    return out;
  }

  /** Encode the open batch; write it to the ring if nothing is queued before it, else queue it. */
  private seal(ring: SpscRing): void {
    const wire = this.wire;
    this.wire = [];
    this.sealWire(wire, ring);
  }

  private wrote(messages: number): void {
    this.stats.frames++;
    this.stats.messages += messages;
  }

  /** Encode `wire` and queue it as one frame, as fragments, or (too large) message by message. */
  private sealWire(wire: unknown[], ring: SpscRing): void {
    const messages = wire.length / WIRE_FIELDS;
    const bytes = this.encoder.encode(wire);
    if (bytes.length <= RING_FRAME_MAX_BYTES) {
      this.queueFrame(bytes, 0, messages, ring);
      return;
    }
    if (bytes.length <= RING_MESSAGE_MAX_BYTES) {
      this.queueFragments(bytes, messages, ring);
      return;
    }
    if (messages > 1) {
      // Over the message limit: each message alone (in order) may still fit.
      for (let w = 0; w < wire.length; w += WIRE_FIELDS) this.sealWire(wire.slice(w, w + WIRE_FIELDS), ring);
      return;
    }
    this.refuse(wire, bytes.length, ring);
  }

  /** Write a frame now if nothing waits before it and the ring has room, else queue a copy (the encoder reuses `bytes`). */
  private queueFrame(bytes: Uint8Array, flags: number, messages: number, ring: SpscRing): void {
    if (this.sealed.length === 0 && ring.tryWrite(bytes, flags)) {
      this.wrote(messages);
      return;
    }
    if (this.sealed.length === 0) this.stats.stalls++;
    this.enqueueSealed({ bytes: bytes.slice(), flags, messages });
  }

  /**
   * Send an encoded batch over one frame as a header frame and data frames
   * (fragments.ts). Frames go straight into the ring while it has room; the
   * rest wait in the queue as views of one copy of the batch.
   */
  private queueFragments(bytes: Uint8Array, messages: number, ring: SpscRing): void {
    const count = fragmentCount(bytes.length);
    const dataFrame = (from: Uint8Array, index: number): Uint8Array =>
      from.subarray(index * RING_FRAME_MAX_BYTES, Math.min(bytes.length, (index + 1) * RING_FRAME_MAX_BYTES));
    this.queueFrame(headerFrame(bytes.length), FRAME_HEADER_FLAGS, 0, ring);
    let index = 0;
    if (this.sealed.length === 0) {
      while (index < count && ring.tryWrite(dataFrame(bytes, index), dataFrameFlags(index, count))) {
        index++;
        this.wrote(index === count ? messages : 0);
      }
      if (index === count) return;
      this.stats.stalls++;
    }
    const copy = bytes.slice();
    for (; index < count; index++) {
      const last = index === count - 1;
      this.enqueueSealed({ bytes: dataFrame(copy, index), flags: dataFrameFlags(index, count), messages: last ? messages : 0, ...(last ? { whole: copy } : {}) });
    }
  }

  /**
   * A single message over RING_MESSAGE_MAX_BYTES. An answer becomes an error
   * answer the asker can act on; anything else is reported undeliverable.
   */
  private refuse(wire: unknown[], bytes: number, ring: SpscRing): void {
    const [envelope] = wireEnvelopes(wire);
    const what = envelope!.k === EnvelopeKind.Reply ? 'an answer' : 'a message';
    const reason = new InvalidRequestError(`${what} of ${bytes} bytes is over the ${RING_MESSAGE_MAX_BYTES}-byte limit of one message between threads (RING_MESSAGE_MAX_BYTES); ask for less at a time`);
    if (envelope!.k === EnvelopeKind.Reply) {
      const replacement: unknown[] = [];
      pushWire(replacement, EnvelopeKind.ReplyError, envelope!.a, wire[1] as number, '', '', toErrorRecord(reason));
      this.sealWire(replacement, ring);
      return;
    }
    this.undeliverable(envelope!, reason);
  }

  private enqueueSealed(frame: SealedFrame): void {
    this.sealed.push(frame);
    this.sealedMessages += frame.messages;
    this.sealedBytes += frame.bytes.length;
  }
}

/** Flags of a fragmented batch's header frame. */
const FRAME_HEADER_FLAGS = FRAME_MORE;
