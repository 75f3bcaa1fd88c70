/**
 * Writes one SSTable (layout in `sstable_format.ts`) in a single pass: entries
 * arrive in strictly increasing key order, are packed into ~SSTABLE_BLOCK_BYTES
 * data blocks, each sealed with its checksum, and buffered into chunks of
 * SSTABLE_WRITE_CHUNK_BYTES so the file sees few large appends. `finish()`
 * then writes the bloom filter, the sparse index and the footer, fsyncs the
 * file and its directory, and returns the table's metadata.
 *
 * The bloom filter is sized when the entry count is known: the writer keeps
 * each key's hash pair (8 bytes per key) until `finish()`.
 *
 * Thread contract: one thread only; one `append` at a time (await each).
 */
import { assert } from '../src/core/assert.js';
import { hashPair } from '../src/core/hash.js';
import {
  BLOOM_FP_RATE_DEFAULT,
  CLOCK_MAX_BYTES,
  KEY_MAX_BYTES,
  SIBLINGS_STORED_MAX,
  SSTABLE_BLOCK_BYTES,
  SSTABLE_WRITE_CHUNK_BYTES,
  VALUE_MAX_BYTES,
} from '../src/core/limits.js';
import { BloomFilter } from './bloom.js';
import { dirName, type FileHandle, type FileSystem } from './fs.js';
import { compareKeys } from './key_order.js';
import {
  BLOCK_TRAILER_BYTES,
  encodeFooter,
  entryBytes,
  indexBytes,
  sealBlock,
  writeEntry,
  writeIndex,
  type BlockHandle,
  type SSTableMeta,
} from './sstable_format.js';
import type { Version } from './version.js';

/** Options of a writer. */
export interface SSTableWriterOptions {
  /** Target false-positive rate of the table's bloom filter. */
  bloomFpRate?: number;
  /** Target data block size (tests use small blocks to get many). */
  blockBytes?: number;
}

/** Builds one SSTable file. */
export class SSTableWriter {
  /** Data block being filled: entries from 0 to `blockEnd`, room for the trailer after. */
  private block = new Uint8Array(SSTABLE_BLOCK_BYTES * 2);
  private blockView = new DataView(this.block.buffer);
  private blockEnd = 0;
  private blockFirstKey: Uint8Array | null = null;
  /** Output bytes not yet appended to the file. */
  private readonly chunk = new Uint8Array(SSTABLE_WRITE_CHUNK_BYTES);
  private chunkEnd = 0;
  /** File offset where the next sealed block starts. */
  private fileOffset = 0;
  private readonly blocks: BlockHandle[] = [];
  /** Hash pairs of every key, two u32 per key, for the bloom filter. */
  private hashes = new Uint32Array(1024);
  private entries = 0;
  private lastKey: Uint8Array | null = null;
  private minTs_ms = Infinity;
  private maxTs_ms = -Infinity;
  private state: 'open' | 'finished' | 'aborted' = 'open';

  private constructor(
    private readonly fs: FileSystem,
    private readonly handle: FileHandle,
    private readonly options: Required<SSTableWriterOptions>,
  ) {}

  /** Create (or truncate) the file at `path` and return a writer for it. */
  static async create(fs: FileSystem, path: string, options: SSTableWriterOptions = {}): Promise<SSTableWriter> {
    const blockBytes = options.blockBytes ?? SSTABLE_BLOCK_BYTES;
    assert(blockBytes >= 64 && blockBytes <= SSTABLE_WRITE_CHUNK_BYTES / 2, 'block size between 64 bytes and half a write chunk');
    const handle = await fs.open(path, 'create');
    return new SSTableWriter(fs, handle, { bloomFpRate: options.bloomFpRate ?? BLOOM_FP_RATE_DEFAULT, blockBytes });
  }

  /** Entries appended so far. */
  get entryCount(): number {
    return this.entries;
  }

  /** Add `key` with its versions; keys must strictly increase. */
  async append(key: Uint8Array, versions: readonly Version[]): Promise<void> {
    assert(this.state === 'open', 'append to an open writer');
    assert(key.length <= KEY_MAX_BYTES, 'key within KEY_MAX_BYTES');
    assert(versions.length >= 1 && versions.length <= SIBLINGS_STORED_MAX, 'an entry has 1..SIBLINGS_STORED_MAX versions');
    assert(this.lastKey === null || compareKeys(this.lastKey, key) < 0, 'SSTable keys are appended in strictly increasing order');
    for (const v of versions) {
      assert(v.clock.length <= CLOCK_MAX_BYTES, 'clock within CLOCK_MAX_BYTES');
      assert(v.value === null || v.value.length <= VALUE_MAX_BYTES, 'value within VALUE_MAX_BYTES');
      assert(Number.isFinite(v.ts_ms), 'ts_ms is a finite number');
      if (v.ts_ms < this.minTs_ms) this.minTs_ms = v.ts_ms;
      if (v.ts_ms > this.maxTs_ms) this.maxTs_ms = v.ts_ms;
    }
    const size = entryBytes(key, versions);
    if (this.blockEnd > 0 && this.blockEnd + size > this.options.blockBytes) await this.sealCurrentBlock();
    this.ensureBlockRoom(size + BLOCK_TRAILER_BYTES);
    if (this.blockEnd === 0) this.blockFirstKey = key.slice();
    this.blockEnd = writeEntry(this.block, this.blockView, this.blockEnd, key, versions);
    this.lastKey = key.slice();
    this.rememberHash(key);
    this.entries += 1;
  }

