/**
 * The hash tree of one key range, for active anti-entropy (issue 15): a
 * Tictac-style Merkle tree that one write updates in O(depth) and two
 * replicas compare top-down to find the keys where they differ.
 *
 * Keys are hashed (xxh32) into 2^leafBits segments; a segment is a leaf.
 * A leaf's label is the XOR of one 64-bit hash per (key, sibling digest)
 * pair in its segment, so a write changes a leaf by
 * hash(key, old) XOR hash(key, new), without rereading the segment. A
 * parent's label is the XOR of its children's: the same delta is XORed into
 * every ancestor, with no hashing above the leaves. XOR rather than a hash
 * over the children because (1) an update costs O(depth) XORs instead of
 * O(depth x fanout) reads and a hash per level, (2) any level can be
 * computed from any level below it, so the tree stores only every
 * AE_LEVEL_BITS-th level and derives the rest, and (3) two trees of
 * different leaf bits still agree at their common depths (segments are the
 * top bits of one key hash), which lets a resized tree be compared with an
 * old one. What XOR gives up is resistance to crafted collisions (a Tictac
 * tree is for trusted peers only) and the chance that two differences in a
 * subtree cancel, which 64-bit labels make 2^-64 per subtree: 32-bit labels
 * (Riak's) would hide a divergent key, permanently until it is written
 * again, with probability 2^-32, about once per four billion repairs.
 *
 * From Riak (kv_index_tictactree docs/TICTAC.md; basho/riak_kv issues 1765,
 * 1771, 1805, PRs 1743, 1770, 1806): we take the XOR-of-(key, clock)
 * segment hash and its delta update on every write, knowing the old digest
 * from the read every replica write already does, and the exchange that
 * descends from root to segments and then trades (key, digest) pairs only for
 * differing segments. We avoid: a fixed 1M-segment tree whatever the range
 * holds (leaf bits here follow the key count, `leafBitsFor`); 4-byte labels
 * (above); a fixed cap of 128-256 segments per exchange that made Tictac
 * repair slow on large backlogs (issue 1805; here every differing segment
 * is exchanged, in bounded pages, and a cost estimate switches to a full
 * sync of the range when descending would cost more); repeating each
 * comparison to filter out writes in flight (a transient difference here
 * only costs one fetch whose merge is a no-op); and rebuilds that stall
 * the store or all start at once after a restart (issue 1765): a rebuild
 * here is a pure fold into a fresh tree that the caller swaps in, and the
 * caller schedules it. Riak's other lesson, that finding a segment's keys
 * (fetch_clocks) costs a scan of the key store, is for the wiring: storage
 * should be able to list a segment's keys without reading the whole range.
 *
 * Memory layout: one Uint32Array of labels, two words (lo, hi) per node,
 * root first, then the levels stored at depths counted up from the leaves
 * by L = AE_LEVEL_BITS (k = leafBits; the root's step may be shorter, e.g.
 * depths 0, 5, 11, 17 for k = 17):
 *
 *   +------+-----+--------------------+--------------------+-----------------+
 *   | root | ... | 2^(k-2L) nodes     | 2^(k-L) nodes      | 2^k leaves      |
 *   +------+-----+--------------------+--------------------+-----------------+
 *   node i at depth D covers segments [i << (k - D), (i + 1) << (k - D))
 *
 * Bytes: 8 x (1 + ... + 2^(k-L) + 2^k), at most 8.13 x 2^k with L = 6;
 * nothing per key. `leafBitsFor` picks about one segment per key, so a
 * range of one million keys costs 2^20 segments, 8.1 MiB (8.5 bytes per
 * key), and 100k keys 2^17 segments, 1.0 MiB.
 *
 * Thread contract: a tree belongs to one actor; not safe to share. Pure: no
 * I/O, no clock.
 */
