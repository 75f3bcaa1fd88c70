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
 * Thread contract: one thread only. `get` returns versions whose clocks and
 * values are views into the block cache's slabs: nobody may mutate them, and
 * a caller that keeps one long should copy it (a view keeps its whole slab,
 * `SSTABLE_BLOCK_CACHE_SLAB_BYTES`, alive). `scan` yields copies.
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError } from '../src/core/errors.js';
import { hashPair } from '../src/core/hash.js';
import { SSTABLE_BLOCK_CACHE_BYTES, SSTABLE_BLOCK_CACHE_SLAB_BYTES, SSTABLE_SCAN_READAHEAD_BYTES } from '../src/core/limits.js';
import { BloomFilter, type KeyHashPair } from './bloom.js';
import type { FileHandle, FileSystem } from './fs.js';
import { compareKeyAt, compareKeyRanges, compareKeys, keyPrefixAt, sharedPrefixLength } from './key_order.js';
import {
  BLOCK_TRAILER_BYTES,
  decodeFooter,
  decodeIndex,
  entryStarts,
  FOOTER_BYTES,
  keyAt,
  verifyBlock,
  versionsAt,
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
 * A verified, walked data block. Its bytes are never written after the block
 * is built, so views handed out into them stay valid (see the thread contract).
 */
interface DecodedBlock {
  /** Entries of the block (no checksum trailer). */
  bytes: Uint8Array;
  /** Spans `bytes`: one per block, not one per read. */
  view: DataView;
  /** Offset of each entry in `bytes`, ascending (from `entryStarts`). */
  starts: readonly number[];
}

/** A block held by a `BlockCache`. */
interface CachedBlock extends DecodedBlock {
  /** Set on a cache hit, cleared when eviction passes over the block. */
  referenced: boolean;
  /** The owning reader's slot array, which points at this block at `blockNumber` while it is cached. */
  slots: (CachedBlock | undefined)[];
  blockNumber: number;
}

/** A run of cache memory that blocks are copied into, front to back; never rewritten. */
interface Slab {
  bytes: Uint8Array;
  /** Bytes handed out so far. */
  used: number;
  /** Blocks placed in this slab, in order. */
  blocks: CachedBlock[];
}

/** Blocks up to this many bytes are read into a reused scratch buffer; larger ones get a buffer of their own. */
const READ_SCRATCH_MAX_BYTES = 256 * 1024;
/** Reused by every miss of every reader of this thread (reads are synchronous, so never two at once). */
let readScratch = new Uint8Array(16 * 1024);

/**
 * A cache of verified data blocks, bounded in bytes; share one per node.
 *
 * Memory: slabs of `slabBytes`, at most `capacityBytes / slabBytes` of them.
 * A missed block is read into a scratch buffer, verified, then copied once
 * into the slab being filled: no allocation per miss (a fresh 4 KiB buffer
 * costs more than the read). Blocks are found through their reader's slot
 * array, indexed by block number: no hashing on a hit.
 *
 * Eviction is second-chance (CLOCK) by slab: when a new slab is needed and
 * the cache is full, the oldest slab is dropped; the blocks in it that were
 * hit since they were last considered are first copied into the new slab
 * (flag cleared), up to half the new slab, so every eviction admits at
 * least half a slab of new blocks. A hit only
 * sets a flag, so the hot read path does no reordering. Dropped slabs are
 * never reused: the GC frees them once no view into them remains.
 */
export class BlockCache {
  /** Bytes of one slab: a quarter of the cache at most, so it holds four or more. */
  readonly slabBytes: number;
  private readonly slabsMax: number;
  /** Full slabs, oldest first. */
  private full: Slab[] = [];
  /** The slab being filled, once a block was cached. */
  private current: Slab | undefined;

  constructor(
    /** Bytes of slabs kept at most. */
    readonly capacityBytes = SSTABLE_BLOCK_CACHE_BYTES,
  ) {
    this.slabBytes = Math.max(1, Math.min(SSTABLE_BLOCK_CACHE_SLAB_BYTES, Math.floor(capacityBytes / 4)));
    this.slabsMax = Math.floor(capacityBytes / this.slabBytes);
  }

  /** Bytes of slabs held now. */
  get heldBytes(): number {
    return (this.full.length + (this.current === undefined ? 0 : 1)) * this.slabBytes;
  }

  /**
   * Copy the verified `payload` with its entry `starts` into the cache as
   * block `blockNumber` of the reader owning `slots`, and return the cached
   * block. A block over half a slab (a huge value) would flush the cache: it
   * is returned in a copy of its own and not kept.
   */
  insert(slots: (CachedBlock | undefined)[], blockNumber: number, payload: Uint8Array, starts: readonly number[]): CachedBlock {
    assert(slots[blockNumber] === undefined, 'a block is cached once');
    if (payload.length > this.slabBytes / 2) {
      const bytes = payload.slice();
      return { bytes, view: new DataView(bytes.buffer), starts, referenced: false, slots, blockNumber };
    }
    let slab = this.current;
    if (slab === undefined || slab.used + payload.length > slab.bytes.length) slab = this.startSlab(payload.length);
    return place(slab, payload, starts, slots, blockNumber);
  }

  /** Open a new slab for a block of `incoming` bytes, evicting the oldest slab past capacity. */
  private startSlab(incoming: number): Slab {
    if (this.current !== undefined) this.full.push(this.current);
    const slab: Slab = { bytes: new Uint8Array(this.slabBytes), used: 0, blocks: [] };
    this.current = slab;
    // Rescued blocks fill at most half the new slab (and leave room for `incoming`): when nearly
    // every block is hot, rescuing a whole slab per miss would copy a slab per miss.
    const rescueLimit = Math.min(this.slabBytes >>> 1, this.slabBytes - incoming);
    // slabsMax ≥ 4, so one eviction makes room; the loop only guards the bound.
    while (this.full.length + 1 > this.slabsMax) {
      const oldest = this.full.shift();
      assert(oldest !== undefined, 'an over-full cache holds full slabs');
      for (const block of oldest.blocks) {
        if (block.slots[block.blockNumber] !== block) continue;
        block.slots[block.blockNumber] = undefined;
        if (block.referenced && slab.used + block.bytes.length <= rescueLimit) {
          place(slab, block.bytes, block.starts, block.slots, block.blockNumber);
        }
      }
    }
    return slab;
  }
}

/** Copy a block into `slab` (which has room) and point its reader's slot at the copy. */
function place(slab: Slab, payload: Uint8Array, starts: readonly number[], slots: (CachedBlock | undefined)[], blockNumber: number): CachedBlock {
  const at = slab.used;
  slab.bytes.set(payload, at);
  slab.used = at + payload.length;
  const bytes = slab.bytes.subarray(at, at + payload.length);
  const block: CachedBlock = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), starts, referenced: false, slots, blockNumber };
  slab.blocks.push(block);
  slots[blockNumber] = block;
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

  /** The key's versions (views into the block cache: see the thread contract), or undefined when the table does not hold it. */
  get(key: Uint8Array, pair?: KeyHashPair): StoredVersion[] | undefined {
    if (!this.filter.mayContainHash(pair ?? hashPair(key))) return undefined;
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
    const { bytes, starts } = block;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const start = starts[mid]!;
      const order = compareKeyRanges(bytes, start + 2 + shared, keyLengthAt(bytes, start) - shared, key, shared, rest);
      if (order === 0) return versionsAt(bytes, block.view, start, false);
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
    let seen = 0;
    for (; blockNumber < this.blocks.length; blockNumber++) {
      const handle = this.blocks[blockNumber]!;
      if (toKey !== undefined && compareKeys(handle.first_key, toKey) >= 0) return;
      const block = this.decodeBlock(blockNumber, this.readAhead(handle, window));
      // Only the first block can hold keys before `fromKey`.
      let at = fromKey === undefined || blockNumber !== firstBlock ? 0 : lowerBound(block, fromKey);
      for (; at < block.starts.length; at++) {
        const start = block.starts[at]!;
        const key = keyAt(block.bytes, start);
        if (toKey !== undefined && compareKeys(key, toKey) >= 0) return;
        seen += 1;
        yield { key: key.slice(), versions: versionsAt(block.bytes, block.view, start, true) };
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
    const payload = this.verifyAndWalk(blockNumber, raw);
    return this.cache.insert(this.slots, blockNumber, payload.bytes, payload.starts);
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

  /** Verify block `blockNumber` from its raw bytes and check it matches its index entry; for scans (a view of its own). */
  private decodeBlock(blockNumber: number, raw: Uint8Array): DecodedBlock {
    const { bytes, starts } = this.verifyAndWalk(blockNumber, raw);
    return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), starts };
  }

  /** Check block `blockNumber`'s checksum, walk its entries and match its first and last key with the index. */
  private verifyAndWalk(blockNumber: number, raw: Uint8Array): { bytes: Uint8Array; starts: number[] } {
    const handle = this.blocks[blockNumber]!;
    const bytes = verifyBlock(raw, handle.length, this.path, handle.offset, 'data block', blockNumber);
    const starts = entryStarts(bytes, this.path, handle.offset);
    const first = starts[0]!;
    const last = starts[starts.length - 1]!;
    if (
      compareKeyRanges(bytes, first + 2, keyLengthAt(bytes, first), handle.first_key, 0, handle.first_key.length) !== 0 ||
      compareKeyRanges(bytes, last + 2, keyLengthAt(bytes, last), handle.last_key, 0, handle.last_key.length) !== 0
    ) {
      throw new CorruptionError(this.path, handle.offset, `data block ${blockNumber} keys differ from its index entry`);
    }
    return { bytes, starts };
  }
}

function keyLengthAt(bytes: Uint8Array, start: number): number {
  return bytes[start]! | (bytes[start + 1]! << 8);
}

/** Index of the first entry of `block` whose key is ≥ `key`. */
function lowerBound(block: DecodedBlock, key: Uint8Array): number {
  const { bytes, starts } = block;
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const start = starts[mid]!;
    if (compareKeyAt(bytes, start + 2, keyLengthAt(bytes, start), key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
