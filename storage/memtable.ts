/**
 * The memtable: the in-memory, sorted write buffer of the LSM engine (step 2
 * of the Cassandra write path), a map key → reconciled versions (dominated
 * versions dropped on insert, siblings kept, as Dynamo requires). It is an
 * arena: the same API and merge rules as the object skip list it replaced
 * (kept as its reference model in test/storage/memtable_model.ts), but
 * holding no JS object per entry. Keys, version lists,
 * values and skip-list links live in typed arrays addressed by integer
 * offsets, so the garbage collector marks a handful of objects per memtable
 * however many entries it holds (issue 14: GC was the largest single cost of
 * a write, and its marking grew with the memtable).
 *
 * Taken from Pebble's internal/arenaskl (itself from Badger's skl and
 * RocksDB's InlineSkipList): nodes are offsets into an arena, never objects;
 * offset 0 is the null link (the head node sits there and is nobody's
 * successor); a node's tower is truncated to its height; keys and values are
 * copied into the arena once, at insert, and read back as slices of it.
 * Avoided: the lock-free CAS insertion and prev links (one thread, forward
 * iteration only); the fixed-capacity arena that fails when full (a memtable
 * here is frozen by `memtableFlushBytes` after a write, and one value may be
 * VALUE_MAX_BYTES, so the arena grows by chunks: storage/arena.ts); MVCC
 * entries per sequence number (a put merges into the key's one version set,
 * as `Memtable` does, and stores the merged set as a new list record).
 *
 * Node layout (32-bit words in `nodes`, from the node's offset n):
 *
 *   n+0 .. n+3  key bytes 0..15, big-endian, zero-padded: four unsigned
 *               words compared in order decide most comparisons (as
 *               `keyPrefix`/`tailPrefix` do in Memtable); a tie falls back
 *               to the key bytes. Four, not three: keys such as
 *               `key:000000012345` share their first 12 bytes, and each
 *               skip-list step then went to the arena bytes
 *   n+4 n+5 n+6 key: chunk, offset, length in the byte arena
 *   n+7 n+8     version list (storage/arena_versions.ts): chunk, offset;
 *               replaced as a whole when a put changes the key's versions
 *   n+9 ..      next[0 .. height-1]: offsets of the following nodes (0: none)
 *
 * `nodes` doubles by copy when full (offsets stay valid; iterators re-read
 * the array after each step); byte chunks are never copied. Bytes replaced
 * by a merge stay in the arena as garbage and count in `approximateBytes`,
 * which therefore only grows, so the memtable is frozen by size as before.
 *
 * Returned objects: `get`, `scan` and `put` build fresh `Version`
 * objects (and key arrays) whose bytes are subarrays of the arena: no copy,
 * valid and unchanged while held (the arena is append-only), and holding one
 * keeps its chunk alive. They are equal to, but never identical with, the
 * objects given to `put`.
 *
 * Point lookups (`get`, and `put` of a key already held) go through a hash
 * index of the nodes (`memtable_index.ts`, typed arrays too) instead of a
 * skip-list search; only an insert of a new key searches, for its
 * predecessors.
 *
 * Thread contract: one thread only (the node's replica actor).
 */
import { assert } from '../src/core/assert.js';
import { InvalidRequestError } from '../src/core/errors.js';
import {
  CLOCK_MAX_BYTES,
  KEY_MAX_BYTES,
  MEMTABLE_ARENA_FIRST_NODE_WORDS,
  MEMTABLE_FLUSH_BYTES,
  MEMTABLE_SKIPLIST_LEVELS_MAX,
  SIBLINGS_MAX,
  VALUE_MAX_BYTES,
} from '../src/core/limits.js';
import { Prng } from '../src/core/prng.js';
import type { VersionOrder } from '../src/core/version_order.js';
import { ByteArena } from './arena.js';
import { ArenaVersionLists } from './arena_versions.js';
import { compareKeyRanges } from './key_order.js';
import { keyHash, MemtableIndex } from './memtable_index.js';
import { reconcile, type DotConflictHandler, type Version } from './version.js';

const W0 = 0;
const W1 = 1;
const W2 = 2;
const W3 = 3;
const KEY_CHUNK = 4;
const KEY_OFFSET = 5;
const KEY_LENGTH = 6;
const LIST_CHUNK = 7;
const LIST_OFFSET = 8;
const NEXT = 9;
/** Bytes of a key folded into the four leading words. */
const WORD_KEY_BYTES = 16;
/** The head node: at offset 0, full height, never compared. */
const HEAD = 0;
const HEAD_WORDS = NEXT + MEMTABLE_SKIPLIST_LEVELS_MAX;
/** Same default seed as the object model, so both build the same list shape from the same puts. */
const LEVEL_SEED_DEFAULT = 0x6d656d74; // "memt"