import { assert } from './assert.js';
import { hash32 } from './hash.js';
import { AE_LEAF_BITS_MAX, AE_LEAF_BITS_MIN, AE_LEVEL_BITS, KEY_MAX_BYTES } from './limits.js';
import { isSiblingDigest, type SiblingDigest } from './sibling_digest.js';

/** A node's 64-bit label as two u32 words. */
export type Label = readonly [lo: number, hi: number];

/** A key and the digest of its sibling set: what a replica's tree covers for that key. */
export interface KeyDigest {
  key: Uint8Array;
  digest: SiblingDigest;
}

/** The hash tree of one key range. */
export class MerkleTree {
  /** Depths that are stored, ascending: 0, then up to leafBits in steps of AE_LEVEL_BITS (`storedDepths`). */
  readonly depths: readonly number[];
  /** Word offset of each stored depth's first node in `words`, parallel to `depths`. */
  private readonly offsets: readonly number[];
  /** Every stored label, two words per node (layout in the header). */
  private readonly words: Uint32Array;
  /** Keys the tree covers: +1 on an update from null, -1 on an update to null. */
  private keyCount = 0;
  /** Total bytes of the keys the tree covers (the exchange's cost estimate uses it). */
  private keyByteCount = 0;

  /** An empty tree (no keys) of 2^leafBits segments. */
  constructor(readonly leafBits: number) {
    assert(Number.isInteger(leafBits) && leafBits >= AE_LEAF_BITS_MIN && leafBits <= AE_LEAF_BITS_MAX, `leaf bits in [AE_LEAF_BITS_MIN, AE_LEAF_BITS_MAX], got ${leafBits}`);
    this.depths = storedDepths(leafBits);
    const offsets: number[] = [];
    let words = 0;
    for (const d of this.depths) {
      offsets.push(words);
      words += 2 * 2 ** d;
    }
    this.offsets = offsets;
    this.words = new Uint32Array(words);
  }

  /** Leaf bits for a range expected to hold `keys` keys: about one key per segment, within the limits. */
  static leafBitsFor(keys: number): number {
    assert(Number.isFinite(keys) && keys >= 0, 'a key count is a non-negative number');
    const bits = Math.ceil(Math.log2(Math.max(keys, 1)));
    return Math.min(AE_LEAF_BITS_MAX, Math.max(AE_LEAF_BITS_MIN, bits));
  }

  /** Bytes of labels a tree of `leafBits` holds (its whole size but a few fields). */
  static bytesFor(leafBits: number): number {
    let nodes = 0;
    for (const d of storedDepths(leafBits)) nodes += 2 ** d;
    return nodes * LABEL_BYTES;
  }

  /** A tree built from every (key, digest) of a range, each key once (a rebuild from storage). */
  static rebuild(leafBits: number, entries: Iterable<KeyDigest>): MerkleTree {
    const tree = new MerkleTree(leafBits);
    const leaves = tree.offsets[tree.offsets.length - 1]!;
    for (const { key, digest } of entries) {
      const lo = tree.contribution(key, digest);
      const at = leaves + 2 * tree.segmentOf(key);
      tree.words[at]! ^= lo;
      tree.words[at + 1]! ^= tree.contributionHi;
      tree.keyCount++;
      tree.keyByteCount += key.length;
    }
    // Fold each stored level from the one below it: O(segments), not O(keys x depth).
    for (let level = tree.depths.length - 2; level >= 0; level--) tree.foldLevel(level);
    return tree;
  }

  /** Keys the tree covers. */
  get keys(): number {
    return this.keyCount;
  }

  /** Total bytes of the keys the tree covers. */
  get keyBytes(): number {
    return this.keyByteCount;
  }

  /** Bytes of labels this tree holds. */
  get memoryBytes(): number {
    return this.words.byteLength;
  }

  /** The segment (leaf) `key` falls in: the top leafBits bits of its hash. */
  segmentOf(key: Uint8Array): number {
    return hash32(key, SEGMENT_SEED) >>> (32 - this.leafBits);
  }

