/**
 * A bump allocator over a few large byte chunks: the byte half of the arena
 * memtable (storage/arena_memtable.ts). Keys, version lists and values are
 * copied in once and addressed by (chunk index, byte offset); nothing is ever
 * freed, moved or overwritten, so a subarray handed out stays valid (and
 * unchanged) for as long as the caller holds it. The arena is garbage only as
 * a whole, when its memtable is dropped.
 *
 * Chunks (Pebble's arenaskl allocates one fixed arena and rotates the memtable
 * when it is full; a JS memtable is sized by `memtableFlushBytes`, checked
 * after a write, and one value may be 4 MiB, so the arena grows instead):
 *
 *   chunk 0: MEMTABLE_ARENA_FIRST_CHUNK_BYTES    [ rec | rec | rec | ....free.... ]
 *   chunk 1: twice that                            [ rec | rec | ........free...... ]
 *   ...      doubling up to MEMTABLE_ARENA_CHUNK_MAX_BYTES
 *   chunk k: one record > MEMTABLE_ARENA_LARGE_RECORD_BYTES, exactly its size
 *
 * A record that does not fit in the current shared chunk starts the next one
 * (the old chunk's tail is left unused); a large record gets its own chunk and
 * leaves the current shared chunk open. A chunk is never copied on growth, so
 * the cost of growing is one allocation per chunk.
 *
 * Thread contract: one thread only (the memtable's).
 */
import { assert } from '../src/core/assert.js';
import {
  MEMTABLE_ARENA_CHUNK_MAX_BYTES,
  MEMTABLE_ARENA_FIRST_CHUNK_BYTES,
  MEMTABLE_ARENA_LARGE_RECORD_BYTES,
} from '../src/core/limits.js';

/** Append-only byte chunks addressed by (chunk, offset). */
export class ByteArena {
  /** Every chunk, in allocation order; an address's chunk index points in here. */
  private readonly chunkBytes: Uint8Array[] = [];
  /** A DataView per chunk, for the fixed-width fields of records. */
  private readonly chunkViews: DataView[] = [];
  /** Index of the shared chunk new small records go to, or -1 before the first one. */
  private current = -1;
  /** Bytes used in the current shared chunk. */
  private currentUsed = 0;
  /** Size of the next shared chunk to allocate. */
  private nextChunkBytes = MEMTABLE_ARENA_FIRST_CHUNK_BYTES;
  /** Bytes handed out by `alloc` (records; unused chunk tails are not counted). */
  private used = 0;
  /** Bytes of every chunk allocated. */
  private capacity = 0;
  /** Chunk index of the last `alloc` (its offset is the return value): no tuple per allocation. */
  lastChunk = 0;

  /** Bytes handed out so far (grows only). */
  get usedBytes(): number {
    return this.used;
  }

  /** Bytes of all chunks (what the arena holds in memory). */
  get capacityBytes(): number {
    return this.capacity;
  }

  /** Chunks allocated. */
  get chunkCount(): number {
    return this.chunkBytes.length;
  }

  /** The bytes of chunk `chunk`. */
  bytes(chunk: number): Uint8Array {
    return this.chunkBytes[chunk]!;
  }

  /** A DataView over chunk `chunk` (little-endian fields by convention). */
  view(chunk: number): DataView {
    return this.chunkViews[chunk]!;
  }

  /**
   * Reserve `length` bytes; returns their offset in chunk `lastChunk`. A
   * zero-length record gets an offset in the current chunk and uses nothing.
   */
  alloc(length: number): number {
    assert(Number.isInteger(length) && length >= 0, 'an allocation has a non-negative integer length');
    if (length > MEMTABLE_ARENA_LARGE_RECORD_BYTES) {
      // Its own chunk: the shared chunk stays open for the small records that follow.
      this.lastChunk = this.addChunk(length);
      this.used += length;
      return 0;
    }
    if (this.current < 0 || this.currentUsed + length > this.chunkBytes[this.current]!.length) {
      const size = Math.max(this.nextChunkBytes, length);
      this.nextChunkBytes = Math.min(this.nextChunkBytes * 2, MEMTABLE_ARENA_CHUNK_MAX_BYTES);
      this.current = this.addChunk(size);
      this.currentUsed = 0;
    }
    const offset = this.currentUsed;
    this.currentUsed += length;
    this.used += length;
    this.lastChunk = this.current;
    return offset;
  }

  /** Copy `source` in; returns its offset in chunk `lastChunk`. */
  copyIn(source: Uint8Array): number {
    const offset = this.alloc(source.length);
    if (source.length > 0) this.chunkBytes[this.lastChunk]!.set(source, offset);
    return offset;
  }

  private addChunk(size: number): number {
    const bytes = new Uint8Array(size);
    this.chunkBytes.push(bytes);
    this.chunkViews.push(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    this.capacity += size;
    return this.chunkBytes.length - 1;
  }
}
