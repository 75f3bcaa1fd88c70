/**
 * Tests of the anti-entropy hash tree (src/core/merkle_tree.ts): trees are
 * equal after the same writes in any order, and equal to a rebuild from the
 * final (key, digest) set (property test, seeded: SEED= replays); one
 * changed key changes the root and a descent through the stored levels
 * finds its segment; parents stay the XOR of their children; memory is
 * what the header states and does not grow with keys.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { AssertionError } from '../../src/core/assert.js';
import { AE_LEAF_BITS_MAX, AE_LEAF_BITS_MIN } from '../../src/core/limits.js';
import { LABEL_BYTES, MerkleTree } from '../../src/core/merkle_tree.js';
import { Prng, seedFrom } from '../../src/core/prng.js';

const SEED = seedFrom(process.env['SEED'], Date.now());

function keyOf(i: number): Uint8Array {
  return new TextEncoder().encode(`key-${i}`);
}

function randomDigest(prng: Prng): number {
  return (prng.nextU32() & 0x1fffff) * 2 ** 32 + prng.nextU32();
}

/** The final digest per key after applying `writes` in order. */
function finalState(writes: readonly { key: number; digest: number | null }[]): Map<number, number> {
  const state = new Map<number, number>();
  for (const w of writes) {
    if (w.digest === null) state.delete(w.key);
    else state.set(w.key, w.digest);
  }
  return state;
}

/** Apply the writes to a tree, passing each key's previous digest as a replica would. */
function applyWrites(tree: MerkleTree, writes: readonly { key: number; digest: number | null }[]): void {
  const held = new Map<number, number>();
  for (const w of writes) {
    tree.update(keyOf(w.key), held.get(w.key) ?? null, w.digest);
    if (w.digest === null) held.delete(w.key);
    else held.set(w.key, w.digest);
  }
}

