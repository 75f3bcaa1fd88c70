/**
 * The engine's memtable before issue 14, kept as the reference model of
 * storage/memtable.ts (the arena memtable): the same puts must give the same
 * answers (test/storage/arena_memtable.test.ts), and
 * bench/storage/memtable_heap.ts measures the heap both keep. Every key,
 * version and skip-list node here is a JS object, which is what made GC
 * marking grow with the memtable.
 *
 * The model: the in-memory, sorted write buffer of the LSM engine (step 2
 * of the Cassandra write path). It maps each key to its reconciled set of
 * versions: a dominated version is dropped on insert, concurrent versions
 * (siblings) are kept, as Dynamo (2007, section 4.4) requires.
 *
 * Structure: a skip list (Pugh 1990) with branching factor 1/4, so inserts and
 * lookups are O(log n) and ordered iteration from any key is a walk of the
 * bottom level. Its levels come from a seeded PRNG, so a run replays exactly.
 * Iteration stays valid while inserts happen: nodes are never removed and a
 * key's version array is replaced, never mutated in place.
 *
 * Life cycle: mutable until `freeze()`; the engine then starts a new memtable
 * (past `MEMTABLE_FLUSH_BYTES`) and flushes the frozen one to an SSTable.
 *
 * Thread contract: one thread only (the node's replica actor).
 * Ownership: the memtable keeps references to the key and version bytes it is
 * given; callers must not mutate them afterwards.
 */
import { assert } from '../../src/core/assert.js';
import {
  CLOCK_MAX_BYTES,
  KEY_MAX_BYTES,
  MEMTABLE_FLUSH_BYTES,
  MEMTABLE_SKIPLIST_LEVELS_MAX,
  VALUE_MAX_BYTES,
} from '../../src/core/limits.js';
import { Prng } from '../../src/core/prng.js';
import type { VersionOrder } from '../../src/core/version_order.js';
import { compareKeys, keyPrefix } from '../../storage/key_order.js';
import { checkSiblings, type MemtableEntry } from '../../storage/memtable.js';
import { reconcile, type DotConflictHandler, type Version } from '../../storage/version.js';

/** One key and its reconciled versions, as iteration yields them. */

/** Estimated heap cost of one skip-list node beyond its key bytes (object, arrays). */
const NODE_OVERHEAD_BYTES = 96;
/** Estimated heap cost of one version beyond its clock and value bytes. */
const VERSION_OVERHEAD_BYTES = 64;
/** Default PRNG seed for skip-list levels; the shape of the list never changes results. */
const LEVEL_SEED_DEFAULT = 0x6d656d74; // "memt"
/** `tailPrefix` folds key bytes TAIL_FROM .. TAIL_FROM + TAIL_BYTES - 1 (right after `keyPrefix`'s 6). */
const TAIL_FROM = 6;
/** 6 bytes keep the number an exact double, as in `keyPrefix`. */
const TAIL_BYTES = 6;

/** Estimated heap cost of `versions` (used for flush accounting). */
export function versionsBytes(versions: readonly Version[]): number {
  let bytes = 0;
  for (const v of versions) bytes += VERSION_OVERHEAD_BYTES + v.clock.length + (v.value === null ? 0 : v.value.length);
  return bytes;
}

/** Estimated heap cost of one memtable entry; `approximateBytes` is the sum over entries. */
export function memtableEntryBytes(key: Uint8Array, versions: readonly Version[]): number {
  return NODE_OVERHEAD_BYTES + key.length + versionsBytes(versions);
}

class SkipNode {
  /** `keyPrefix(key)`: most comparisons end here without touching the key bytes. */
  readonly prefix: number;
  /** `tailPrefix(key)`: decides most comparisons of keys sharing their first 6 bytes (`user:0…`). */
  readonly tail: number;

  constructor(
    /** The key; the head node holds an empty key that is never compared. */
    readonly key: Uint8Array,
    /** Reconciled versions; replaced as a whole on update. */
    public versions: readonly Version[],
    /** `next[i]` is the following node on level i. */
    readonly next: (SkipNode | null)[],
  ) {
    this.prefix = keyPrefix(key);
    this.tail = tailPrefix(key);
  }
}

/**
 * Bytes 6..11 of `key` as a big-endian number, zero-padded like `keyPrefix`.
 * (keyPrefix, tailPrefix) is the key's first 12 bytes zero-padded, so
 * comparing the pair lexicographically is monotone in key order for the same
 * reason `keyPrefix` alone is: a strict difference decides, a tie falls back
 * to `compareKeys`.
 */
function tailPrefix(key: Uint8Array): number {
  let tail = 0;
  for (let i = TAIL_FROM; i < TAIL_FROM + TAIL_BYTES; i++) tail = tail * 256 + (i < key.length ? key[i]! : 0);
  return tail;
}

/** `compareKeys(node.key, key)`, deciding on the 12-byte prefix pair when it differs. */
function compareNode(node: SkipNode, key: Uint8Array, prefix: number, tail: number): number {
  if (node.prefix !== prefix) return node.prefix < prefix ? -1 : 1;
  if (node.tail !== tail) return node.tail < tail ? -1 : 1;
  return compareKeys(node.key, key);
}

