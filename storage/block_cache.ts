/**
 * The block cache of a node's SSTable readers: verified, walked data blocks
 * held in slabs, bounded in bytes, with second-chance eviction by slab and
 * slab reuse (see `BlockCache`). `sstable_reader.ts` fills it on a miss and
 * reads from it on a hit.
 *
 * Thread contract: one thread only (the node's); readers of one node share
 * one cache.
 */
import { assert } from '../src/core/assert.js';
import {
  SSTABLE_BLOCK_CACHE_BYTES,
  SSTABLE_BLOCK_CACHE_FREE_SLABS_MAX,
  SSTABLE_BLOCK_CACHE_SLAB_BYTES,
} from '../src/core/limits.js';
import type { EntryOffsets } from './sstable_format.js';

/**
 * A verified, walked data block: its entries are `bytes` at offsets
 * `offsets[first .. first+count)`, ascending. For a cached block these are
 * the slab's arrays; for a scanned block, the block's own bytes and the
 * scan's offset list.
 */
export interface BlockEntries {
  bytes: Uint8Array;
  /** Spans `bytes` with the same offsets: one per slab or scanned block, not one per read. */
  view: DataView;
  offsets: Uint32Array;
  first: number;
  count: number;
}

/** A block held by a `BlockCache`. */
export interface CachedBlock extends BlockEntries {
  /** The block's payload is `bytes[at, at + length)` (its offsets follow it in the slab). */
  at: number;
  length: number;
  /** Set on a cache hit, cleared when eviction passes over the block. */
  referenced: boolean;
  /** The owning reader's slot array, which points at this block at `blockNumber` while it is cached. */
  slots: (CachedBlock | undefined)[];
  blockNumber: number;
}

/**
 * A run of cache memory that blocks are placed in, front to back:
 *
 *   +-------------------------------------------------------------+
 *   | payload 0 | pad | u32 entry offsets 0 | payload 1 | ...     |
 *   +-------------------------------------------------------------+
 *
 * Each block's payload (verified entries, no trailer) starts 4-aligned and
 * is followed by the slab offsets of its entries, so one slab holds both and
 * a miss allocates neither. The bytes are written only while the slab is
 * being filled; a slab is rewritten only after eviction has dropped every
 * block in it.
 */
interface Slab {
  bytes: Uint8Array;
  /** Spans `bytes`. */
  view: DataView;
  /** The same memory as u32s, for entry offsets. */
  offsets: Uint32Array;
  /** Bytes handed out so far (a multiple of 4). */
  used: number;
  /** Blocks placed in this slab, in order. */
  blocks: CachedBlock[];
}

/**
 * A cache of verified data blocks, bounded in bytes; share one per node.
 *
 * Memory: slabs of `slabBytes`, at most `capacityBytes / slabBytes` of them,
 * counting one spare. A missed block is read into a scratch buffer, verified
 * and walked, then copied once into the slab being filled with its entry
 * offsets: no allocation per miss but the block's small record. Blocks are
 * found through their reader's slot array, indexed by block number: no
 * hashing on a hit.
 *
 * Eviction is second-chance (CLOCK) by slab: when a new slab is needed and
 * the cache is full, the oldest slab is dropped; the blocks in it that were
 * hit since they were last considered are first copied into the new slab
 * (flag cleared), up to half the new slab, so every eviction admits at
 * least half a slab of new blocks. A hit only sets a flag, so the hot read
 * path does no reordering. The dropped slab, none of whose blocks is
 * reachable any more, becomes the spare (free list of at most
 * `SSTABLE_BLOCK_CACHE_FREE_SLABS_MAX`) that the next new slab reuses as it
 * is, without zeroing: once full, the cache allocates no memory.
 */
export class BlockCache {
  /** Bytes of one slab: a quarter of the cache at most, so it holds four or more; a multiple of 8. */
  readonly slabBytes: number;
  private readonly slabsMax: number;
  /** Full slabs, oldest first. */
  private full: Slab[] = [];
  /** The slab being filled, once a block was cached. */
  private current: Slab | undefined;
  /** Evicted slabs, no block of theirs reachable, waiting for reuse. */
  private free: Slab[] = [];
  /** Slabs allocated so far (tests check that a full cache reuses instead). */
  slabsAllocated = 0;

  constructor(
    /** Bytes of slabs kept at most. */
    readonly capacityBytes = SSTABLE_BLOCK_CACHE_BYTES,
  ) {
    this.slabBytes = Math.max(8, Math.min(SSTABLE_BLOCK_CACHE_SLAB_BYTES, Math.floor(capacityBytes / 4)) & ~7);
    this.slabsMax = Math.floor(capacityBytes / this.slabBytes);
    assert(this.slabsMax >= 4, `a block cache holds four slabs or more: ${capacityBytes} bytes is under 32`);
  }