describe('merkle tree', () => {
  before(() => console.log(`      merkle tree SEED=${SEED}`));

  it(`is equal after the same final writes in any order, and equal to a rebuild (SEED=${SEED})`, () => {
    const writeArb = fc.record({ key: fc.integer({ min: 0, max: 200 }), digest: fc.option(fc.integer({ min: 0, max: 2 ** 53 - 1 }), { nil: null, freq: 5 }) });
    fc.assert(
      fc.property(fc.array(writeArb, { maxLength: 300 }), fc.integer(), fc.integer({ min: AE_LEAF_BITS_MIN, max: 12 }), (writes, shuffleSeed, leafBits) => {
        // Replica A applies the writes as given. Replica B applies each key's
        // final write only, keys in a shuffled order, after unrelated churn it
        // undoes: different histories, same final state.
        const state = finalState(writes);
        const a = new MerkleTree(leafBits);
        applyWrites(a, writes);
        const prng = new Prng(shuffleSeed);
        const keys = [...state.keys()];
        for (let i = keys.length - 1; i > 0; i--) {
          const j = prng.int(i + 1);
          [keys[i], keys[j]] = [keys[j]!, keys[i]!];
        }
        const b = new MerkleTree(leafBits);
        const churn = keyOf(10_000 + prng.int(100));
        const churnDigest = randomDigest(prng);
        b.update(churn, null, churnDigest);
        for (const k of keys) b.update(keyOf(k), null, state.get(k)!);
        b.update(churn, churnDigest, null);
        const rebuilt = MerkleTree.rebuild(leafBits, keys.map((k) => ({ key: keyOf(k), digest: state.get(k)! })));
        for (const t of [a, b, rebuilt]) t.checkInvariants();
        expect(b.root()).to.deep.equal(a.root());
        expect(rebuilt.root()).to.deep.equal(a.root());
        expect(b.levelLabels(leafBits)).to.deep.equal(a.levelLabels(leafBits));
        expect(rebuilt.levelLabels(leafBits)).to.deep.equal(a.levelLabels(leafBits));
        expect(a.keys).to.equal(state.size);
        expect(b.keys).to.equal(state.size);
        if (state.size === 0) expect(a.root()).to.deep.equal([0, 0]);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it(`changes the root when one key changes, and a descent finds its segment (SEED=${SEED})`, () => {
    const prng = new Prng(SEED);
    const leafBits = 14;
    const a = new MerkleTree(leafBits);
    const b = new MerkleTree(leafBits);
    const digests: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      digests.push(randomDigest(prng));
      a.update(keyOf(i), null, digests[i]!);
      b.update(keyOf(i), null, digests[i]!);
    }
    expect(b.root()).to.deep.equal(a.root());
    const changed = prng.int(10_000);
    b.update(keyOf(changed), digests[changed]!, (digests[changed]! + 1) % 2 ** 53);
    expect(b.root()).to.not.deep.equal(a.root());
    // Descend through the stored levels, keeping only differing children.
    let frontier = [0];
    for (let level = 1; level < a.depths.length; level++) {
      const parentDepth = a.depths[level - 1]!;
      const depth = a.depths[level]!;
      const per = 2 ** (depth - parentDepth);
      const la = a.subtreeLabels(parentDepth, frontier, depth);
      const lb = b.subtreeLabels(parentDepth, frontier, depth);
      const next: number[] = [];
      for (let i = 0; i < frontier.length * per; i++) {
        if (la[2 * i] !== lb[2 * i] || la[2 * i + 1] !== lb[2 * i + 1]) next.push(frontier[Math.floor(i / per)]! * per + (i % per));
      }
      expect(next, `exactly one node differs at depth ${depth}`).to.have.length(1);
      frontier = next;
    }
    expect(frontier).to.deep.equal([a.segmentOf(keyOf(changed))]);
  });

  it('derives any depth from the stored levels below it (XOR folding)', () => {
    const prng = new Prng(SEED ^ 0x5555);
    const tree = new MerkleTree(13);
    for (let i = 0; i < 3000; i++) tree.update(keyOf(i), null, randomDigest(prng));
    tree.checkInvariants();
    expect(tree.depths).to.deep.equal([0, 1, 7, 13]);
    const leaves = tree.levelLabels(13);
    for (const depth of [0, 1, 2, 5, 7, 10, 12]) {
      const labels = tree.levelLabels(depth);
      const shift = 13 - depth;
      for (let node = 0; node < 2 ** depth; node++) {
        let lo = 0;
        let hi = 0;
        for (let s = node << shift; s < (node + 1) << shift; s++) {
          lo ^= leaves[2 * s]!;
          hi ^= leaves[2 * s + 1]!;
        }
        expect([labels[2 * node], labels[2 * node + 1]], `node ${node} at depth ${depth}`).to.deep.equal([lo >>> 0, hi >>> 0]);
      }
    }
    expect([...tree.levelLabels(0)]).to.deep.equal([...tree.root()]);
  });

  it('returns to the empty root when every key is removed, and ignores an update to the same digest', () => {
    const tree = new MerkleTree(8);
    tree.update(keyOf(1), null, 42);
    tree.update(keyOf(2), null, 43);
    const root = tree.root();
    tree.update(keyOf(1), 42, 42);
    expect(tree.root()).to.deep.equal(root);
    tree.update(keyOf(1), 42, null);
    tree.update(keyOf(2), 43, null);
    expect(tree.root()).to.deep.equal([0, 0]);
    expect(tree.keys).to.equal(0);
    expect(tree.keyBytes).to.equal(0);
  });

  it('states its memory: 8 bytes per stored node, the same with 0 or 50k keys', () => {
    expect(MerkleTree.leafBitsFor(100_000)).to.equal(17);
    expect(MerkleTree.leafBitsFor(1_000_000)).to.equal(20);
    expect(MerkleTree.leafBitsFor(0)).to.equal(AE_LEAF_BITS_MIN);
    expect(MerkleTree.leafBitsFor(1e9)).to.equal(AE_LEAF_BITS_MAX);
    const tree = new MerkleTree(17);
    expect(tree.depths).to.deep.equal([0, 5, 11, 17]);
    const expected = (1 + 2 ** 5 + 2 ** 11 + 2 ** 17) * LABEL_BYTES;
    expect(tree.memoryBytes).to.equal(expected);
    expect(MerkleTree.bytesFor(17)).to.equal(expected);
    const prng = new Prng(SEED);
    for (let i = 0; i < 50_000; i++) tree.update(keyOf(i), null, randomDigest(prng));
    expect(tree.memoryBytes).to.equal(expected);
    // The header's figures: at most 8.13 bytes per segment; 1M keys in 8.1 MiB.
    for (let bits = AE_LEAF_BITS_MIN; bits <= AE_LEAF_BITS_MAX; bits++) expect(MerkleTree.bytesFor(bits) / 2 ** bits).to.be.at.most(8.13 + 8 / 2 ** bits);
    expect(MerkleTree.bytesFor(20) / 2 ** 20).to.be.below(8.13);
    expect(MerkleTree.bytesFor(20)).to.be.below(8.2 * 2 ** 20);
  });

  it('refuses leaf bits outside the limits', () => {
    expect(() => new MerkleTree(AE_LEAF_BITS_MIN - 1)).to.throw(AssertionError);
    expect(() => new MerkleTree(AE_LEAF_BITS_MAX + 1)).to.throw(AssertionError);
  });
});
