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
import { CorruptionError } from '../src/core/errors.js';
import { hashPair } from '../src/core/hash.js';
import { SSTABLE_SCAN_READAHEAD_BYTES } from '../src/core/limits.js';
import { BlockCache, type BlockEntries, type CachedBlock } from './block_cache.js';
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
import type { Version } from './version.js';

/** One key and its versions, as a scan yields them. */
export interface SSTableEntry {
  key: Uint8Array;
  versions: Version[];
}

/** Blocks up to this many bytes are read into a reused scratch buffer; larger ones get a buffer of their own. */
const READ_SCRATCH_MAX_BYTES = 256 * 1024;
/** Reused by every miss of every reader of this thread (reads are synchronous, so never two at once). */
let readScratch = new Uint8Array(16 * 1024);
/** Entry offsets of the block a miss is walking, before they are copied into the slab; shared like `readScratch`. */
const missOffsets = new EntryOffsets();

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
  get(key: Uint8Array, pair?: KeyHashPair): Version[] | undefined {
    if (!this.filter.mayContainHash(pair ?? hashPair(key))) return undefined;
    return this.getAdmitted(key);
  }

  /** `get` for a key that `mayContain` just admitted: skips the second bloom probe (the engine's read path). */
  getAdmitted(key: Uint8Array): Version[] | undefined {
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
