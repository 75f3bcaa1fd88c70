/**
 * The byte codec of dotted version vectors: a version's clock (the storage
 * engine's opaque `clock` bytes) and a client's causal context.
 *
 * Byte layout of one version's clock (the storage engine's opaque `clock`),
 * integers little-endian, past entries sorted by actor id, each actor once.
 * With a digest (tag 0xD2; kind 1 = value, u32 = its xxh32; kind 2 =
 * tombstone, u32 = 0):
 *
 *   +---------+--------------------------------------------+---------+------------+---------+
 *   | u8 0xD2 | dot: u8 len | actor | f64 counter | f64 ts | u8 kind | u32 digest | u16 n   |
 *   +---------+--------------------------------------------+---------+------------+---------+
 *   | n x ( u8 len | actor (UTF-8) | f64 counter | f64 ts_ms )                               |
 *   +-----------------------------------------------------------------------------------------+
 *
 * Without a digest (tag 0xD1, the layout before issue 12; still decoded, so
 * existing data directories open, and still written for a digest-less dot):
 *
 *   +-----------+--------------------------------------------+-----------+
 *   | u8 0xD1   | dot: u8 len | actor | f64 counter | f64 ts | u16 n     |
 *   +-----------+--------------------------------------------+-----------+
 *   | n x ( u8 len | actor (UTF-8) | f64 counter | f64 ts_ms )          |
 *   +---------------------------------------------------------------------+
 *
 * A causal context (what `get` returns to the client) is a bare vector:
 *
 *   | u8 0xC1 | u16 n | n x ( u8 len | actor | f64 counter | f64 ts_ms ) |
 *
 * The leading tag byte tells the two apart (and from a plain vector clock),
 * so bytes of one kind given as the other fail loudly. No checksum: storage
 * checksums its records. Counters are f64 so they stay exact to 2^53.
 *
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import { assert } from './assert.js';
import { assertDigest, assertVector, compareActors, TOMBSTONE_DIGEST, type Dot, type Dvv, type VersionVector, type VvEntry } from './dot.js';
import { InvalidRequestError } from './errors.js';
import { ACTOR_ID_CACHE_MAX, CLOCK_MAX_BYTES } from './limits.js';

/** Tag byte of an encoded version clock whose dot has no digest (the layout before issue 12). */
const TAG_VERSION = 0xd1;
/** Tag byte of an encoded version clock whose dot carries a digest. */
const TAG_VERSION_DIGEST = 0xd2;
/** Digest kind byte (0xD2 layout): the dot names a value; the u32 is its xxh32. */
const DIGEST_KIND_VALUE = 1;
/** Digest kind byte (0xD2 layout): the dot names a tombstone; the u32 is 0. */
const DIGEST_KIND_TOMBSTONE = 2;
/** Bytes of the digest in the 0xD2 layout: u8 kind, u32 digest. */
const DIGEST_BYTES = 1 + 4;
/** Tag byte of an encoded causal context. */
const TAG_CONTEXT = 0xc1;
/** Bytes of one entry besides its actor id: u8 length, f64 counter, f64 ts. */
const ENTRY_FIXED_BYTES = 1 + 8 + 8;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Actor ids, both ways. A cluster has few (a node and its dot epoch), and
 * every clock encoded or decoded names them again, so the UTF-8 bytes of an
 * id and the string of its bytes are kept rather than recomputed (the
 * encoder and decoder calls and their allocations were ~3% of a node's
 * thread). Bounded: past ACTOR_ID_CACHE_MAX ids the caches start over.
 */
const idBytes = new Map<string, Uint8Array>();
/** By a hash of the bytes: the ids with that hash and their bytes. */
const idStrings = new Map<number, { bytes: Uint8Array; id: string }[]>();
let idStringsCount = 0;

/** The UTF-8 bytes of actor id `actor` (shared: never modify them). */
function actorIdBytes(actor: string): Uint8Array {
  let bytes = idBytes.get(actor);
  if (bytes === undefined) {
    bytes = utf8Encoder.encode(actor);
    if (idBytes.size >= ACTOR_ID_CACHE_MAX) idBytes.clear();
    idBytes.set(actor, bytes);
  }
  return bytes;
}

