/**
 * Reads one SSTable (layout in `sstable_format.ts`). `open` reads and
 * verifies the footer, bloom filter and sparse index once; after that every
 * read is synchronous (`FileHandle.readInto`, served from the page cache) and
 * touches at most one data block: bloom filter, binary search in the index,
 * then binary search inside the block.
 *
 * No byte is trusted before its checksum is verified: every data block is
 * checked when read from the file, then walked once to find its entries (which
 * checks lengths and key order) and compared with its index entry. Only
 * verified, walked blocks enter the `BlockCache` (bounded by
 * `SSTABLE_BLOCK_CACHE_BYTES`), which readers of one node share.
 *
 * Every key of a table shares the bytes its smallest and largest key share
 * (bytewise order puts any key between two keys with prefix P after P), so
 * a point read first checks that prefix once, then searches index and block
 * comparing only the bytes after it.
 *
 * Thread contract: one thread only. `get` and `scan` return versions whose
 * clocks and values are copies, never views into the block cache: the cache
 * reuses the memory of evicted blocks, so a view would see its bytes
 * overwritten. The copies are carved from small write-once chunks
 * (`versionsAt`), so a value kept long keeps at most
 * `SSTABLE_READ_COPY_CHUNK_BYTES` alive, never a cache slab.
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError } from '../src/core/errors.js';
import { hashPair } from '../src/core/hash.js';
import {
  SSTABLE_BLOCK_CACHE_BYTES,
  SSTABLE_BLOCK_CACHE_FREE_SLABS_MAX,
  SSTABLE_BLOCK_CACHE_SLAB_BYTES,
  SSTABLE_SCAN_READAHEAD_BYTES,
} from '../src/core/limits.js';
import { BloomFilter, type KeyHashPair } from './bloom.js';
import type { FileHandle, FileSystem } from './fs.js';
import { compareKeyAt, compareKeyRanges, compareKeys, keyPrefixAt, sharedPrefixLength } from './key_order.js';
import {
  BLOCK_TRAILER_BYTES,
  decodeFooter,
  decodeIndex,
  EntryOffsets,
  FOOTER_BYTES,
  keyAt,
  verifyBlock,
  versionsAt,
  walkEntries,
  type BlockHandle,
  type Footer,
  type SSTableMeta,
} from './sstable_format.js';
import type { StoredVersion } from './version.js';

/** One key and its versions, as a scan yields them. */
export interface SSTableEntry {
  key: Uint8Array;
  versions: StoredVersion[];
}

/**
 * A verified, walked data block: its entries are `bytes` at offsets
 * `offsets[first .. first+count)`, ascending. For a cached block these are
 * the slab's arrays; for a scanned block, the block's own bytes and the
 * scan's offset list.
 */
interface BlockEntries {
  bytes: Uint8Array;
  /** Spans `bytes` with the same offsets: one per slab or scanned block, not one per read. */
  view: DataView;
  offsets: Uint32Array;
  first: number;
  count: number;
}

/** A block held by a `BlockCache`. */
interface CachedBlock extends BlockEntries {
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

/** Blocks up to this many bytes are read into a reused scratch buffer; larger ones get a buffer of their own. */
const READ_SCRATCH_MAX_BYTES = 256 * 1024;
/** Reused by every miss of every reader of this thread (reads are synchronous, so never two at once). */
let readScratch = new Uint8Array(16 * 1024);
/** Entry offsets of the block a miss is walking, before they are copied into the slab; shared like `readScratch`. */
const missOffsets = new EntryOffsets();

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

/** An open, verified SSTable. */
export class SSTableReader {
  /** What the table holds (from footer and index). */
  readonly meta: SSTableMeta;
  /** The bytes every key of the table starts with (common prefix of its smallest and largest key). */
  private readonly sharedPrefix: Uint8Array;
  /** `keyPrefixAt` of each block's last key after `sharedPrefix`: the index search compares these flat numbers first. */
  private readonly lastKeyPrefixes: Float64Array;
  /** This reader's blocks now in `cache`, by block number; the cache clears a slot when it evicts the block. */
  private readonly slots: (CachedBlock | undefined)[];

  private constructor(
    private readonly handle: FileHandle,
    private readonly footer: Footer,
    private readonly filter: BloomFilter,
    private readonly blocks: readonly BlockHandle[],
    private readonly cache: BlockCache,
  ) {
    const min_key = blocks[0]!.first_key;
    const max_key = blocks[blocks.length - 1]!.last_key;
    this.sharedPrefix = min_key.slice(0, sharedPrefixLength(min_key, max_key));
    const shared = this.sharedPrefix.length;
    this.lastKeyPrefixes = Float64Array.from(blocks, (b) => keyPrefixAt(b.last_key, shared, b.last_key.length - shared));
    this.slots = Array.from({ length: blocks.length }, () => undefined);
    this.meta = {
      path: handle.path,
      entry_count: footer.entry_count,
      min_key,
      max_key,
      file_bytes: handle.size(),
      min_ts_ms: footer.min_ts_ms,
      max_ts_ms: footer.max_ts_ms,
    };
  }

