/**
 * Bloom filter (Bloom 1970) for one SSTable: "no" is certain, "yes" is
 * probable, so a read skips every table whose filter says no.
 *
 * Sizing from a target false-positive rate p: bits per key = -ln(p) / ln(2)^2
 * and probes k = round(bits per key · ln 2) (≈ 9.6 bits and 7 probes at 1%),
 * bounded by `BLOOM_BITS_PER_KEY_MAX`. Probes use double hashing (Kirsch &
 * Mitzenmacher 2006): probe i sets bit ((h1 + i·h2) mod 2^32) mod m, with (h1, h2) from
 * two seeded xxh32 passes (`hashPair`). A reader computes the pair once per key and
 * passes it to every table's filter.
 *
 * Serialized layout (little-endian; the SSTable wraps it in a checksummed
 * block, so no checksum here):
 *
 *   +--------------+--------------+-----------------------------+
 *   | u8 probes k  | u32 bits m   | ceil(m / 8) bytes of bitmap |
 *   +--------------+--------------+-----------------------------+
 *
 * Thread contract: building is single-threaded; a built filter is read-only.
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError } from '../src/core/errors.js';
import { hashPair } from '../src/core/hash.js';
import { BLOOM_BITS_PER_KEY_MAX, BLOOM_FP_RATE_DEFAULT } from '../src/core/limits.js';

/** Two 32-bit hashes of a key, from `hashPair`. */
export type KeyHashPair = readonly [number, number];

/** Header bytes of the serialized form. */
const HEADER_BYTES = 5;
/** Fewest bits of a filter, so tiny tables still get a meaningful filter. */
const BITS_MIN = 64;
/** Most probes: bits per key is capped at 32, so k = round(32 · ln 2) = 22 at most. */
const PROBES_MAX = 30;

/** Bits per key and probe count for a target false-positive rate. */
export function bloomParameters(fpRate: number): { bitsPerKey: number; probes: number } {
  assert(fpRate > 0 && fpRate < 1, 'a false-positive rate is in (0, 1)');
  const ideal = -Math.log(fpRate) / (Math.LN2 * Math.LN2);
  const bitsPerKey = Math.min(ideal, BLOOM_BITS_PER_KEY_MAX);
  const probes = Math.max(1, Math.min(PROBES_MAX, Math.round(bitsPerKey * Math.LN2)));
  return { bitsPerKey, probes };
}

/** A fixed-size bloom filter over byte keys. */
export class BloomFilter {
  private constructor(
    /** Number of bits m. */
    readonly bitCount: number,
    /** Probes k per key. */
    readonly probes: number,
    /** The bitmap, ceil(m / 8) bytes; bit i is bits[i >> 3] & (1 << (i & 7)). */
    private readonly bits: Uint8Array,
  ) {}

  /** An empty filter sized for `expectedKeys` keys at `fpRate`. */
  static forKeys(expectedKeys: number, fpRate = BLOOM_FP_RATE_DEFAULT): BloomFilter {
    assert(Number.isInteger(expectedKeys) && expectedKeys >= 0, 'expected key count is a natural number');
    const { bitsPerKey, probes } = bloomParameters(fpRate);
    const bitCount = Math.max(BITS_MIN, Math.ceil(expectedKeys * bitsPerKey));
    assert(bitCount < 2 ** 32, 'filter bit count fits in u32');
    return new BloomFilter(bitCount, probes, new Uint8Array(Math.ceil(bitCount / 8)));
  }

  /** Rebuild a filter from `serialize()` output; malformed bytes are corruption at `location`. */
  static deserialize(bytes: Uint8Array, location = 'bloom filter', offset = -1): BloomFilter {
    if (bytes.length < HEADER_BYTES) throw new CorruptionError(location, offset, 'bloom filter shorter than its header');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const probes = view.getUint8(0);
    const bitCount = view.getUint32(1, true);
    if (probes < 1 || probes > PROBES_MAX) throw new CorruptionError(location, offset, `bloom filter has ${probes} probes`);
    if (bitCount < BITS_MIN || bytes.length !== HEADER_BYTES + Math.ceil(bitCount / 8)) {
      throw new CorruptionError(location, offset, `bloom filter of ${bitCount} bits does not match its ${bytes.length} bytes`);
    }
    return new BloomFilter(bitCount, probes, bytes.slice(HEADER_BYTES));
  }

  /** Add a key. */
  add(key: Uint8Array): void {
    this.addHash(hashPair(key));
  }

  /** Add a key by its precomputed `hashPair`. */
  addHash(pair: KeyHashPair): void {
    const m = this.bitCount;
    const h2 = pair[1];
    let h = pair[0];
    for (let i = 0; i < this.probes; i++) {
      const bit = h % m;
      this.bits[bit >>> 3]! |= 1 << (bit & 7);
      h = (h + h2) >>> 0;
    }
  }

  /** False when the key is certainly absent; true when it may be present. */
  mayContain(key: Uint8Array): boolean {
    return this.mayContainHash(hashPair(key));
  }

  /** `mayContain` by the key's precomputed `hashPair`. */
  mayContainHash(pair: KeyHashPair): boolean {
    const m = this.bitCount;
    const h2 = pair[1];
    let h = pair[0];
    for (let i = 0; i < this.probes; i++) {
      const bit = h % m;
      if ((this.bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
      h = (h + h2) >>> 0;
    }
    return true;
  }

  /** Bytes of `serialize()` output. */
  get serializedBytes(): number {
    return HEADER_BYTES + this.bits.length;
  }

  /** The layout drawn at the top of this file. */
  serialize(): Uint8Array {
    const out = new Uint8Array(this.serializedBytes);
    const view = new DataView(out.buffer);
    view.setUint8(0, this.probes);
    view.setUint32(1, this.bitCount, true);
    out.set(this.bits, HEADER_BYTES);
    return out;
  }
}