/** The actor id in `bytes[start, end)`; throws (as TextDecoder's fatal mode) on bytes that are not UTF-8. */
function actorIdOf(bytes: Uint8Array, start: number, end: number): string {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  const known = idStrings.get(hash);
  if (known !== undefined) {
    for (const entry of known) if (sameBytes(entry.bytes, bytes, start, end)) return entry.id;
  }
  const id = utf8Decoder.decode(bytes.subarray(start, end));
  if (idStringsCount >= ACTOR_ID_CACHE_MAX) {
    idStrings.clear();
    idStringsCount = 0;
  }
  const entry = { bytes: bytes.slice(start, end), id };
  const list = idStrings.get(hash);
  if (list !== undefined) list.push(entry);
  else idStrings.set(hash, [entry]);
  idStringsCount++;
  return id;
}

function sameBytes(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

/** Encode a version's clock (the storage engine's opaque `clock` bytes). */
export function encodeDvv(dvv: Dvv): Uint8Array {
  assertVector(dvv.past);
  const digest = dvv.dot.digest;
  const writer = new EntryWriter([dvv.dot, ...dvv.past], 1 + 2 + (digest === undefined ? 0 : DIGEST_BYTES));
  writer.u8(digest === undefined ? TAG_VERSION : TAG_VERSION_DIGEST);
  writer.entry(dvv.dot);
  if (digest !== undefined) {
    assertDigest(digest);
    writer.u8(digest === TOMBSTONE_DIGEST ? DIGEST_KIND_TOMBSTONE : DIGEST_KIND_VALUE);
    writer.u32(digest === TOMBSTONE_DIGEST ? 0 : digest);
  }
  writer.u16(dvv.past.length);
  for (const e of dvv.past) writer.entry(e);
  const out = writer.finish();
  assert(sameDvv(decodeDvv(out), dvv), 'encoded version clock decodes to itself');
  return out;
}

/** Decode a version clock; throws `InvalidRequestError` on malformed bytes. */
export function decodeDvv(bytes: Uint8Array): Dvv {
  const reader = new EntryReader(bytes, 'version clock');
  const tag = reader.tag(TAG_VERSION, TAG_VERSION_DIGEST);
  const entry = reader.entry();
  const dot: Dot = { actor: entry.actor, counter: entry.counter, ts_ms: entry.ts_ms };
  if (tag === TAG_VERSION_DIGEST) dot.digest = reader.digest();
  const past = reader.vector();
  reader.end();
  return { dot, past };
}

/** Encode a causal context for the client (base64 it for text transports). */
export function encodeContext(context: VersionVector): Uint8Array {
  assertVector(context);
  const writer = new EntryWriter(context, 1 + 2);
  writer.u8(TAG_CONTEXT);
  writer.u16(context.length);
  for (const e of context) writer.entry(e);
  return writer.finish();
}

/** Decode a client's causal context; zero bytes mean "no context". Throws `InvalidRequestError` if malformed. */
export function decodeContext(bytes: Uint8Array): VersionVector {
  if (bytes.length === 0) return [];
  const reader = new EntryReader(bytes, 'causal context');
  reader.tag(TAG_CONTEXT);
  const vv = reader.vector();
  reader.end();
  return vv;
}


/** Sizes, then writes, entries into one buffer (the layout in the header). */
class EntryWriter {
  private readonly out: Uint8Array;
  private readonly view: DataView;
  private at = 0;

  constructor(entries: readonly { actor: string }[], fixed: number) {
    let size = fixed;
    for (const e of entries) {
      const id = actorIdBytes(e.actor);
      assert(id.length >= 1 && id.length <= 255, 'actor id is 1..255 UTF-8 bytes');
      size += ENTRY_FIXED_BYTES + id.length;
    }
    if (size > CLOCK_MAX_BYTES) throw new InvalidRequestError(`causal metadata of ${size} bytes exceeds ${CLOCK_MAX_BYTES}`);
    this.out = new Uint8Array(size);
    this.view = new DataView(this.out.buffer);
  }

  u8(value: number): void {
    this.out[this.at++] = value;
  }

  u16(value: number): void {
    this.view.setUint16(this.at, value, true);
    this.at += 2;
  }

  u32(value: number): void {
    this.view.setUint32(this.at, value, true);
    this.at += 4;
  }

  entry(e: { actor: string; counter: number; ts_ms: number }): void {
    assert(Number.isSafeInteger(e.counter) && e.counter >= 1, 'counters are positive integers');
    const id = actorIdBytes(e.actor);
    this.u8(id.length);
    this.out.set(id, this.at);
    this.at += id.length;
    this.view.setFloat64(this.at, e.counter, true);
    this.view.setFloat64(this.at + 8, e.ts_ms, true);
    this.at += 16;
  }

  finish(): Uint8Array {
    assert(this.at === this.out.length, 'writer filled exactly the sized buffer');
    return this.out;
  }
}

/** Reads the layout in the header, throwing `InvalidRequestError` on anything off. */
class EntryReader {
  private readonly view: DataView;
  private at = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Read the tag byte; it must be one of `expected`. */
  tag(...expected: number[]): number {
    this.need(1);
    const tag = this.bytes[this.at++]!;
    if (!expected.includes(tag)) this.fail(`tag byte 0x${tag.toString(16)} is not ${expected.map((t) => `0x${t.toString(16)}`).join(' or ')}`);
    return tag;
  }

  /** A dot's digest (u8 kind, u32) as `Dot.digest`. */
  digest(): number {
    this.need(DIGEST_BYTES);
    const kind = this.bytes[this.at]!;
    const value = this.view.getUint32(this.at + 1, true);
    this.at += DIGEST_BYTES;
    if (kind === DIGEST_KIND_VALUE) return value;
    if (kind === DIGEST_KIND_TOMBSTONE && value === 0) return TOMBSTONE_DIGEST;
    return this.fail(`digest kind ${kind} with digest ${value} is neither a value's nor a tombstone's`);
  }

  entry(): VvEntry {
    this.need(1);
    const len = this.bytes[this.at]!;
    if (len === 0) this.fail('empty actor id');
    this.need(1 + len + 16);
    let actor: string;
    try {
      actor = actorIdOf(this.bytes, this.at + 1, this.at + 1 + len);
    } catch {
      return this.fail('actor id is not UTF-8');
    }
    this.at += 1 + len;
    const counter = this.view.getFloat64(this.at, true);
    const ts_ms = this.view.getFloat64(this.at + 8, true);
    this.at += 16;
    if (!Number.isSafeInteger(counter) || counter < 1) this.fail(`counter ${counter} is not a positive integer`);
    if (!Number.isFinite(ts_ms)) this.fail('timestamp is not finite');
    return { actor, counter, ts_ms };
  }

  vector(): VvEntry[] {
    this.need(2);
    const n = this.view.getUint16(this.at, true);
    this.at += 2;
    const out: VvEntry[] = [];
    for (let i = 0; i < n; i++) {
      const e = this.entry();
      const prev = out[out.length - 1];
      if (prev && compareActors(prev.actor, e.actor) >= 0) this.fail('entries not sorted by actor or repeated');
      out.push(e);
    }
    return out;
  }

  end(): void {
    if (this.at !== this.bytes.length) this.fail(`${this.bytes.length - this.at} trailing bytes`);
  }

  private need(n: number): void {
    if (this.at + n > this.bytes.length) this.fail(`truncated at byte ${this.at}`);
  }

  private fail(why: string): never {
    throw new InvalidRequestError(`malformed ${this.what}: ${why}; pass the bytes a get returned, unchanged`);
  }
}

function sameDvv(a: Dvv, b: Dvv): boolean {
  const sameEntry = (x: VvEntry, y: VvEntry): boolean =>
    x.actor === y.actor && x.counter === y.counter && Object.is(x.ts_ms, y.ts_ms);
  return sameEntry(a.dot, b.dot) && a.dot.digest === b.dot.digest && a.past.length === b.past.length && a.past.every((e, i) => sameEntry(e, b.past[i]!));
}