  /**
   * Record that `key`'s sibling digest changed from `oldDigest` to
   * `newDigest` (null: the key was absent / is now absent, e.g. purged).
   * `oldDigest` must be what the tree last recorded for `key`; a wrong one
   * leaves a stray contribution that only a rebuild removes. Updates and
   * `add` commute (XOR), so a rebuild may apply them in any order. O(depth).
   */
  update(key: Uint8Array, oldDigest: SiblingDigest | null, newDigest: SiblingDigest | null): void {
    assert(key.length <= KEY_MAX_BYTES, 'a key is at most KEY_MAX_BYTES long');
    if (oldDigest === newDigest) return;
    let lo = 0;
    let hi = 0;
    if (oldDigest !== null) {
      lo ^= this.contribution(key, oldDigest);
      hi ^= this.contributionHi;
    } else {
      this.keyCount++;
      this.keyByteCount += key.length;
    }
    if (newDigest !== null) {
      lo ^= this.contribution(key, newDigest);
      hi ^= this.contributionHi;
    } else {
      // Not asserted positive: a rebuild may fold a key's change in before the scan page that adds the key.
      this.keyCount--;
      this.keyByteCount -= key.length;
    }
    const segment = this.segmentOf(key);
    for (let level = 0; level < this.depths.length; level++) {
      const at = this.offsets[level]! + 2 * (segment >>> (this.leafBits - this.depths[level]!));
      this.words[at]! ^= lo;
      this.words[at + 1]! ^= hi;
    }
  }

  /** The root label: equal roots mean equal (key, digest) sets, up to a 2^-64 chance. */
  root(): Label {
    return [this.words[0]!, this.words[1]!];
  }

  /** The label of node `node` at `depth` (any depth in [0, leafBits]). */
  label(depth: number, node: number): Label {
    const out = this.labels(depth, node, 1);
    return [out[0]!, out[1]!];
  }

  /** Labels of every node at `depth`, two words each, in node order. */
  levelLabels(depth: number): Uint32Array {
    return this.labels(depth, 0, 2 ** depth);
  }

  /**
   * For each node of `parents` (at `parentDepth`), the labels of its
   * descendants at `childDepth`, two words each: 2^(childDepth - parentDepth)
   * labels per parent, parents in the given order.
   */
  subtreeLabels(parentDepth: number, parents: readonly number[], childDepth: number): Uint32Array {
    assert(childDepth >= parentDepth && childDepth <= this.leafBits, 'child depth between the parent depth and the leaves');
    const per = 2 ** (childDepth - parentDepth);
    const out = new Uint32Array(2 * per * parents.length);
    for (let i = 0; i < parents.length; i++) {
      const parent = parents[i]!;
      assert(Number.isInteger(parent) && parent >= 0 && parent < 2 ** parentDepth, 'a parent is a node at its depth');
      out.set(this.labels(childDepth, parent * per, per), 2 * per * i);
    }
    return out;
  }

  /**
   * Check that every stored parent is the XOR of its children (the tree's
   * invariant). O(size): for tests and after a rebuild, not per write.
   */
  checkInvariants(): void {
    for (let level = 0; level + 1 < this.depths.length; level++) {
      const shift = this.depths[level + 1]! - this.depths[level]!;
      const below = this.offsets[level + 1]!;
      const at = this.offsets[level]!;
      for (let node = 0; node < 2 ** this.depths[level]!; node++) {
        let lo = 0;
        let hi = 0;
        for (let c = node << shift; c < (node + 1) << shift; c++) {
          lo ^= this.words[below + 2 * c]!;
          hi ^= this.words[below + 2 * c + 1]!;
        }
        assert(this.words[at + 2 * node] === lo >>> 0 && this.words[at + 2 * node + 1] === hi >>> 0, `node ${node} at depth ${this.depths[level]} is the XOR of its children`);
      }
    }
  }

