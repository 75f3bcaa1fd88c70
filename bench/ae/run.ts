/**
 * `npm run bench:ae` (and `-- --quick`): one anti-entropy exchange between
 * two in-memory replicas of one range (src/core/ae_local_exchange.ts), 1M
 * keys (100k with --quick), for d = 0, 1, 10, 1,000 and 100,000 divergent
 * keys (missing on either side, stale, tombstone against value, tombstone
 * missing, mixed). Writes bench/results/ae.json with one row per d: keys,
 * divergent, round_trips, bytes_merkle (every exchange message, estimated
 * encoded size), keys_shipped ((key, digest) entries sent), bytes_full_sync
 * (every key and digest once), ms (the exchange alone, storage answered
 * from memory), tree_bytes (one replica's tree). Also the cost of a tree
 * update and of a rebuild. Then a real cluster (`cluster_cost.ts`, skipped
 * with --no-cluster): client throughput with anti-entropy off and on, and a
 * node refilled by a repair pass after losing its disk; and what the scan
 * behind an exchange's key listing costs (`scan_cost.ts`). Not a test:
 * nothing is asserted.
 *
 * `SEED=n` picks the seed (default 1).
 */
import { performance } from 'node:perf_hooks';
import { AE_ENTRY_OVERHEAD_BYTES } from '../../src/core/ae_messages.js';
import { MemoryReplica, runLocalExchange } from '../../src/core/ae_local_exchange.js';
import { AE_LEAF_BITS_DEFAULT, AE_LEVEL_BITS } from '../../src/core/limits.js';
import { MerkleTree } from '../../src/core/merkle_tree.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { machine, writeResults } from '../common/report.js';
import { clientCost, refill } from './cluster_cost.js';
import { scanCost } from './scan_cost.js';

const quick = process.argv.includes('--quick');
const SEED = seedFrom(process.env['SEED'], 1);
const KEYS = quick ? 100_000 : 1_000_000;
const DIVERGENT = [0, 1, 10, 1_000, 100_000];
const encoder = new TextEncoder();

function randomDigest(prng: Prng): number {
  return (prng.nextU32() & 0x1fffff) * 2 ** 32 + prng.nextU32();
}

/** Two replicas of KEYS keys differing in `d` of them, the kinds of divergence taken in turn. */
function replicas(prng: Prng, d: number): { a: MemoryReplica; b: MemoryReplica; keyBytes: number; updateUs: number } {
  const leafBits = MerkleTree.leafBitsFor(KEYS);
  const a = new MemoryReplica(leafBits);
  const b = new MemoryReplica(leafBits);
  const chosen = new Set<number>();
  while (chosen.size < d) chosen.add(prng.int(KEYS));
  let keyBytes = 0;
  const started = performance.now();
  for (let i = 0; i < KEYS; i++) {
    const key = encoder.encode(`user:${i.toString().padStart(8, '0')}`);
    keyBytes += key.length;
    const digest = randomDigest(prng);
    if (!chosen.has(i)) {
      a.put(key, digest);
      b.put(key, digest);
      continue;
    }
    switch (i % 5) {
      case 0: b.put(key, digest); break; // missing on a
      case 1: a.put(key, digest); break; // missing on b
      case 2: a.put(key, digest); b.put(key, randomDigest(prng)); break; // stale sibling set
      case 3: a.put(key, randomDigest(prng)); b.put(key, digest); break; // tombstone against value
      default: a.put(key, randomDigest(prng)); // tombstone missing on b
    }
  }
  const updateUs = ((performance.now() - started) * 1000) / (2 * KEYS - d);
  return { a, b, keyBytes, updateUs };
}