  /** Open `path`, verifying footer, filter and index; corruption throws `CorruptionError`. */
  static async open(fs: FileSystem, path: string, options: { cache?: BlockCache } = {}): Promise<SSTableReader> {
    const handle = await fs.open(path, 'read');
    try {
      const size = handle.size();
      if (size < FOOTER_BYTES) throw new CorruptionError(path, 0, `file of ${size} bytes is shorter than an SSTable footer`);
      const footer = decodeFooter(handle.readSync(size - FOOTER_BYTES, FOOTER_BYTES), path, size);
      const filterEnd = footer.filter_offset + footer.filter_length + BLOCK_TRAILER_BYTES;
      const indexEnd = footer.index_offset + footer.index_length + BLOCK_TRAILER_BYTES;
      if (filterEnd !== footer.index_offset || indexEnd !== size - FOOTER_BYTES) {
        throw new CorruptionError(path, size - FOOTER_BYTES, 'footer offsets do not tile the file');
      }
      const filterRaw = handle.readSync(footer.filter_offset, footer.filter_length + BLOCK_TRAILER_BYTES);
      const filterBytes = verifyBlock(filterRaw, footer.filter_length, path, footer.filter_offset, 'filter block');
      const filter = BloomFilter.deserialize(filterBytes, path, footer.filter_offset);
      const indexRaw = handle.readSync(footer.index_offset, footer.index_length + BLOCK_TRAILER_BYTES);
      const indexBytes = verifyBlock(indexRaw, footer.index_length, path, footer.index_offset, 'index block');
      const blocks = decodeIndex(indexBytes, path, footer.index_offset, footer.filter_offset);
      if (blocks.length === 0 || footer.entry_count < blocks.length) {
        throw new CorruptionError(path, footer.index_offset, `${blocks.length} blocks for ${footer.entry_count} entries`);
      }
      return new SSTableReader(handle, footer, filter, blocks, options.cache ?? new BlockCache());
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Path of the file. */
  get path(): string {
    return this.handle.path;
  }

  /** False when the table certainly lacks `key` (bloom filter); pass `pair` to reuse one hash. */
  mayContain(key: Uint8Array, pair?: KeyHashPair): boolean {
    return this.filter.mayContainHash(pair ?? hashPair(key));
  }

  /** The key's versions (copies: see the thread contract), or undefined when the table does not hold it. */
  get(key: Uint8Array, pair?: KeyHashPair): StoredVersion[] | undefined {
    if (!this.filter.mayContainHash(pair ?? hashPair(key))) return undefined;
    return this.getAdmitted(key);
  }

  /** `get` for a key that `mayContain` just admitted: skips the second bloom probe (the engine's read path). */
  getAdmitted(key: Uint8Array): StoredVersion[] | undefined {
    const prefix = this.sharedPrefix;
    const shared = prefix.length;
    if (key.length < shared) return undefined;
    for (let i = 0; i < shared; i++) if (key[i] !== prefix[i]) return undefined;
    const rest = key.length - shared;
    const blockNumber = this.findBlockAfterPrefix(key, shared, rest);
    if (blockNumber >= this.blocks.length) return undefined;
    let block = this.slots[blockNumber];
    if (block === undefined) block = this.loadBlock(blockNumber);
    else block.referenced = true;
    // Exact-match binary search over the entries, comparing the bytes after the shared prefix in place.
    const { bytes, offsets } = block;
    let lo = block.first;
    let hi = lo + block.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const start = offsets[mid]!;
      const order = compareKeyRanges(bytes, start + 2 + shared, keyLengthAt(bytes, start) - shared, key, shared, rest);
      if (order === 0) return versionsAt(bytes, block.view, start);
      if (order < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /**
   * Entries in key order from `fromKey` (inclusive) to `toKey` (exclusive).
   * Reads ahead up to SSTABLE_SCAN_READAHEAD_BYTES at a time and bypasses the
   * block cache, so a compaction pass does not evict the read path's blocks.
   */
  *scan(fromKey?: Uint8Array, toKey?: Uint8Array): IterableIterator<SSTableEntry> {
    const firstBlock = fromKey === undefined ? 0 : this.findBlock(fromKey);
    let blockNumber = firstBlock;
    const window = { offset: 0, bytes: new Uint8Array(0) };
    // This scan's own: it is suspended between yields while gets (and their misses) run.
    const offsets = new EntryOffsets();
    let seen = 0;
    for (; blockNumber < this.blocks.length; blockNumber++) {
      const handle = this.blocks[blockNumber]!;
      if (toKey !== undefined && compareKeys(handle.first_key, toKey) >= 0) return;
      const block = this.decodeBlock(blockNumber, this.readAhead(handle, window), offsets);
      // Only the first block can hold keys before `fromKey`.
      let at = fromKey === undefined || blockNumber !== firstBlock ? 0 : lowerBound(block, fromKey);
      for (; at < block.count; at++) {
        const start = block.offsets[block.first + at]!;
        const key = keyAt(block.bytes, start);
        if (toKey !== undefined && compareKeys(key, toKey) >= 0) return;
        seen += 1;
        yield { key: key.slice(), versions: versionsAt(block.bytes, block.view, start) };
      }
    }
    // A full scan saw every entry: pair the footer's count with what is really there.
    if (fromKey === undefined && toKey === undefined && seen !== this.footer.entry_count) {
      throw new CorruptionError(this.path, -1, `scan found ${seen} entries, footer says ${this.footer.entry_count}`);
    }
  }

  /** Close the file. The reader must not be used afterwards. */
  async close(): Promise<void> {
    await this.handle.close();
  }

  /** First block whose last key is ≥ `key` (blocks.length when none); any key, for scans. */
  private findBlock(key: Uint8Array): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.blocks[mid]!.last_key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `findBlock` for a key known to start with `sharedPrefix` (`shared` bytes, `rest` after them). */
  private findBlockAfterPrefix(key: Uint8Array, shared: number, rest: number): number {
    const prefix = keyPrefixAt(key, shared, rest);
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const midPrefix = this.lastKeyPrefixes[mid]!;
      let before: boolean;
      if (midPrefix !== prefix) before = midPrefix < prefix;
      else {
        const last = this.blocks[mid]!.last_key;
        before = compareKeyRanges(last, shared, last.length - shared, key, shared, rest) < 0;
      }
      if (before) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Read, verify and walk block `blockNumber` (a cache miss), then cache it. */
  private loadBlock(blockNumber: number): CachedBlock {
    const handle = this.blocks[blockNumber]!;
    const need = handle.length + BLOCK_TRAILER_BYTES;
    let raw: Uint8Array;
    if (this.handle.readInto !== undefined && need <= READ_SCRATCH_MAX_BYTES) {
      if (readScratch.length < need) readScratch = new Uint8Array(Math.min(READ_SCRATCH_MAX_BYTES, Math.max(need, readScratch.length * 2)));
      raw = readScratch.subarray(0, this.handle.readInto(handle.offset, need, readScratch));
    } else {
      raw = this.handle.readSync(handle.offset, need);
    }
    // The scratch bytes are verified and walked here, then copied once into the cache: only verified blocks enter it.
    const payload = this.verifyAndWalk(blockNumber, raw, missOffsets);
    return this.cache.insert(this.slots, blockNumber, payload, missOffsets);
  }

  /** The raw bytes (entries + trailer) of block `handle`, from the read-ahead window when possible. */
  private readAhead(handle: BlockHandle, window: { offset: number; bytes: Uint8Array }): Uint8Array {
    const need = handle.length + BLOCK_TRAILER_BYTES;
    const from = handle.offset - window.offset;
    if (from < 0 || from + need > window.bytes.length) {
      const length = Math.max(need, Math.min(SSTABLE_SCAN_READAHEAD_BYTES, this.footer.filter_offset - handle.offset));
      window.offset = handle.offset;
      window.bytes = this.handle.readSync(handle.offset, length);
      return window.bytes.subarray(0, need);
    }
    return window.bytes.subarray(from, from + need);
  }

  /** Verify block `blockNumber` from its raw bytes and check it matches its index entry; for scans (entry offsets in `offsets`). */
  private decodeBlock(blockNumber: number, raw: Uint8Array, offsets: EntryOffsets): BlockEntries {
    const bytes = this.verifyAndWalk(blockNumber, raw, offsets);
    return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offsets: offsets.offsets, first: 0, count: offsets.count };
  }

  /**
   * Check block `blockNumber`'s checksum, walk its entries into `offsets` and
   * match its first and last key with the index; returns the payload (a view into `raw`).
   */
  private verifyAndWalk(blockNumber: number, raw: Uint8Array, offsets: EntryOffsets): Uint8Array {
    const handle = this.blocks[blockNumber]!;
    const bytes = verifyBlock(raw, handle.length, this.path, handle.offset, 'data block', blockNumber);
    walkEntries(bytes, this.path, handle.offset, offsets);
    const first = offsets.offsets[0]!;
    const last = offsets.offsets[offsets.count - 1]!;
    if (
      compareKeyRanges(bytes, first + 2, keyLengthAt(bytes, first), handle.first_key, 0, handle.first_key.length) !== 0 ||
      compareKeyRanges(bytes, last + 2, keyLengthAt(bytes, last), handle.last_key, 0, handle.last_key.length) !== 0
    ) {
      throw new CorruptionError(this.path, handle.offset, `data block ${blockNumber} keys differ from its index entry`);
    }
    return bytes;
  }
}

function keyLengthAt(bytes: Uint8Array, start: number): number {
  return bytes[start]! | (bytes[start + 1]! << 8);
}

/** Index (from 0) of the first entry of `block` whose key is ≥ `key`. */
function lowerBound(block: BlockEntries, key: Uint8Array): number {
  const { bytes, offsets, first } = block;
  let lo = 0;
  let hi = block.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const start = offsets[first + mid]!;
    if (compareKeyAt(bytes, start + 2, keyLengthAt(bytes, start), key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