  /** `count` labels at `depth` from node `first`, read from the shallowest stored level at or below it. */
  private labels(depth: number, first: number, count: number): Uint32Array {
    assert(Number.isInteger(depth) && depth >= 0 && depth <= this.leafBits, 'a depth is in [0, leafBits]');
    assert(first >= 0 && first + count <= 2 ** depth, 'nodes exist at their depth');
    const level = this.depths.findIndex((d) => d >= depth);
    const stored = this.depths[level]!;
    const offset = this.offsets[level]!;
    if (stored === depth) return this.words.slice(offset + 2 * first, offset + 2 * (first + count));
    const shift = stored - depth;
    const out = new Uint32Array(2 * count);
    for (let i = 0; i < count; i++) {
      let lo = 0;
      let hi = 0;
      const from = (first + i) << shift;
      for (let c = from; c < from + (1 << shift); c++) {
        lo ^= this.words[offset + 2 * c]!;
        hi ^= this.words[offset + 2 * c + 1]!;
      }
      out[2 * i] = lo;
      out[2 * i + 1] = hi;
    }
    return out;
  }

  /** Recompute stored level `level` from stored level `level + 1`. */
  private foldLevel(level: number): void {
    const shift = this.depths[level + 1]! - this.depths[level]!;
    const below = this.offsets[level + 1]!;
    const at = this.offsets[level]!;
    const nodes = 2 ** this.depths[level]!;
    for (let node = 0; node < nodes; node++) {
      let lo = 0;
      let hi = 0;
      for (let c = node << shift; c < (node + 1) << shift; c++) {
        lo ^= this.words[below + 2 * c]!;
        hi ^= this.words[below + 2 * c + 1]!;
      }
      this.words[at + 2 * node] = lo;
      this.words[at + 2 * node + 1] = hi;
    }
  }

  /** High word of the last `contribution` (kept in a field so the write path allocates nothing). */
  private contributionHi = 0;

  /**
   * The 64-bit hash of (key, digest) that the pair contributes to its leaf;
   * returns the low word, leaves the high word in `contributionHi`. Each
   * word is xxh32 of the key seeded by a mix of the whole digest, so the
   * hash is not linear in the digest: two keys that swapped digests between
   * replicas do not cancel out.
   */
  private contribution(key: Uint8Array, digest: SiblingDigest): number {
    assert(isSiblingDigest(digest), 'a sibling digest is an integer in [0, 2^53)');
    const lo = digest >>> 0;
    const hi = Math.floor(digest / 2 ** 32);
    this.contributionHi = hash32(key, mixSeed(lo, hi, CONTRIBUTION_SEED_HI));
    return hash32(key, mixSeed(lo, hi, CONTRIBUTION_SEED_LO));
  }
}

/** Bytes of one label (two u32 words). */
export const LABEL_BYTES = 8;

/**
 * The stored depths of a tree of `leafBits`: 0, then every AE_LEVEL_BITS-th
 * depth counted up from the leaves. Any short step is the root's (at most
 * 2^L nodes), not the leaves' parents': a short step just above the leaves
 * would cost up to a quarter of the leaves' memory again.
 */
function storedDepths(leafBits: number): number[] {
  const depths: number[] = [0];
  const first = leafBits % AE_LEVEL_BITS === 0 ? AE_LEVEL_BITS : leafBits % AE_LEVEL_BITS;
  for (let d = Math.min(first, leafBits); d <= leafBits; d += AE_LEVEL_BITS) depths.push(d);
  return depths;
}

/** Seed of the segment hash; distinct from every other seed so segments and labels are independent. */
const SEGMENT_SEED = 0x7f4a7c15;
/** Seeds mixed with the digest for the two words of a contribution. */
const CONTRIBUTION_SEED_LO = 0x2545f491;
const CONTRIBUTION_SEED_HI = 0x4f1bbcdc;

/** A 32-bit seed from the digest's two halves (murmur3's finalizer over a multiply-xor of both). */
function mixSeed(lo: number, hi: number, seed: number): number {
  let h = (lo ^ Math.imul(hi ^ seed, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
