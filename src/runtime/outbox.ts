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
 * Everything waiting here (open plus sealed) is bounded by
 * OUTBOUND_PENDING_MAX_MESSAGES; `add` returns false at the bound.
 *
 * Thread contract: owned by the producing thread's Transport.
 */
import { assert } from '../core/assert.js';
import { InvalidRequestError } from '../core/errors.js';
import { OUTBOUND_PENDING_MAX_MESSAGES, RING_BATCH_MAX_MESSAGES, RING_FRAME_MAX_BYTES } from '../core/limits.js';
import { BatchDecoder, pushWire, WIRE_FIELDS, type BatchEncoder } from './codec.js';
import type { Envelope, EnvelopeKind } from './envelope.js';
import type { SpscRing } from './ring.js';

/** An encoded frame waiting for ring space. */
interface SealedFrame {
  bytes: Uint8Array;
  messages: number;
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

  constructor(
    private readonly encoder: BatchEncoder,
    /** This (sending) thread, to rebuild envelopes for error reports. */
    private readonly thread: number,
    private readonly undeliverable: Undeliverable,
  ) {}

  /** Messages waiting here (not yet in the ring). */
  get pending(): number {
    return this.wire.length / WIRE_FIELDS + this.sealedMessages;
  }

  /** Queue one message; false at the bound (backpressure), nothing taken. */
  add(k: EnvelopeKind, a: number, to: string, fi: string, m: unknown, ring: SpscRing | null): boolean {
    if (this.pending >= OUTBOUND_PENDING_MAX_MESSAGES) return false;
    pushWire(this.wire, k, a, to, fi, m);
    if (this.wire.length === RING_BATCH_MAX_MESSAGES * WIRE_FIELDS && ring) this.seal(ring);
    return true;
  }

  /** Move everything that fits into `ring`, sealing the open batch last. */
  flush(ring: SpscRing): void {
    while (this.sealed.length > 0) {
      const frame = this.sealed[0]!;
      if (!ring.tryWrite(frame.bytes)) {
        this.stats.stalls++;
        return;
      }
      this.sealed.shift();
      this.sealedMessages -= frame.messages;
      this.wrote(frame.messages);
    }
    if (this.wire.length > 0) this.seal(ring);
  }

  /** Take every waiting message back as envelopes (the destination died). */
  drain(): Envelope[] {
    const decoder = new BatchDecoder();
    const out: Envelope[] = [];
    for (const frame of this.sealed) out.push(...decoder.decode(frame.bytes, this.thread));
    out.push(...wireEnvelopes(this.wire, this.thread));
    this.sealed.length = 0;
    this.sealedMessages = 0;
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

  private sealWire(wire: unknown[], ring: SpscRing): void {
    const messages = wire.length / WIRE_FIELDS;
    const bytes = this.encoder.encode(wire);
    if (bytes.length > RING_FRAME_MAX_BYTES) {
      if (messages === 1) {
        const [envelope] = wireEnvelopes(wire, this.thread);
        this.undeliverable(envelope!, new InvalidRequestError(`a message of ${bytes.length} bytes exceeds the ring frame limit of ${RING_FRAME_MAX_BYTES} bytes`));
        return;
      }
      // Too big for one frame: split the batch in two, in order.
      const half = Math.ceil(messages / 2) * WIRE_FIELDS;
      this.sealWire(wire.slice(0, half), ring);
      this.sealWire(wire.slice(half), ring);
      return;
    }
    if (this.sealed.length === 0 && ring.tryWrite(bytes)) {
      this.wrote(messages);
      return;
    }
    if (this.sealed.length === 0) this.stats.stalls++;
    this.sealed.push({ bytes: bytes.slice(), messages });
    this.sealedMessages += messages;
  }
}

/** Rebuild envelopes from a wire batch sent by `thread`. */
function wireEnvelopes(wire: readonly unknown[], thread: number): Envelope[] {
  assert(wire.length % WIRE_FIELDS === 0, 'wire batches hold whole envelopes');
  const out: Envelope[] = [];
  for (let w = 0; w < wire.length; w += WIRE_FIELDS) {
    const head = wire[w] as number;
    out.push({ k: head & 3, to: wire[w + 1] as string, ft: thread, fi: wire[w + 2] as string, a: Math.floor(head / 4), m: wire[w + 3] });
  }
  return out;
}
