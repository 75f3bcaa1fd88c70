/**
 * `ringkv demo` (what `npm start` runs): three nodes, each a worker thread
 * hosting a replica actor (its own LSM engine on disk) and a compaction
 * actor. The main thread writes keys to all three replicas through the SAB
 * rings, shows siblings from concurrent vector clocks and a delete, kills a
 * node's thread, restarts it, and reads every key back from what the node
 * recovered from its commit log and SSTables.
 *
 * Replication here is done by hand (the same version sent to N=3 replicas);
 * the coordinator with quorums comes with the Dynamo core.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { encodeClock, increment, merge, decodeClock, type VectorClock } from '../core/vector_clock.js';
import type { ActorRef } from '../runtime/actor.js';
import { ActorSystem } from '../runtime/actor_system.js';
import type { Version } from '../../storage/version.js';

const NODES = 3;
const KEYS = 20_000;
const IN_FLIGHT_MAX = 512;
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** Run the demo; resolves with the process exit code. */
export async function runDemo(dirArg: string | undefined): Promise<number> {
  const dir = dirArg ?? (await mkdtemp(join(os.tmpdir(), 'ringkv-demo-')));
  const replicas: ActorRef[] = [];
  const spawn: Record<number, { kind: string; id: string; args: unknown }[]> = {};
  for (let node = 1; node <= NODES; node++) {
    replicas.push({ thread: node, id: 'replica' });
    spawn[node] = [
      { kind: 'replica', id: 'replica', args: { dir: join(dir, `node-${node}`), memtableFlushBytes: 256 * 1024, clocks: 'vector-clock', compaction: { thread: node, id: 'compaction' } } },
      { kind: 'compaction', id: 'compaction', args: { replica: { thread: node, id: 'replica' }, interval_ms: 500 } },
    ];
  }
  const system = await ActorSystem.start({
    threads: NODES,
    modules: [new URL('../../actors/replica.js', import.meta.url).href, new URL('../../actors/compaction.js', import.meta.url).href],
    spawn,
  });
  system.onCrash((crash) => console.log(`  ! node ${crash.thread} crashed: ${crash.error.message}`));
  try {
    console.log(`ringkv demo: ${NODES} nodes on worker threads, data in ${dir}`);
    await writeAll(system, replicas);
    await siblingsAndDelete(system, replicas);
    await crashAndRecover(system, replicas[1]!);
    for (const ref of replicas) {
      const stats = await system.ask<Record<string, number>>(ref, { type: 'stats' });
      console.log(`  node ${ref.thread}: ${stats['puts']} puts, ${stats['flushes']} flushes, ${stats['compactions']} compactions, ${stats['tables']} SSTables now`);
    }
    console.log('demo finished: every key was read back after the crash');
    return 0;
  } finally {
    await system.shutdown();
    if (!dirArg) await rm(dir, { recursive: true, force: true });
  }
}

function version(value: string | null, clock: VectorClock): Version {
  return { clock: encodeClock(clock), value: value === null ? null : utf8.encode(value), ts_ms: Date.now() };
}

function keyOf(i: number): Uint8Array {
  return utf8.encode(`user:${String(i).padStart(6, '0')}`);
}

/** Write KEYS keys to every replica, at most IN_FLIGHT_MAX asks in flight. */
async function writeAll(system: ActorSystem, replicas: ActorRef[]): Promise<void> {
  const started = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < KEYS; i++) {
    const v = version(`profile of user ${i}`, increment([], 'demo', Date.now()));
    for (const ref of replicas) {
      const p: Promise<unknown> = system.ask(ref, { type: 'put', key: keyOf(i), version: v }).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    if (inFlight.size >= IN_FLIGHT_MAX) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  console.log(`  wrote ${KEYS} keys to ${replicas.length} replicas (durable, fsync'd commit logs): ${Math.round((KEYS * replicas.length) / seconds)} writes/s`);
}

/** Two concurrent writes make siblings; a write that saw both resolves them; a delete is a tombstone. */
async function siblingsAndDelete(system: ActorSystem, replicas: ActorRef[]): Promise<void> {
  const key = utf8.encode('cart:alice');
  const node = replicas[0]!;
  const fromA = increment([], 'client-a', Date.now());
  const fromB = increment([], 'client-b', Date.now());
  await system.ask(node, { type: 'put', key, version: version('milk', fromA) });
  await system.ask(node, { type: 'put', key, version: version('eggs', fromB) });
  const siblings = await system.ask<Version[]>(node, { type: 'get', key });
  console.log(`  concurrent writes -> ${siblings.length} siblings: ${siblings.map((v) => text.decode(v.value!)).join(', ')}`);
  const resolved = increment(merge(decodeClock(siblings[0]!.clock), decodeClock(siblings[1]!.clock)), 'client-a', Date.now());
  await system.ask(node, { type: 'put', key, version: version('milk+eggs', resolved) });
  const after = await system.ask<Version[]>(node, { type: 'get', key });
  console.log(`  a write that saw both -> ${after.length} version: ${text.decode(after[0]!.value!)}`);
  await system.ask(node, { type: 'put', key, version: version(null, increment(resolved, 'client-b', Date.now())) });
  const deleted = await system.ask<Version[]>(node, { type: 'get', key });
  console.log(`  delete -> ${deleted.length} tombstone (value ${deleted[0]!.value === null ? 'null' : 'present'})`);
}

/** Kill a node's thread, restart it, and read every key back. */
async function crashAndRecover(system: ActorSystem, victim: ActorRef): Promise<void> {
  console.log(`  killing node ${victim.thread}'s thread (no flush, no shutdown)...`);
  await system.terminateThread(victim.thread);
  const started = performance.now();
  await system.restartThread(victim.thread);
  let found = 0;
  for (let i = 0; i < KEYS; i += 1) {
    const versions = await system.ask<Version[]>(victim, { type: 'get', key: keyOf(i) }, 30_000);
    if (versions.length === 1 && text.decode(versions[0]!.value!) === `profile of user ${i}`) found++;
  }
  const ms = Math.round(performance.now() - started);
  console.log(`  node ${victim.thread} restarted and read back ${found}/${KEYS} keys in ${ms} ms`);
  if (found !== KEYS) throw new Error(`node ${victim.thread} lost ${KEYS - found} acknowledged writes`);
}
