/**
 * Whether an anti-entropy exchange should keep descending the hash tree or
 * switch to a full sync of the range (every key and digest sent once), from
 * what one side knows after comparing a level: how many nodes differ at that
 * depth (issue 15).
 *
 * The number of divergent keys d is estimated from the differing nodes by
 * linear counting (Whang, Vander-Zanden, Taylor 1990): d keys thrown into n
 * nodes leave n·e^(-d/n) untouched, so F differing nodes give
 * d ≈ -n·ln(1 - F/n). When every node differs (F = n) that formula has no
 * answer; we take the coupon collector's n·ln n (the d at which all n nodes
 * are expected to be hit), a figure low rather than high, so that a
 * saturated level never triggers a full sync that the next, wider level
 * might have shown to be unnecessary. From d the estimate then predicts the
 * differing nodes at each deeper stored level (n'·(1 - e^(-d/n'))), the
 * labels each step would send, and the entries of the differing leaves.
 *
 * Pure: a function of its arguments. Safe from any thread.
 */
import { assert } from './assert.js';
import { AE_ENTRY_OVERHEAD_BYTES } from './ae_messages.js';
import { LABEL_BYTES } from './merkle_tree.js';

/** What one side knows when it decides. */
export interface DescentState {
  /** Depth just compared. */
  depth: number;
  /** Nodes found to differ at `depth`. */
  differing: number;
  /** Stored depths of the trees (`MerkleTree.depths`), ascending, the last being the leaves. */
  depths: readonly number[];
  /** Keys in the range: the larger of the two sides' counts. */
  keys: number;
  /** Mean key length in bytes, over both sides. */
  meanKeyBytes: number;
}

/** The decision and the figures it rests on. */
export interface DescentCost {
  /** Estimated divergent keys. */
  divergentEstimate: number;
  /** Estimated bytes to finish by descending: labels of the remaining levels, then entries of the differing leaves. */
  descendBytes: number;
  /** Bytes of a full sync: every key and digest of the range once. */
  fullSyncBytes: number;
  choice: 'descend' | 'full-sync';
}

/** Decide between descending and a full sync (method in the header). */
export function descentCost(state: DescentState): DescentCost {
  const { depth, differing, depths, keys, meanKeyBytes } = state;
  assert(depths.includes(depth), 'decisions are taken at stored depths');
  const nodes = 2 ** depth;
  assert(Number.isInteger(differing) && differing >= 1 && differing <= nodes, 'between 1 and every node at the depth differs');
  const entryBytes = AE_ENTRY_OVERHEAD_BYTES + meanKeyBytes;
  const leafBits = depths[depths.length - 1]!;

  let divergent = differing < nodes ? -nodes * Math.log1p(-differing / nodes) : nodes * Math.log(nodes);
  divergent = Math.max(differing, keys > 0 ? Math.min(divergent, keys) : divergent);

  let descendBytes = 0;
  let frontier = differing;
  let previous = depth;
  for (const next of depths) {
    if (next <= depth) continue;
    descendBytes += frontier * 2 ** (next - previous) * LABEL_BYTES;
    const width = 2 ** next;
    frontier = Math.max(frontier, width * -Math.expm1(-divergent / width));
    previous = next;
  }
  // A differing leaf ships its divergent key and, on average, its share of the others.
  descendBytes += frontier * (1 + keys / 2 ** leafBits) * entryBytes;
  const fullSyncBytes = keys * entryBytes;
  return { divergentEstimate: divergent, descendBytes, fullSyncBytes, choice: descendBytes > fullSyncBytes ? 'full-sync' : 'descend' };
}
