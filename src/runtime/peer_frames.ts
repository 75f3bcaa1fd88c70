/**
 * The byte layout of a link between two processes (issue 16), and the
 * reader that cuts a TCP byte stream back into frames. Every frame is
 * checksummed, as everything that crosses a socket or a disk is; a frame
 * whose length is over PEER_FRAME_MAX_BYTES is refused from its header,
 * before its bytes are buffered.
 *
 *   +-------------+---------------+---------+----------------------+
 *   | u32 length  | u32 checksum  | u8 type | payload (length - 1) |
 *   +-------------+---------------+---------+----------------------+
 *   length counts type and payload; checksum is xxh32 (`checksum`) of
 *   type and payload; integers little-endian.
 *
 * Types:
 *   1 hello   payload: u8 version | u16 id length | id (UTF-8) | 32-byte nonce
 *   2 proof   payload: 32-byte HMAC-SHA256 (`peer_auth.ts`)
 *   3 batch   payload: an envelope batch as the rings carry it (`codec.ts`)
 *   4 roster  payload: what the sending process hosts and knows of the
 *             cluster, opaque here (`cluster/process_roster.ts`); sent by
 *             both ends once the handshake is done, and again when it changes
 *
 * Pure: no I/O. Thread contract: a `FrameReader` belongs to one socket.
 */
import { CorruptionError } from '../core/errors.js';
import { checksum } from '../core/hash.js';
import { PEER_FRAME_MAX_BYTES } from '../core/limits.js';

/** Frame types. */
export const enum FrameType {
  Hello = 1,
  Proof = 2,
  Batch = 3,
  Roster = 4,
}

/** Bytes before the type: length and checksum. */
export const FRAME_HEADER_BYTES = 8;

/** Version of the link protocol, in every hello. */
export const PEER_PROTOCOL_VERSION = 1;

/** Bytes of a hello's nonce and of a proof. */
export const NONCE_BYTES = 32;

/** One frame's bytes: header, type and `payload`. */
export function encodeFrame(type: FrameType, payload: Uint8Array): Uint8Array {
  const length = 1 + payload.length;
  if (length > PEER_FRAME_MAX_BYTES) throw new RangeError(`a frame of ${length} bytes is over PEER_FRAME_MAX_BYTES (${PEER_FRAME_MAX_BYTES})`);
  const out = new Uint8Array(FRAME_HEADER_BYTES + length);
  const view = new DataView(out.buffer);
  view.setUint32(0, length, true);
  out[FRAME_HEADER_BYTES] = type;
  out.set(payload, FRAME_HEADER_BYTES + 1);
  view.setUint32(4, checksum(out.subarray(FRAME_HEADER_BYTES)), true);
  return out;
}

/** A hello's payload. */
export function encodeHello(id: string, nonce: Uint8Array): Uint8Array {
  const idBytes = new TextEncoder().encode(id);
  if (idBytes.length > 0xffff || nonce.length !== NONCE_BYTES) throw new RangeError('a hello holds an id of at most 65535 bytes and a 32-byte nonce');
  const out = new Uint8Array(3 + idBytes.length + NONCE_BYTES);
  out[0] = PEER_PROTOCOL_VERSION;
  new DataView(out.buffer).setUint16(1, idBytes.length, true);
  out.set(idBytes, 3);
  out.set(nonce, 3 + idBytes.length);
  return out;
}

/** A hello's fields; throws `CorruptionError` (naming `peer`) when malformed or of another version. */
export function decodeHello(payload: Uint8Array, peer: string): { id: string; nonce: Uint8Array } {
  if (payload.length < 3 || payload[0] !== PEER_PROTOCOL_VERSION) throw new CorruptionError(peer, -1, `a hello of protocol version ${payload[0] ?? 'none'}, expected ${PEER_PROTOCOL_VERSION}`);
  const idLength = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint16(1, true);
  if (payload.length !== 3 + idLength + NONCE_BYTES) throw new CorruptionError(peer, -1, 'a hello of the wrong length');
  return { id: new TextDecoder().decode(payload.subarray(3, 3 + idLength)), nonce: payload.slice(3 + idLength) };
}

/** A frame read back. */
export interface Frame {
  type: FrameType;
  payload: Uint8Array;
}

/**
 * Cuts a byte stream into frames. `push` each chunk as it arrives; it
 * returns the frames completed by it. Throws `CorruptionError` on a length
 * over the limit, a zero length, an unknown type or a checksum mismatch: the
 * stream cannot be trusted past that point, so the caller drops the
 * connection.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Stream offset of the next unread byte, for error messages. */
  private offset = 0;

  constructor(
    /** The peer, named in errors. */
    private readonly peer: string,
  ) {}

  push(chunk: Uint8Array): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) return frames;
      const header = this.peek(FRAME_HEADER_BYTES);
      const view = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES);
      const length = view.getUint32(0, true);
      if (length === 0 || length > PEER_FRAME_MAX_BYTES) throw new CorruptionError(this.peer, this.offset, `a frame of ${length} bytes (at most PEER_FRAME_MAX_BYTES, ${PEER_FRAME_MAX_BYTES})`);
      if (this.buffered < FRAME_HEADER_BYTES + length) return frames;
      const bytes = this.take(FRAME_HEADER_BYTES + length);
      const body = bytes.subarray(FRAME_HEADER_BYTES);
      if (checksum(body) !== new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(4, true)) {
        throw new CorruptionError(this.peer, this.offset, 'a frame failed its checksum');
      }
      const type = body[0]!;
      if (type < FrameType.Hello || type > FrameType.Roster) throw new CorruptionError(this.peer, this.offset, `a frame of unknown type ${type}`);
      frames.push({ type, payload: body.subarray(1) });
      this.offset += bytes.length;
    }
  }

  /** The first `n` buffered bytes, without consuming them. */
  private peek(n: number): Uint8Array {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    this.chunks = [this.concat()];
    return this.chunks[0]!.subarray(0, n);
  }

  /** Consume the first `n` buffered bytes. */
  private take(n: number): Uint8Array {
    if (this.chunks[0]!.length < n) this.chunks = [this.concat()];
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }

  private concat(): Uint8Array {
    const out = new Uint8Array(this.buffered);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
