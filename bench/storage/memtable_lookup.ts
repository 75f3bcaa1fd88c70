/**
 * Memtable point lookups, for the hash index (storage/memtable_index.ts):
 * 100k keys shaped as redis-benchmark's (`key:` and 12 digits, so all share
 * their first 12 bytes) inserted in random order, then gets and puts of
 * held keys in random order, then a replicated write's pair (a get, then a
 * put of the same held key). Also times the index's key hash against xxh32
 * (src/core/hash.ts). A measurement, not a test; not wired into CI.
 *
 *   npm run build && node dist/bench/storage/memtable_lookup.js [keys]
 *
 * Each lookup's key is written into one reused buffer, as a server's freshly
 * parsed key sits in cache: 100k separate key arrays would time cache misses
 * on the benchmark's own keys. Per phase, wall and CPU ns per operation,
 * the least over the rounds (the machine is shared; noise only adds).
 * Writes bench/results/memtable_lookup.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { dottedVersionVectorOrder } from '../../src/core/dotted_version_vector.js';
import { encodeDvv } from '../../src/core/dvv_codec.js';
import { hash32 } from '../../src/core/hash.js';
import { Prng } from '../../src/core/prng.js';
import { Memtable } from '../../storage/memtable.js';
import { keyHash } from '../../storage/memtable_index.js';
import type { Version } from '../../storage/version.js';

const KEYS = Number(process.argv[2] ?? 100_000);
const ROUNDS = 6;
const HASH_CALLS = 1_000_000;

const hotKey = new TextEncoder().encode('key:000000000000');
/** `key:` and `n` in 12 digits, written into the one reused key buffer. */
function keyAt(n: number): Uint8Array {
  for (let digit = hotKey.length - 1; digit >= 4; digit--) {
    hotKey[digit] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return hotKey;
}

const prng = new Prng(7);
const order = Int32Array.from({ length: KEYS }, (_, i) => i);
for (let i = order.length - 1; i > 0; i--) {
  const j = prng.int(i + 1);
  [order[i], order[j]] = [order[j]!, order[i]!];
}
const value = new Uint8Array(100);
const versionOf = (counter: number): Version[] => [{ clock: encodeDvv({ dot: { actor: 'n1#epoch1', counter, ts_ms: 0 }, past: [] }), value, ts_ms: 0 }];
const versions = Array.from({ length: 3 * KEYS }, (_, i) => versionOf(i + 1));

/** [wall, cpu] ns per operation of `operations` done by `run`. */
function timed(operations: number, run: () => void): [number, number] {
  const cpu = process.cpuUsage();
  const start = performance.now();
  run();
  const wallNs = (performance.now() - start) * 1e6;
  const used = process.cpuUsage(cpu);
  return [wallNs / operations, ((used.user + used.system) * 1e3) / operations];
}

const phases = ['insert', 'get', 'update_put', 'get_then_put'] as const;
const best = Object.fromEntries(phases.map((phase) => [phase, [Infinity, Infinity]])) as Record<(typeof phases)[number], [number, number]>;
function keep(phase: (typeof phases)[number], [wall, cpu]: [number, number]): void {
  best[phase] = [Math.min(best[phase][0], wall), Math.min(best[phase][1], cpu)];
}

for (let round = 0; round < ROUNDS; round++) {
  const memtable = new Memtable(dottedVersionVectorOrder);
  let found = 0;
  keep('insert', timed(KEYS, () => {
    for (let i = 0; i < KEYS; i++) memtable.put(keyAt(order[i]!), versions[i]!);
  }));
  keep('get', timed(KEYS, () => {
    for (let i = 0; i < KEYS; i++) if (memtable.get(keyAt(order[(i * 7919) % KEYS]!)) !== undefined) found++;
  }));
  keep('update_put', timed(KEYS, () => {
    for (let i = 0; i < KEYS; i++) memtable.put(keyAt(order[(i * 104729) % KEYS]!), versions[KEYS + i]!);
  }));
  keep('get_then_put', timed(KEYS, () => {
    for (let i = 0; i < KEYS; i++) {
      const key = keyAt(order[(i * 15485863) % KEYS]!);
      if (memtable.get(key) !== undefined) found++;
      memtable.put(key, versions[2 * KEYS + i]!);
    }
  }));
  if (found !== 2 * KEYS) throw new Error(`a key went missing: found ${found} of ${2 * KEYS}`);
}

// The index's key hash against xxh32 through WASM, on the same keys (the choice made in memtable_index.ts).
const hashers: Array<[string, (key: Uint8Array) => number]> = [
  ['none', (key) => key[15]!],
  ['key_hash', keyHash],
  ['xxh32', (key) => hash32(key)],
];
const hashNs: Record<string, number> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, hash] of hashers) {
    let sink = 0;
    const [wall] = timed(HASH_CALLS, () => {
      for (let i = 0; i < HASH_CALLS; i++) sink ^= hash(keyAt(i));
    });
    hashNs[name] = Math.min(hashNs[name] ?? Infinity, wall);
    if (sink === 0.5) console.log(sink); // keeps the loop's result alive
  }
}

const round1 = (ns: number) => Math.round(ns * 10) / 10;
const results = {
  config: { keys: KEYS, rounds: ROUNDS, key_shape: 'key:%012d', value_bytes: value.length, statistic: 'least over rounds' },
  machine: { cpus: os.cpus().length, node: process.version, loadavg_1m: os.loadavg()[0] },
  memtable_ns_per_op: Object.fromEntries(phases.map((phase) => [phase, { wall: round1(best[phase][0]), cpu: round1(best[phase][1]) }])),
  hash_ns_per_call_including_key_write: Object.fromEntries(Object.entries(hashNs).map(([name, ns]) => [name, round1(ns)])),
};
console.log(JSON.stringify(results, null, 2));
const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'results', 'memtable_lookup.json');
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
