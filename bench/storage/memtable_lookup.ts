/**
 * Memtable point lookups, for the hash index A/B (issue 14): 100k keys
 * shaped as redis-benchmark's (`key:` and 12 digits, so all share their
 * first 12 bytes), inserted in random order, then gets and puts of held
 * keys in random order. Prints ns per operation; not wired into CI.
 *
 *   node dist/bench/storage/memtable_lookup.js [keys]
 */
import { performance } from 'node:perf_hooks';
import { dottedVersionVectorOrder } from '../../src/core/dotted_version_vector.js';
import { encodeDvv } from '../../src/core/dvv_codec.js';
import { Prng } from '../../src/core/prng.js';
import { Memtable } from '../../storage/memtable.js';

const KEYS = Number(process.argv[2] ?? 100_000);
const text = new TextEncoder();
const keys = Array.from({ length: KEYS }, (_, i) => text.encode(`key:${String(i).padStart(12, '0')}`));
const prng = new Prng(7);
const order = Array.from({ length: KEYS }, (_, i) => i);
for (let i = order.length - 1; i > 0; i--) {
  const j = prng.int(i + 1);
  [order[i], order[j]] = [order[j]!, order[i]!];
}
const value = new Uint8Array(100);
const version = (counter: number) => ({ clock: encodeDvv({ dot: { actor: 'n1#epoch1', counter, ts_ms: 0 }, past: [] }), value, ts_ms: 0 });
const versions = Array.from({ length: 2 * KEYS }, (_, i) => [version(i + 1)]);

for (let round = 0; round < 3; round++) {
  const memtable = new Memtable(dottedVersionVectorOrder);
  let t = performance.now();
  for (let i = 0; i < KEYS; i++) memtable.put(keys[order[i]!]!, versions[i]!);
  const insertNs = ((performance.now() - t) * 1e6) / KEYS;
  t = performance.now();
  let found = 0;
  for (let i = 0; i < KEYS; i++) if (memtable.get(keys[order[(i * 7919) % KEYS]!]!) !== undefined) found++;
  const getNs = ((performance.now() - t) * 1e6) / KEYS;
  t = performance.now();
  for (let i = 0; i < KEYS; i++) memtable.put(keys[order[(i * 104729) % KEYS]!]!, versions[KEYS + i]!);
  const updateNs = ((performance.now() - t) * 1e6) / KEYS;
  if (found !== KEYS) throw new Error('a key went missing');
  console.log(JSON.stringify({ keys: KEYS, insert_ns: Math.round(insertNs), get_ns: Math.round(getNs), update_put_ns: Math.round(updateNs) }));
}