/** Key bytes `from .. from+3` as an unsigned big-endian word, zero-padded past the key's end. */
function keyWord(key: Uint8Array, from: number): number {
  let word = 0;
  for (let i = from; i < from + 4; i++) word = word * 256 + (i < key.length ? key[i]! : 0);
  return word;
}

/** One key and its reconciled versions, as `scan` yields them. */
export interface MemtableEntry {
  key: Uint8Array;
  versions: readonly Version[];
}

/** A sorted arena map key → reconciled versions. */
export class Memtable {
  /** Keys, version lists and values. */
  private readonly arena = new ByteArena();
  private readonly lists = new ArenaVersionLists(this.arena);
  /** Skip-list nodes (layout above); replaced by a larger copy when full. */
  private nodes = new Uint32Array(Math.max(MEMTABLE_ARENA_FIRST_NODE_WORDS, HEAD_WORDS));
  /** Words of `nodes` in use (the head node's included). */
  private nodeWords = HEAD_WORDS;
  /** Levels currently in use (1..MEMTABLE_SKIPLIST_LEVELS_MAX). */
  private levels = 1;
  /** Point lookups without a skip-list search (`memtable_index.ts`). */
  private readonly index = new MemtableIndex((node, key) => this.holdsKey(node, key));
  /** Scratch per-level predecessors (node offsets), reused by every insert. */
  private readonly preds = new Uint32Array(MEMTABLE_SKIPLIST_LEVELS_MAX);
  private readonly prng: Prng;
  private frozen = false;
  private entries = 0;

  constructor(
    /** How two versions' clocks relate; decides which versions survive an insert. */
    private readonly order: VersionOrder,
    levelSeed = LEVEL_SEED_DEFAULT,
  ) {
    this.prng = new Prng(levelSeed);
  }

  /** Distinct keys held. */
  get entryCount(): number {
    return this.entries;
  }

  /**
   * Bytes written into the arena: keys, values, version lists (replaced ones
   * included, as garbage) and nodes past the head. Only grows; 0 when empty.
   */
  get approximateBytes(): number {
    return this.arena.usedBytes + (this.nodeWords - HEAD_WORDS) * 4;
  }

  /** Bytes of memory the arena holds (chunks and the node array), for measurement. */
  get arenaCapacityBytes(): number {
    return this.arena.capacityBytes + this.nodes.byteLength + this.index.capacityBytes;
  }

  /** True once `freeze()` was called: no more writes. */
  get isFrozen(): boolean {
    return this.frozen;
  }

  /** True when the memtable should be frozen and flushed. */
  isFull(limitBytes = MEMTABLE_FLUSH_BYTES): boolean {
    return this.approximateBytes >= limitBytes;
  }

  /** Make the memtable immutable; later `put`s are programmer errors. */
  freeze(): void {
    this.frozen = true;
  }

