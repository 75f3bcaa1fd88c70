/**
 * Reads one SSTable (layout in `sstable_format.ts`). `open` reads and
 * verifies the footer, bloom filter and sparse index once; after that every
 * read is synchronous (`FileHandle.readSync`, served from the page cache) and
 * touches at most one data block: bloom filter, binary search in the index,
 * then binary search inside the block.
 *
 * No byte is trusted before its checksum is verified: every data block is
 * checked when read from the file, then walked once to find its entries (which
 * checks lengths and key order) and compared with its index entry. Verified,
 * walked blocks are kept in a `BlockCache` (LRU bounded by
 * `SSTABLE_BLOCK_CACHE_BYTES`), which readers of one node can share.
 *
 * Thread contract: one thread only. Values returned are copies the caller owns.
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError } from '../src/core/errors.js';
import { hashPair } from '../src/core/hash.js';
import { SSTABLE_BLOCK_CACHE_BYTES, SSTABLE_SCAN_READAHEAD_BYTES } from '../src/core/limits.js';
import { BloomFilter, type KeyHashPair } from './bloom.js';
import type { FileHandle, FileSystem } from './fs.js';
import { compareKeyAt, compareKeys, keyPrefix } from './key_order.js';
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

/** A verified data block and where each of its entries starts. */
interface DecodedBlock {
  bytes: Uint8Array;
  starts: Uint32Array;
  /** Set on a cache hit, cleared when eviction passes over the block. */
  referenced: boolean;
}

/** Readers opened so far in this thread: gives each a distinct block-cache id. */
let tablesOpened = 0;
/** Cache ids are table id · 2^31 + block number, which stays an exact integer below 2^22 tables. */
const TABLE_ID_MAX = 2 ** 22;
const BLOCKS_PER_TABLE_MAX = 2 ** 31;
/** Consumed entries at the front of the block cache's queue tolerated before it is compacted. */
const QUEUE_SLACK = 1024;

/**
 * A cache of verified data blocks, bounded in bytes; share one per node.
 * Eviction is second-chance (CLOCK) over insertion order: a hit only sets a
 * flag, so the hot read path does no reordering, and a block hit since it was
 * last considered survives one more round.
 */
export class BlockCache {
  private readonly blocks = new Map<number, DecodedBlock>();
  /**
   * Ids of `blocks` in eviction order, oldest at `queueHead`: each cached id
   * appears exactly once in `queue[queueHead..]`. Not the Map's own order:
   * in V8 an iterator starts at the Map's first slot and steps over every slot
   * deleted since the last rehash, so popping the front through
   * `entries().next()` costs O(recent evictions) per eviction.
   */
  private queue: number[] = [];
  private queueHead = 0;
  private bytes = 0;

  constructor(
    /** Bytes of block data kept at most. */
    readonly capacityBytes = SSTABLE_BLOCK_CACHE_BYTES,
  ) {}

  /** Bytes of block data held now. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** The block under `id`, marked as recently used. */
  get(id: number): DecodedBlock | undefined {
    const block = this.blocks.get(id);
    if (block !== undefined) block.referenced = true;
    return block;
  }

  /** Keep `block` under `id`, evicting blocks not used recently past capacity. */
  put(id: number, block: DecodedBlock): void {
    const cost = blockCost(block);
    // A block bigger than an eighth of the cache (a huge value) would flush it: not kept.
    if (cost > this.capacityBytes / 8 || this.blocks.has(id)) return;
    this.blocks.set(id, block);
    this.queue.push(id);
    this.bytes += cost;
    // Each pass clears reference flags, so this ends within two passes over the cache.
    while (this.bytes > this.capacityBytes) {
      assert(this.queueHead < this.queue.length, 'an over-full cache holds blocks');
      const oldId = this.queue[this.queueHead++]!;
      const old = this.blocks.get(oldId);
      assert(old !== undefined, 'every queued id is cached');
      if (old.referenced && oldId !== id) {
        old.referenced = false;
        this.queue.push(oldId);
      } else {
        this.blocks.delete(oldId);
        this.bytes -= blockCost(old);
      }
    }
    // Drop the consumed front once it is most of the array: amortized O(1), length ≤ 2 · cached + QUEUE_SLACK.
    if (this.queueHead > QUEUE_SLACK && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }
}

function blockCost(block: DecodedBlock): number {
  return block.bytes.length + block.starts.byteLength;
}

/** An open, verified SSTable. */
export class SSTableReader {
  /** What the table holds (from footer and index). */
  readonly meta: SSTableMeta;
  private readonly tableId: number;
  /** `keyPrefix` of each block's last key: the index search compares these flat numbers first. */
  private readonly lastKeyPrefixes: Float64Array;

