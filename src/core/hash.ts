/**
 * The one module that wraps xxhash-wasm. Every hash in ringkv comes from
 * here: checksums on rings, commit-log records and SSTable blocks; bloom
 * filter probes; ring tokens; Merkle tree labels.
 *
 * The WASM module is instantiated once per thread with a top-level await, so
 * any module that imports this one can hash synchronously. Pure computation:
 * no I/O, no clock.
 */
import xxhash from 'xxhash-wasm';

const api = await xxhash();

/** xxh32 of `bytes` (a 32-bit checksum), as an unsigned integer. */
export function hash32(bytes: Uint8Array, seed = 0): number {
  return api.h32Raw(bytes, seed) >>> 0;
}

/** xxh64 of `bytes`, as a bigint. */
export function hash64(bytes: Uint8Array, seed = 0n): bigint {
  return api.h64Raw(bytes, seed);
}

/**
 * Two independent 32-bit hashes of `bytes` for double hashing (Kirsch &
 * Mitzenmacher 2006): probe i is h1 + i*h2. Two xxh32 passes with different
 * seeds: on the short keys bloom filters see this is ~40% cheaper than one
 * xxh64 pass split through a BigInt, and the halves stay independent. The
 * bloom filter bit layout depends on it (no filter is persisted across a
 * change of this function yet).
 */
export function hashPair(bytes: Uint8Array): [number, number] {
  return [api.h32Raw(bytes, HASH_PAIR_SEED_1) >>> 0, api.h32Raw(bytes, HASH_PAIR_SEED_2) >>> 0];
}

/** Seeds of `hashPair`'s two halves: any two distinct values give independent hashes. */
const HASH_PAIR_SEED_1 = 0x9e3779b1;
const HASH_PAIR_SEED_2 = 0x85ebca77;

/** xxh32 of a UTF-8 string. */
export function hashString32(text: string, seed = 0): number {
  return api.h32(text, seed) >>> 0;
}

/** Checksum used by every framed byte format: xxh32 with a fixed seed. */
export function checksum(bytes: Uint8Array): number {
  return api.h32Raw(bytes, CHECKSUM_SEED) >>> 0;
}

/** Non-zero seed so an all-zero buffer does not checksum to a common constant. */
const CHECKSUM_SEED = 0x52494e47; // "RING"