  /**
   * Write filter, index and footer, make the file durable (file and
   * directory fsync) and close it. At least one entry must have been
   * appended: an empty table is never written (call `abort` instead).
   */
  async finish(): Promise<SSTableMeta> {
    assert(this.state === 'open', 'finish an open writer once');
    assert(this.entries > 0 && this.lastKey !== null, 'an SSTable holds at least one entry');
    this.state = 'finished';
    await this.sealCurrentBlock();
    const filter = BloomFilter.forKeys(this.entries, this.options.bloomFpRate);
    for (let i = 0; i < this.entries; i++) filter.addHash([this.hashes[2 * i]!, this.hashes[2 * i + 1]!]);
    const filterBytes = new Uint8Array(filter.serializedBytes + BLOCK_TRAILER_BYTES);
    filterBytes.set(filter.serialize());
    const filterLength = filter.serializedBytes;
    const filterOffset = this.fileOffset;
    await this.emitSealed(filterBytes, filterLength);
    const indexOffset = this.fileOffset;
    const index = new Uint8Array(indexBytes(this.blocks) + BLOCK_TRAILER_BYTES);
    const indexLength = writeIndex(index, this.blocks);
    await this.emitSealed(index, indexLength);
    const minTs_ms = this.minTs_ms;
    const maxTs_ms = this.maxTs_ms;
    const footer = encodeFooter({
      filter_offset: filterOffset,
      filter_length: filterLength,
      index_offset: indexOffset,
      index_length: indexLength,
      entry_count: this.entries,
      min_ts_ms: minTs_ms,
      max_ts_ms: maxTs_ms,
    });
    await this.emit(footer);
    await this.flushChunk();
    await this.handle.sync();
    const fileBytes = this.handle.size();
    assert(fileBytes === this.fileOffset, 'the file holds exactly the bytes written');
    await this.handle.close();
    await this.fs.syncDir(dirName(this.handle.path));
    return {
      path: this.handle.path,
      entry_count: this.entries,
      min_key: this.blocks[0]!.first_key,
      max_key: this.lastKey,
      file_bytes: fileBytes,
      min_ts_ms: minTs_ms,
      max_ts_ms: maxTs_ms,
    };
  }

  /** Give up on the table: close and remove the partial file. */
  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await this.handle.close();
    await this.fs.remove(this.handle.path);
  }

  private rememberHash(key: Uint8Array): void {
    if (2 * this.entries + 2 > this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    const [h1, h2] = hashPair(key);
    this.hashes[2 * this.entries] = h1;
    this.hashes[2 * this.entries + 1] = h2;
  }

  private ensureBlockRoom(bytes: number): void {
    if (this.blockEnd + bytes <= this.block.length) return;
    const grown = new Uint8Array(Math.max(this.block.length * 2, this.blockEnd + bytes));
    grown.set(this.block.subarray(0, this.blockEnd));
    this.block = grown;
    this.blockView = new DataView(grown.buffer);
  }

  /** Seal the data block being filled (if any) and queue it for the file. */
  private async sealCurrentBlock(): Promise<void> {
    if (this.blockEnd === 0) return;
    assert(this.blockFirstKey !== null && this.lastKey !== null, 'a non-empty block has first and last keys');
    this.blocks.push({ first_key: this.blockFirstKey, last_key: this.lastKey, offset: this.fileOffset, length: this.blockEnd });
    const length = this.blockEnd;
    this.blockEnd = 0;
    this.blockFirstKey = null;
    await this.emitSealed(this.block, length);
    // A block grown for one huge entry is dropped so its memory is not kept.
    if (this.block.length > SSTABLE_BLOCK_BYTES * 2 && this.block.length > this.options.blockBytes * 2) {
      this.block = new Uint8Array(SSTABLE_BLOCK_BYTES * 2);
      this.blockView = new DataView(this.block.buffer);
    }
  }

  /** Emit `bytes[0, length)` followed by its checksum (`bytes` has room for it). */
  private async emitSealed(bytes: Uint8Array, length: number): Promise<void> {
    assert(bytes.length >= length + BLOCK_TRAILER_BYTES, 'room for the block trailer');
    const end = sealBlock(bytes, 0, length);
    await this.emit(bytes.subarray(0, end));
  }

  /** Queue `bytes` for the file, appending whole chunks as they fill. */
  private async emit(bytes: Uint8Array): Promise<void> {
    this.fileOffset += bytes.length;
    if (this.chunkEnd + bytes.length > this.chunk.length) await this.flushChunk();
    if (bytes.length > this.chunk.length) {
      await this.handle.append(bytes.slice());
      return;
    }
    this.chunk.set(bytes, this.chunkEnd);
    this.chunkEnd += bytes.length;
  }

  private async flushChunk(): Promise<void> {
    if (this.chunkEnd === 0) return;
    // A copy: the file system may keep the buffer (sim_fs) while the chunk is reused.
    await this.handle.append(this.chunk.slice(0, this.chunkEnd));
    this.chunkEnd = 0;
  }
}