/** A sorted in-memory map key → reconciled versions. */
export class ModelMemtable {
  /** Sentinel in front of every level. */
  private readonly head = new SkipNode(new Uint8Array(0), [], new Array<SkipNode | null>(MEMTABLE_SKIPLIST_LEVELS_MAX).fill(null));
  /** Levels currently in use (1..MEMTABLE_SKIPLIST_LEVELS_MAX). */
  private levels = 1;
  /** Scratch array of per-level predecessors, reused by every insert. */
  private readonly preds = new Array<SkipNode>(MEMTABLE_SKIPLIST_LEVELS_MAX);
  private readonly prng: Prng;
  private frozen = false;
  private entries = 0;
  private bytes = 0;

  constructor(
    /** How two versions' clocks relate; decides which versions survive an insert. */
    private readonly order: VersionOrder,
    levelSeed = LEVEL_SEED_DEFAULT,
  ) {
    this.prng = new Prng(levelSeed);
    this.preds.fill(this.head);
  }

  /** Distinct keys held. */
  get entryCount(): number {
    return this.entries;
  }

  /** Estimated heap bytes held (keys, clocks, values and per-entry overhead). */
  get approximateBytes(): number {
    return this.bytes;
  }

  /** True once `freeze()` was called: no more writes. */
  get isFrozen(): boolean {
    return this.frozen;
  }

  /** True when the memtable should be frozen and flushed. */
  isFull(limitBytes = MEMTABLE_FLUSH_BYTES): boolean {
    return this.bytes >= limitBytes;
  }

  /** Make the memtable immutable; later `put`s are programmer errors. */
  freeze(): void {
    this.frozen = true;
  }

  /**
   * Merge `versions` into the key's stored versions: dominated versions are
   * dropped, concurrent ones kept, equal clocks collapse to the one already
   * stored unless the new copy is a purgeable tombstone (`reconcile`). Returns the key's versions afterwards. Throws
   * `InvalidRequestError` (storing nothing) when the key would exceed
   * `SIBLINGS_MAX` siblings, unless `enforceSiblingLimit` is false (commit-log
   * replay restores what was already accepted). Versions in conflict (one
   * dot, two values) are both kept and given to `options.onConflict`.
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
    const found = this.findWithPreds(key);
    if (found !== null) {
      const merged = reconcile(this.order, [...found.versions, ...versions], options.onConflict);
      if (enforce) checkSiblings(key, merged);
      this.bytes += versionsBytes(merged) - versionsBytes(found.versions);
      found.versions = merged;
      return merged;
    }
    const merged = versions.length === 1 ? [versions[0]!] : reconcile(this.order, versions, options.onConflict);
    if (enforce) checkSiblings(key, merged);
    this.insertAfterPreds(key, merged);
    return merged;
  }

  /** The key's versions, or undefined when the memtable does not hold it. */
  get(key: Uint8Array): readonly Version[] | undefined {
    const next = this.seek(key);
    return next !== null && compareKeys(next.key, key) === 0 ? next.versions : undefined;
  }

  /**
   * Entries in key order from `fromKey` (inclusive, default: the first key)
   * to `toKey` (exclusive, default: the end). Safe while puts continue: an
   * entry inserted ahead of the cursor is seen, one behind it is not.
   */
  *scan(fromKey?: Uint8Array, toKey?: Uint8Array): IterableIterator<MemtableEntry> {
    let node = fromKey === undefined ? this.head.next[0]! : this.seek(fromKey);
    while (node !== null) {
      if (toKey !== undefined && compareKeys(node.key, toKey) >= 0) return;
      yield { key: node.key, versions: node.versions };
      node = node.next[0]!;
    }
  }

  /** First node whose key is ≥ `key`, or null. */
  private seek(key: Uint8Array): SkipNode | null {
    const prefix = keyPrefix(key);
    const tail = tailPrefix(key);
    let node = this.head;
    for (let level = this.levels - 1; level >= 0; level--) {
      let next = node.next[level]!;
      while (next !== null && compareNode(next, key, prefix, tail) < 0) {
        node = next;
        next = node.next[level]!;
      }
    }
    return node.next[0]!;
  }

  /** Find `key`; on a miss, leave its predecessor on every level in `preds`. */
  private findWithPreds(key: Uint8Array): SkipNode | null {
    const prefix = keyPrefix(key);
    const tail = tailPrefix(key);
    let node = this.head;
    for (let level = this.levels - 1; level >= 0; level--) {
      let next = node.next[level]!;
      let c = 1;
      while (next !== null && (c = compareNode(next, key, prefix, tail)) < 0) {
        node = next;
        next = node.next[level]!;
      }
      if (next !== null && c === 0) return next;
      this.preds[level] = node;
    }
    return null;
  }

  private insertAfterPreds(key: Uint8Array, versions: readonly Version[]): void {
    const height = this.randomHeight();
    if (height > this.levels) {
      for (let level = this.levels; level < height; level++) this.preds[level] = this.head;
      this.levels = height;
    }
    const node = new SkipNode(key, versions, new Array<SkipNode | null>(height));
    for (let level = 0; level < height; level++) {
      const pred = this.preds[level]!;
      node.next[level] = pred.next[level]!;
      pred.next[level] = node;
    }
    this.entries += 1;
    this.bytes += memtableEntryBytes(key, versions);
  }

  /** Height 1 with probability 3/4, 2 with 3/16, ...: branching factor 1/4. */
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

