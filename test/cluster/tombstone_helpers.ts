/**
 * Helpers the tombstone simulator tests share: which nodes own a key, what
 * one replica holds for it, and forcing a node to compact its tables.
 */
import { encodeDvv } from '../../src/core/dotted_version_vector.js';
import { COMPACTION_MIN_THRESHOLD } from '../../src/core/limits.js';
import { placeReplicas } from '../../src/core/placement.js';
import { Ring } from '../../src/core/ring.js';
import { COMPACTION_ACTOR_ID } from '../../src/cluster/node_plan.js';
import type { SimCluster } from '../../src/simulation/sim_cluster.js';
import type { Version } from '../../storage/version.js';

const utf8 = new TextEncoder();

/** Labels of the N owners of `key`. */
export function ownersOf(cluster: SimCluster, key: string): string[] {
  const owners = placeReplicas(Ring.fromTokens(cluster.config.ring), utf8.encode(key), cluster.config.replication.dcs).replicas;
  return owners.map((member) => cluster.config.nodes.find((n) => n.member === member)!.label);
}

/** What node `label`'s replica holds for `key`, as '∅' (tombstone), '∅ purgeable' or the value. */
export async function held(cluster: SimCluster, label: string, key: string): Promise<string[]> {
  const versions = await cluster.askNode<Version[]>(label, 'replica', { type: 'get', key: utf8.encode(key) });
  return versions.map((v) => (v.value === null ? (v.purgeable ? '∅ purgeable' : '∅') : Buffer.from(v.value).toString())).sort();
}

let fillers = 0;

/**
 * Make node `label` merge all its tables: flush COMPACTION_MIN_THRESHOLD
 * tables (one filler key each, stored on the replica directly), then wait for
 * the compaction actor. Returns the compactions the replica counted.
 */
export async function compactAll(cluster: SimCluster, label: string): Promise<number> {
  for (let i = 0; i < COMPACTION_MIN_THRESHOLD; i++) {
    const n = ++fillers;
    const version: Version = { clock: encodeDvv({ dot: { actor: 'filler#1', counter: n, ts_ms: 0 }, past: [] }), value: utf8.encode('x'), ts_ms: cluster.world.now() };
    await cluster.askNode(label, 'replica', { type: 'put', key: utf8.encode(`filler-${n}`), version });
    await cluster.askNode(label, 'replica', { type: 'flush' });
  }
  await cluster.askNode(label, COMPACTION_ACTOR_ID, { type: 'settle' }, 30_000);
  return (await cluster.askNode<{ compactions: number }>(label, 'replica', { type: 'stats' })).compactions;
}