  /**
   * Merge `versions` into the key's stored versions (`reconcile` over the stored versions followed by the
   * new ones): dominated versions are dropped, concurrent ones kept, equal
   * clocks collapse to the one already stored unless the new copy is a
   * purgeable tombstone. Returns the key's versions afterwards. Throws
   * `InvalidRequestError` (storing nothing) when the key would exceed
   * `SIBLINGS_MAX` siblings, unless `enforceSiblingLimit` is false (commit-log
   * replay). Versions in conflict (one dot, two values) are both kept and
   * given to `options.onConflict` (the stored one as read from the arena).
   */
  put(
    key: Uint8Array,
    versions: readonly Version[],
    options: { enforceSiblingLimit?: boolean; onConflict?: DotConflictHandler } = {},
  ): readonly Version[] {
    const enforce = options.enforceSiblingLimit ?? true;
    assert(!this.frozen, 'a frozen memtable takes no writes');
    assert(key.length <= KEY_MAX_BYTES, 'key within KEY_MAX_BYTES');
    assert(versions.length > 0, 'a put carries at least one version');
    for (const v of versions) {
      assert(v.clock.length <= CLOCK_MAX_BYTES, 'clock within CLOCK_MAX_BYTES');
      assert(v.value === null || v.value.length <= VALUE_MAX_BYTES, 'value within VALUE_MAX_BYTES');
    }
    const hash = keyHash(key);
    const found = this.index.find(key, hash);
    if (found !== 0) {
      const listChunk = this.nodes[found + LIST_CHUNK]!;
      const listOffset = this.nodes[found + LIST_OFFSET]!;
      const stored = this.lists.read(listChunk, listOffset);
      const merged = reconcile(this.order, [...stored, ...versions], options.onConflict);
      if (enforce) checkSiblings(key, merged);
      // Every new version dropped (stale, or a copy already held): the stored list stands as is.
      if (sameObjects(merged, stored)) return merged;
      const offset = this.lists.write(merged, stored, listChunk, listOffset);
      this.nodes[found + LIST_CHUNK] = this.lists.lastChunk;
      this.nodes[found + LIST_OFFSET] = offset;
      return merged;
    }
    const merged = versions.length === 1 ? versions : reconcile(this.order, versions, options.onConflict);
    if (enforce) checkSiblings(key, merged);
    const listed = this.findWithPreds(key); // leaves the predecessors for the insert
    assert(listed === 0, 'a key the index lacks is not in the skip list');
    this.index.insert(hash, this.insertAfterPreds(key, merged));
    return merged;
  }

  /** The key's versions, or undefined when the memtable does not hold it. */
  get(key: Uint8Array): readonly Version[] | undefined {
    const node = this.index.find(key, keyHash(key));
    if (node === 0) return undefined;
    return this.lists.read(this.nodes[node + LIST_CHUNK]!, this.nodes[node + LIST_OFFSET]!);
  }

  /** True when node `node` holds exactly `key`. */
  private holdsKey(node: number, key: Uint8Array): boolean {
    const nodes = this.nodes;
    const length = nodes[node + KEY_LENGTH]!;
    return length === key.length && compareKeyRanges(this.arena.bytes(nodes[node + KEY_CHUNK]!), nodes[node + KEY_OFFSET]!, length, key, 0, length) === 0;
  }

  /**
   * Entries in key order from `fromKey` (inclusive, default: the first key)
   * to `toKey` (exclusive, default: the end). Safe while puts continue: an
   * entry inserted ahead of the cursor is seen, one behind it is not.
   */
  *scan(fromKey?: Uint8Array, toKey?: Uint8Array): IterableIterator<MemtableEntry> {
    let node = fromKey === undefined ? this.nodes[HEAD + NEXT]! : this.seek(fromKey);
    while (node !== 0) {
      // Re-read `this.nodes` at every step: a put between steps may have replaced it by a larger copy.
      const nodes = this.nodes;
      const keyBytes = this.arena.bytes(nodes[node + KEY_CHUNK]!);
      const keyOffset = nodes[node + KEY_OFFSET]!;
      const keyLength = nodes[node + KEY_LENGTH]!;
      if (toKey !== undefined && compareKeyRanges(keyBytes, keyOffset, keyLength, toKey, 0, toKey.length) >= 0) return;
      const versions = this.lists.read(nodes[node + LIST_CHUNK]!, nodes[node + LIST_OFFSET]!);
      yield { key: keyBytes.subarray(keyOffset, keyOffset + keyLength), versions };
      node = this.nodes[node + NEXT]!;
    }
  }

  /** `compareKeys(key of node, key)`, deciding on the leading words when they differ. */
  private compareNode(node: number, key: Uint8Array, w0: number, w1: number, w2: number, w3: number): number {
    const nodes = this.nodes;
    let word = nodes[node + W0]!;
    if (word !== w0) return word < w0 ? -1 : 1;
    word = nodes[node + W1]!;
    if (word !== w1) return word < w1 ? -1 : 1;
    word = nodes[node + W2]!;
    if (word !== w2) return word < w2 ? -1 : 1;
    word = nodes[node + W3]!;
    if (word !== w3) return word < w3 ? -1 : 1;
    // Equal words: the first min(16, both lengths) bytes are equal, so compare from there.
    const length = nodes[node + KEY_LENGTH]!;
    let same = length < key.length ? length : key.length;
    if (same > WORD_KEY_BYTES) same = WORD_KEY_BYTES;
    const offset = nodes[node + KEY_OFFSET]! + same;
    return compareKeyRanges(this.arena.bytes(nodes[node + KEY_CHUNK]!), offset, length - same, key, same, key.length - same);
  }

