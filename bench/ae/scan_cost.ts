/**
 * What an exchange's storage reads cost (part of `npm run bench:ae`): an
 * exchange that reaches the leaves lists the (key, digest) pairs of its
 * replica group with one scan of the node's store (`actors/exchange_run.ts`:
 * segments are hash buckets, so no key range holds them). Measured on one
 * storage engine holding `keys` keys of 100-byte values, flushed to
 * SSTables: the scan, the group filter (one ring lookup per key) and the
 * digests of one group's keys (a sixth of them, as for a node of 5 with
 * N = 3), over every key of the node. Also a tree rebuild's full pass (every
 * key digested), which the same scan serves.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ReplicaGroups } from '../../src/core/replica_groups.js';
import { Ring } from '../../src/core/ring.js';
import { treeDigestOf } from '../../src/core/sibling_digest.js';
import { encodeClock, increment, vectorClockOrder } from '../../src/core/vector_clock.js';
import { StorageEngine } from '../../storage/engine.js';
import { RealFileSystem } from '../../storage/real_fs.js';

export interface ScanCost {
  keys: number;
  /** One group's (key, digest) index, as an exchange builds it. */
  exchange_index_ms: number;
  /** Every key digested, as a rebuild does. */
  rebuild_pass_ms: number;
  exchange_index_ms_per_million_keys: number;
}

export async function scanCost(keys: number): Promise<ScanCost> {
  const dir = await mkdtemp(join(os.tmpdir(), 'ringkv-bench-ae-scan-'));
  const engine = await StorageEngine.open({ fs: new RealFileSystem(), dir, order: vectorClockOrder, now: () => Date.now(), syncMode: 'batch' });
  try {
    const clock = encodeClock(increment([], 'bench-node', Date.now()));
    const value = new Uint8Array(100).fill(120);
    const encoder = new TextEncoder();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < keys; i++) {
      writes.push(engine.put(encoder.encode(`user:${i.toString().padStart(9, '0')}`), { clock, value, ts_ms: Date.now() }));
      if (writes.length >= 4096) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    await engine.flush();
    const members = Array.from({ length: 5 }, (_, i) => ({ id: `n${i + 1}`, dc: 'dc1', rack: `r${i + 1}` }));
    const groups = new ReplicaGroups(Ring.build(members), { dc1: 3 });
    const target = groups.groupsOf('n1')[0]!.id;
    const best = (run: () => void): number => {
      let fastest = Infinity;
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        run();
        fastest = Math.min(fastest, performance.now() - started);
      }
      return fastest;
    };
    let held = 0;
    const exchange_index_ms = best(() => {
      held = 0;
      for (const { key, versions } of engine.scan()) if (groups.groupOf(key).id === target && treeDigestOf(versions) !== null) held++;
    });
    const rebuild_pass_ms = best(() => {
      for (const { key, versions } of engine.scan()) if (groups.groupOf(key) !== undefined) treeDigestOf(versions);
    });
    if (held === 0) throw new Error('the group holds no key: the measurement would be empty');
    return { keys, exchange_index_ms: Math.round(exchange_index_ms), rebuild_pass_ms: Math.round(rebuild_pass_ms), exchange_index_ms_per_million_keys: Math.round((exchange_index_ms * 1e6) / keys) };
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}