  /** Bytes of slabs held now (spare included). */
  get heldBytes(): number {
    return (this.full.length + (this.current === undefined ? 0 : 1) + this.free.length) * this.slabBytes;
  }

  /**
   * Copy the verified `payload` with its entry `offsets` (into `payload`)
   * into the cache as block `blockNumber` of the reader owning `slots`, and
   * return the cached block. A block over half a slab (a huge value) would
   * flush the cache: it is returned in memory of its own and not kept.
   */
  insert(slots: (CachedBlock | undefined)[], blockNumber: number, payload: Uint8Array, offsets: EntryOffsets): CachedBlock {
    assert(slots[blockNumber] === undefined, 'a block is cached once');
    const need = footprint(payload.length, offsets.count);
    if (need > this.slabBytes / 2) return place(newSlab(need), payload, 0, payload.length, offsets.offsets, 0, offsets.count, slots, blockNumber);
    let slab = this.current;
    if (slab === undefined || slab.used + need > slab.bytes.length) slab = this.startSlab(need);
    const block = place(slab, payload, 0, payload.length, offsets.offsets, 0, offsets.count, slots, blockNumber);
    slots[blockNumber] = block;
    return block;
  }

  /** Open a new slab for a block of `incoming` footprint bytes, evicting the oldest slab past capacity. */
  private startSlab(incoming: number): Slab {
    if (this.current !== undefined) this.full.push(this.current);
    let slab = this.free.pop();
    if (slab === undefined) {
      slab = newSlab(this.slabBytes);
      this.slabsAllocated++;
    }
    // Reused as it is: every byte handed out is written by `place` before any read of it.
    slab.used = 0;
    slab.blocks.length = 0;
    this.current = slab;
    // Rescued blocks fill at most half the new slab (and leave room for `incoming`): when nearly
    // every block is hot, rescuing a whole slab per miss would copy a slab per miss.
    const rescueLimit = Math.min(this.slabBytes >>> 1, this.slabBytes - incoming);
    // Full slabs + the current one + a spare stay within slabsMax; one eviction makes room, the loop only guards the bound.
    while (this.full.length + 2 > this.slabsMax) {
      const oldest = this.full.shift();
      assert(oldest !== undefined, 'an over-full cache holds full slabs');
      for (const block of oldest.blocks) {
        if (block.slots[block.blockNumber] !== block) continue;
        block.slots[block.blockNumber] = undefined;
        if (block.referenced && slab.used + footprint(block.length, block.count) <= rescueLimit) {
          const rescued = place(slab, oldest.bytes, block.at, block.length, oldest.offsets, block.first, block.count, block.slots, block.blockNumber);
          block.slots[block.blockNumber] = rescued;
        }
      }
      // No slot points into `oldest` any more, so its bytes may be rewritten.
      oldest.blocks.length = 0;
      if (this.free.length < SSTABLE_BLOCK_CACHE_FREE_SLABS_MAX) this.free.push(oldest);
    }
    return slab;
  }
}

/** A zeroed slab of `bytes` (a multiple of 4). */
function newSlab(bytes: number): Slab {
  const buffer = new ArrayBuffer(bytes);
  return { bytes: new Uint8Array(buffer), view: new DataView(buffer), offsets: new Uint32Array(buffer), used: 0, blocks: [] };
}

/** Slab bytes a block of `length` payload bytes and `count` entries takes: payload padded to 4, then a u32 per entry. */
function footprint(length: number, count: number): number {
  return ((length + 3) & ~3) + 4 * count;
}

/**
 * Copy a block into `slab` (which has room): payload `source[at, at+length)` whose
 * entries start at `sourceOffsets[first .. first+count)` (offsets into `source`),
 * and return its record; the caller points the reader's slot at it.
 */
function place(
  slab: Slab,
  source: Uint8Array,
  at: number,
  length: number,
  sourceOffsets: Uint32Array,
  first: number,
  count: number,
  slots: (CachedBlock | undefined)[],
  blockNumber: number,
): CachedBlock {
  const to = slab.used;
  assert((to & 3) === 0 && to + footprint(length, count) <= slab.bytes.length, 'the slab has room, 4-aligned');
  slab.bytes.set(at === 0 && length === source.length ? source : source.subarray(at, at + length), to);
  const firstOffset = (to + length + 3) >>> 2;
  const shift = to - at;
  for (let i = 0; i < count; i++) slab.offsets[firstOffset + i] = sourceOffsets[first + i]! + shift;
  slab.used = (firstOffset + count) * 4;
  const block: CachedBlock = {
    bytes: slab.bytes,
    view: slab.view,
    offsets: slab.offsets,
    first: firstOffset,
    count,
    at: to,
    length,
    referenced: false,
    slots,
    blockNumber,
  };
  slab.blocks.push(block);
  return block;
}