  /** First node whose key is ≥ `key`, or 0. */
  private seek(key: Uint8Array): number {
    const w0 = keyWord(key, 0);
    const w1 = keyWord(key, 4);
    const w2 = keyWord(key, 8);
    const w3 = keyWord(key, 12);
    const nodes = this.nodes;
    let node = HEAD;
    for (let level = this.levels - 1; level >= 0; level--) {
      let next = nodes[node + NEXT + level]!;
      while (next !== 0 && this.compareNode(next, key, w0, w1, w2, w3) < 0) {
        node = next;
        next = nodes[node + NEXT + level]!;
      }
    }
    return nodes[node + NEXT]!;
  }

  /** Find `key`; on a miss, leave its predecessor on every level in `preds`. Returns the node or 0. */
  private findWithPreds(key: Uint8Array): number {
    const w0 = keyWord(key, 0);
    const w1 = keyWord(key, 4);
    const w2 = keyWord(key, 8);
    const w3 = keyWord(key, 12);
    const nodes = this.nodes;
    let node = HEAD;
    for (let level = this.levels - 1; level >= 0; level--) {
      let next = nodes[node + NEXT + level]!;
      let c = 1;
      while (next !== 0 && (c = this.compareNode(next, key, w0, w1, w2, w3)) < 0) {
        node = next;
        next = nodes[node + NEXT + level]!;
      }
      if (next !== 0 && c === 0) return next;
      this.preds[level] = node;
    }
    return 0;
  }

  /** Link a new node for `key` after the predecessors `findWithPreds` left; returns the node. */
  private insertAfterPreds(key: Uint8Array, versions: readonly Version[]): number {
    const height = this.randomHeight();
    if (height > this.levels) {
      for (let level = this.levels; level < height; level++) this.preds[level] = HEAD;
      this.levels = height;
    }
    // Bytes first: a failure leaves garbage in the arena, never a half-linked node.
    const keyOffset = this.arena.copyIn(key);
    const keyChunk = this.arena.lastChunk;
    const listOffset = this.lists.write(versions);
    const node = this.allocNode(NEXT + height);
    const nodes = this.nodes;
    nodes[node + W0] = keyWord(key, 0);
    nodes[node + W1] = keyWord(key, 4);
    nodes[node + W2] = keyWord(key, 8);
    nodes[node + W3] = keyWord(key, 12);
    nodes[node + KEY_CHUNK] = keyChunk;
    nodes[node + KEY_OFFSET] = keyOffset;
    nodes[node + KEY_LENGTH] = key.length;
    nodes[node + LIST_CHUNK] = this.lists.lastChunk;
    nodes[node + LIST_OFFSET] = listOffset;
    for (let level = 0; level < height; level++) {
      const pred = this.preds[level]!;
      nodes[node + NEXT + level] = nodes[pred + NEXT + level]!;
      nodes[pred + NEXT + level] = node;
    }
    this.entries += 1;
    return node;
  }

  /** Reserve `words` words of `nodes` (doubling it by copy when full); returns their offset. */
  private allocNode(words: number): number {
    if (this.nodeWords + words > this.nodes.length) {
      const grown = new Uint32Array(Math.max(this.nodes.length * 2, this.nodeWords + words));
      grown.set(this.nodes.subarray(0, this.nodeWords));
      this.nodes = grown;
    }
    const node = this.nodeWords;
    this.nodeWords += words;
    return node;
  }

  /** Height 1 with probability 3/4, 2 with 3/16, ...: branching factor 1/4 (as Memtable). */
  private randomHeight(): number {
    let bits = this.prng.nextU32();
    let height = 1;
    while ((bits & 3) === 0 && height < MEMTABLE_SKIPLIST_LEVELS_MAX) {
      height += 1;
      bits >>>= 2;
    }
    return height;
  }
}

/** True when `a` and `b` hold the same objects in the same order. */
function sameObjects(a: readonly Version[], b: readonly Version[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Refuse a key that would hold more than SIBLINGS_MAX concurrent versions, saying how to resolve them. */
export function checkSiblings(key: Uint8Array, versions: readonly Version[]): void {
  if (versions.length > SIBLINGS_MAX) {
    throw new InvalidRequestError(
      `key of ${key.length} bytes would hold ${versions.length} concurrent versions, over SIBLINGS_MAX (${SIBLINGS_MAX}); ` +
        'read the key and write back with its causal context to resolve the siblings',
    );
  }
}
