/**
 * The one module that imports msgpackr. Encodes and decodes *batches* of
 * envelopes: msgpackr packs a single small object at ~1.4M/s on this machine
 * but a batch of 256 at ~4-6M messages/s, because one call amortizes its
 * setup and shares record structures across the batch. A ring frame is one
 * batch.
 *
 * Record structures are defined inline in each batch and forgotten after it
 * (no shared structures), so the decoder needs no state shared with the
 * encoder: a restarted thread can decode the next frame it sees.
 *
 * Thread contract: one `BatchEncoder` per producing thread and one
 * `BatchDecoder` per consuming thread; neither is shared between threads.
 */
import { Packr, Unpackr } from 'msgpackr';
import { InvalidRequestError } from '../core/errors.js';
import { THREADS_MAX } from '../core/limits.js';
import type { Envelope, EnvelopeKind } from './envelope.js';

/**
 * `copyBuffers`: a decoded Uint8Array must own its bytes. Frames are decoded
 * from the ring's scratch buffer, which the next frame overwrites, while the
 * decoded messages wait in mailboxes.
 */
const CODEC_OPTIONS = { useRecords: true, moreTypes: false, copyBuffers: true } as const;

/** Fields per envelope on the wire: kind+ask, route, target id, sender id, message. */
export const WIRE_FIELDS = 5;

/**
 * The route of an envelope as one small integer: its sending and its
 * destination (logical) thread. Several logical threads may share a worker
 * thread, so the ring a frame arrives on does not name them.
 */
export function routeOf(ft: number, tt: number): number {
  return ft * THREADS_MAX + tt;
}

/**
 * Append one envelope's fields to a wire batch.
 *
 * Wire form of a batch: one flat array, five slots per envelope,
 *   [ a*4 + k, route, to, fi, m,  a*4 + k, route, to, fi, m,  ... ]
 * A flat array packs ~40% faster than an array of envelope records; the
 * route (`routeOf`) takes one or two bytes.
 */
export function pushWire(wire: unknown[], k: EnvelopeKind, a: number, route: number, to: string, fi: string, m: unknown): void {
  wire.push(a * 4 + k, route, to, fi, m);
}

/** Rebuild the envelopes of a wire batch. */
export function wireEnvelopes(wire: readonly unknown[]): Envelope[] {
  if (wire.length % WIRE_FIELDS !== 0) throw new InvalidRequestError('ring frame does not hold a batch');
  const out: Envelope[] = new Array<Envelope>(wire.length / WIRE_FIELDS);
  for (let i = 0, w = 0; w < wire.length; i++, w += WIRE_FIELDS) {
    const head = wire[w] as number;
    const route = wire[w + 1] as number;
    const ft = Math.floor(route / THREADS_MAX);
    out[i] = { k: head & 3, to: wire[w + 2] as string, tt: route - ft * THREADS_MAX, ft, fi: wire[w + 3] as string, a: Math.floor(head / 4), m: wire[w + 4] };
  }
  return out;
}

/** Packs wire batches; the returned bytes are valid until the next call. */
export class BatchEncoder {
  private readonly packr = new Packr(CODEC_OPTIONS);

  /** Encode a wire batch (see `pushWire`). */
  encode(wire: readonly unknown[]): Uint8Array {
    return this.packr.pack(wire);
  }
}

/** Unpacks envelope batches. */
export class BatchDecoder {
  private readonly unpackr = new Unpackr(CODEC_OPTIONS);

  /** Decode one frame's payload into its envelopes. */
  decode(bytes: Uint8Array): Envelope[] {
    const wire: unknown = this.unpackr.unpack(bytes);
    if (!Array.isArray(wire)) throw new InvalidRequestError('ring frame does not hold a batch');
    return wireEnvelopes(wire);
  }
}