async function main(): Promise<void> {
  const leafBits = MerkleTree.leafBitsFor(KEYS);
  const configuration = { mode: quick ? 'quick' : 'full', seed: SEED, keys: KEYS, leaf_bits: leafBits, level_bits: AE_LEVEL_BITS, depths: new MerkleTree(leafBits).depths };
  console.log('bench:ae', JSON.stringify(configuration));
  console.log('machine', JSON.stringify(machine()));
  const rows: Record<string, number>[] = [];
  let updateUs = 0;
  let rebuildMs = 0;
  for (const d of DIVERGENT) {
    const prng = new Prng(SEED + d);
    const pair = replicas(prng, d);
    updateUs = pair.updateUs;
    const started = performance.now();
    const report = runLocalExchange(pair.a, pair.b);
    const ms = performance.now() - started;
    const bytesFullSync = pair.keyBytes + KEYS * AE_ENTRY_OVERHEAD_BYTES;
    const row = {
      keys: KEYS,
      divergent: d,
      round_trips: report.roundTrips,
      bytes_merkle: report.bytes,
      keys_shipped: report.entriesShipped,
      keys_to_fetch: report.fetchA.length + report.fetchB.length,
      bytes_full_sync: bytesFullSync,
      ms: Math.round(ms * 10) / 10,
      tree_bytes: pair.a.tree.memoryBytes,
      full_sync_chosen: report.resultA.outcome === 'full-sync' || report.resultB.outcome === 'full-sync' ? 1 : 0,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    if (d === 0) {
      const rebuildStarted = performance.now();
      const rebuilt = MerkleTree.rebuild(leafBits, pair.a.allEntries());
      rebuildMs = performance.now() - rebuildStarted;
      if (rebuilt.root()[0] !== pair.a.tree.root()[0]) throw new Error('rebuild disagrees with the incrementally updated tree');
    }
  }
  // The tree alone: KEYS inserts then KEYS overwrites, keys encoded beforehand, best of 3.
  const keys = Array.from({ length: KEYS }, (_, i) => encoder.encode(`user:${i.toString().padStart(8, '0')}`));
  let treeUpdateUs = Infinity;
  for (let run = 0; run < 3; run++) {
    const tree = new MerkleTree(leafBits);
    const started = performance.now();
    for (let i = 0; i < KEYS; i++) tree.update(keys[i]!, null, i + 1);
    for (let i = 0; i < KEYS; i++) tree.update(keys[i]!, i + 1, i + 2);
    treeUpdateUs = Math.min(treeUpdateUs, ((performance.now() - started) * 1000) / (2 * KEYS));
  }
  const treeBytes = MerkleTree.bytesFor(leafBits);
  const skipCluster = process.argv.includes('--no-cluster');
  const client = skipCluster ? null : await clientCost(quick);
  const refilled = skipCluster ? null : await refill(quick);
  if (refilled) console.log(JSON.stringify(refilled));
  const scan = await scanCost(quick ? 200_000 : 1_000_000);
  console.log(JSON.stringify(scan));
  writeResults('ae', {
    configuration,
    machine: machine(),
    rows,
    tree_bytes: treeBytes,
    tree_bytes_per_million_keys: Math.round((treeBytes / KEYS) * 1e6),
    update_us_per_write: Math.round(updateUs * 100) / 100,
    tree_update_us: Math.round(treeUpdateUs * 100) / 100,
    rebuild_ms: Math.round(rebuildMs),
    cluster_tree_bytes_per_group: MerkleTree.bytesFor(AE_LEAF_BITS_DEFAULT),
    client_cost: client,
    refill_after_disk_loss: refilled,
    exchange_scan: scan,
    notes:
      'client_cost and refill_after_disk_loss: a real 5-node cluster (bench/ae/cluster_cost.ts); cluster_tree_bytes_per_group: one replica group\'s tree at the cluster default leaf bits, ' +
      'independent of its key count (a node of 5, N = 3 keeps 6); ms: the exchange alone, both sides in one thread, storage answered from in-memory maps; update_us_per_write includes the ' +
      'benchmark replica map upkeep and key encoding; tree_update_us is the tree alone (best of 3); bytes_merkle: estimated encoded size of every message (ae_messages.ts aeMessageBytes)',
  });
}

await main();