  private constructor(
    private readonly handle: FileHandle,
    private readonly footer: Footer,
    private readonly filter: BloomFilter,
    private readonly blocks: readonly BlockHandle[],
    private readonly cache: BlockCache,
  ) {
    this.tableId = tablesOpened++;
    assert(this.tableId < TABLE_ID_MAX, 'block-cache ids stay exact integers');
    assert(blocks.length < BLOCKS_PER_TABLE_MAX, 'block numbers fit in a cache id');
    this.lastKeyPrefixes = Float64Array.from(blocks, (b) => keyPrefix(b.last_key));
    this.meta = {
      path: handle.path,
      entry_count: footer.entry_count,
      min_key: blocks[0]!.first_key,
      max_key: blocks[blocks.length - 1]!.last_key,
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

  /** The key's versions, or undefined when the table does not hold it. */
  get(key: Uint8Array, pair?: KeyHashPair): StoredVersion[] | undefined {
    if (!this.filter.mayContainHash(pair ?? hashPair(key))) return undefined;
    const blockNumber = this.findBlock(key);
    if (blockNumber >= this.blocks.length) return undefined;
    if (compareKeys(this.blocks[blockNumber]!.first_key, key) > 0) return undefined;
    const block = this.cachedBlock(blockNumber);
    const at = lowerBound(block, key);
    if (at >= block.starts.length) return undefined;
    const start = block.starts[at]!;
    if (compareKeyAt(block.bytes, start + 2, keyLengthAt(block.bytes, start), key) !== 0) return undefined;
    return versionsAt(block.bytes, start);
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
        yield { key: key.slice(), versions: versionsAt(block.bytes, start) };
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

  /** First block whose last key is ≥ `key` (blocks.length when none). */
  private findBlock(key: Uint8Array): number {
    const prefix = keyPrefix(key);
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const midPrefix = this.lastKeyPrefixes[mid]!;
      const before = midPrefix !== prefix ? midPrefix < prefix : compareKeys(this.blocks[mid]!.last_key, key) < 0;
      if (before) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private cachedBlock(blockNumber: number): DecodedBlock {
    const id = this.tableId * BLOCKS_PER_TABLE_MAX + blockNumber;
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit;
    const handle = this.blocks[blockNumber]!;
    const block = this.decodeBlock(blockNumber, this.handle.readSync(handle.offset, handle.length + BLOCK_TRAILER_BYTES));
    this.cache.put(id, block);
    return block;
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

  /** Verify block `blockNumber` from its raw bytes and check it matches its index entry. */
  private decodeBlock(blockNumber: number, raw: Uint8Array): DecodedBlock {
    const handle = this.blocks[blockNumber]!;
    const bytes = verifyBlock(raw, handle.length, this.path, handle.offset, `data block ${blockNumber}`);
    const starts = entryStarts(bytes, this.path, handle.offset);
    const first = keyAt(bytes, starts[0]!);
    const last = keyAt(bytes, starts[starts.length - 1]!);
    if (compareKeys(first, handle.first_key) !== 0 || compareKeys(last, handle.last_key) !== 0) {
      throw new CorruptionError(this.path, handle.offset, `data block ${blockNumber} keys differ from its index entry`);
    }
    return { bytes, starts, referenced: false };
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
