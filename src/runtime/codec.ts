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
import type { Envelope } from './envelope.js';

const CODEC_OPTIONS = { useRecords: true, moreTypes: false } as const;

/** Packs envelope batches; the returned bytes are valid until the next call. */
export class BatchEncoder {
  private readonly packr = new Packr(CODEC_OPTIONS);

  /** Encode `batch`; throws `InvalidRequestError` if the result exceeds `maxBytes`. */
  encode(batch: readonly Envelope[], maxBytes: number): Uint8Array {
    const bytes = this.packr.pack(batch);
    if (bytes.length > maxBytes) {
      throw new InvalidRequestError(`a batch of ${batch.length} messages encodes to ${bytes.length} bytes, over ${maxBytes}`);
    }
    return bytes;
  }
}

/** Unpacks envelope batches. */
export class BatchDecoder {
  private readonly unpackr = new Unpackr(CODEC_OPTIONS);

  /** Decode one frame's payload into its envelopes. */
  decode(bytes: Uint8Array): Envelope[] {
    const batch: unknown = this.unpackr.unpack(bytes);
    if (!Array.isArray(batch)) throw new InvalidRequestError('ring frame does not hold a batch');
    return batch as Envelope[];
  }
}

/** Encode one value on its own (setup messages, size checks). */
export function encodeValue(value: unknown): Uint8Array {
  return new Packr(CODEC_OPTIONS).pack(value);
}

/** Decode a value encoded by `encodeValue`. */
export function decodeValue(bytes: Uint8Array): unknown {
  return new Unpackr(CODEC_OPTIONS).unpack(bytes);
}
