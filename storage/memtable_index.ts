/**
 * A hash index over a memtable's nodes, for point lookups: key → node
 * offset in one probe or a few, where the skip list needs a search of ~30
 * comparisons (keys that share their first 12 bytes, as `key:000012345`
 * does, compare byte by byte in the arena at every step: the memtable's
 * `get` and `put` were 10 to 14% of a node thread's CPU under
 * redis-benchmark). The skip list still orders the keys for scans and
 * inserts; this only finds a key that is there, or says it is not.
 *
 * Open addressing with linear probing over two typed arrays (the key's
 * 32-bit hash, the node offset; 0 = empty slot: offset 0 is the skip list's
 * head, never a key), so it holds no JS object per entry: 8 bytes a slot,
 * at most MEMTABLE_INDEX_LOAD_MAX full, so 16 to 32 bytes per key. It grows
 * by doubling and reinserting from the stored hashes (no key is rehashed).
 * Entries are never removed: a memtable only gains keys until it is frozen.
 *
 * Thread contract: one thread only (the memtable's).
 */
import { MEMTABLE_INDEX_FIRST_SLOTS, MEMTABLE_INDEX_LOAD_MAX } from '../src/core/limits.js';

/** The 32-bit hash of `key` the index files it under (FNV-1a over 4-byte words, then a final mix). */
export function keyHash(key: Uint8Array): number {
  let h = 0x811c9dc5 ^ key.length;
  const whole = key.length & ~3;
  let i = 0;
  for (; i < whole; i += 4) h = Math.imul(h ^ (key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24)), 0x01000193);
  for (; i < key.length; i++) h = Math.imul(h ^ key[i]!, 0x01000193);
  // Finalizer (murmur3's fmix32): spread the low bits, which pick the slot.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Node offsets by key hash. */
export class MemtableIndex {
  private hashes = new Uint32Array(MEMTABLE_INDEX_FIRST_SLOTS);
  private nodes = new Uint32Array(MEMTABLE_INDEX_FIRST_SLOTS);
  private mask = MEMTABLE_INDEX_FIRST_SLOTS - 1;
  private count = 0;

  /** `isKey(node, key)`: whether the node holds exactly `key` (the memtable's key comparison). */
  constructor(private readonly isKey: (node: number, key: Uint8Array) => boolean) {}

  /** Bytes the index holds. */
  get capacityBytes(): number {
    return this.hashes.byteLength + this.nodes.byteLength;
  }

  /** The node holding `key` (whose hash is `hash`), or 0. */
  find(key: Uint8Array, hash: number): number {
    const { hashes, nodes, mask } = this;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const node = nodes[slot]!;
      if (node === 0) return 0;
      if (hashes[slot] === hash && this.isKey(node, key)) return node;
    }
  }

  /** File `node` (a key not in the index) under `hash`. */
  insert(hash: number, node: number): void {
    if (this.count + 1 > this.nodes.length * MEMTABLE_INDEX_LOAD_MAX) this.grow();
    this.place(hash, node);
    this.count += 1;
  }

  private place(hash: number, node: number): void {
    const { hashes, nodes, mask } = this;
    let slot = hash & mask;
    while (nodes[slot] !== 0) slot = (slot + 1) & mask;
    hashes[slot] = hash;
    nodes[slot] = node;
  }

  private grow(): void {
    const oldHashes = this.hashes;
    const oldNodes = this.nodes;
    this.hashes = new Uint32Array(oldNodes.length * 2);
    this.nodes = new Uint32Array(oldNodes.length * 2);
    this.mask = this.nodes.length - 1;
    for (let slot = 0; slot < oldNodes.length; slot++) if (oldNodes[slot] !== 0) this.place(oldHashes[slot]!, oldNodes[slot]!);
  }
}
