/**
 * Resolving `ClusterOptions` into what the nodes run with: each node's
 * member id and thread, its placement, the ring (tokens chosen to balance,
 * `src/core/ring.ts`) and the replication defaults. Pure: the same options
 * always give the same cluster. (A data directory keeps the tokens it was
 * created with, `cluster_record.ts`, and those are the ones a reopen uses.)
 *
 * Node ids: a node on worker thread t is member `n<t>` inside the cluster
 * (`actors/member_refs.ts`); the ids a user gave are labels mapped at the API
 * boundary (`labelOf` / `memberOf`). With default ids they are the same.
 */
import type { ClusterOptions, ReplicationOptions } from './cluster_types.js';
import { checkClusterOptions, DEFAULT_DC, DEFAULT_REPLICAS, nodeSpecsOf } from './cluster_options_check.js';
import { assert } from '../core/assert.js';
import { majority, type Requirement } from '../core/consistency.js';
import { InvalidRequestError } from '../core/errors.js';
import { Ring, type RingMember } from '../core/ring.js';


/** One node as the cluster runs it. */
export interface ResolvedNode {
  /** The id the user knows it by. */
  label: string;
  /** Its member id inside the cluster (`n<thread>`). */
  member: string;
  /** The worker thread it runs on (1..K). */
  thread: number;
  dc: string;
  rack: string;
  weight: number;
  /** In a cluster of several processes: the peer address (`host:port`) of the process hosting it. */
  host?: string;
}

/** Replication as every coordinator applies it. */
export interface ResolvedReplication {
  /** Replicas per data center; their sum is N. */
  dcs: Record<string, number>;
  n: number;
  w: Requirement;
  r: Requirement;
  strict: boolean;
}

/** A cluster's resolved shape. */
export interface ResolvedCluster {
  nodes: ResolvedNode[];
  ring: RingMember[];
  replication: ResolvedReplication;
}

/**
 * Resolve options into the cluster's shape. Checks them first
 * (`checkClusterOptions`: throws one `ConfigError` listing every problem),
 * so what follows may assume they are well formed.
 */
export function resolveCluster(options: Pick<ClusterOptions, 'nodes' | 'replication'>): ResolvedCluster {
  checkClusterOptions(options);
  const nodes = nodeSpecsOf(options.nodes).map((spec, i): ResolvedNode => ({
    label: spec.id,
    member: `n${i + 1}`,
    thread: i + 1,
    dc: spec.dc ?? DEFAULT_DC,
    rack: spec.rack ?? spec.id,
    weight: spec.weight ?? 1,
  }));
  const ring = Ring.build(nodes.map((node) => ({ id: node.member, dc: node.dc, rack: node.rack, weight: node.weight }))).members();
  return { nodes, ring: [...ring], replication: resolveReplication(options.replication ?? {}, nodes) };
}

/** Replication of checked options: replicas per DC (default: min(DEFAULT_REPLICAS, nodes) in the only DC), W and R (default: a majority). */
function resolveReplication(options: ReplicationOptions, nodes: readonly ResolvedNode[]): ResolvedReplication {
  let dcs: Record<string, number>;
  if (options.dcs) {
    dcs = { ...options.dcs };
  } else {
    const dc = nodes[0]!.dc;
    dcs = { [dc]: options.n ?? Math.min(DEFAULT_REPLICAS, nodes.length) };
  }
  const n = Object.values(dcs).reduce((a, b) => a + b, 0);
  assert(n >= 1 && n <= nodes.length, 'checked options place 1..nodes replicas');
  return { dcs, n, w: options.w ?? majority(n), r: options.r ?? majority(n), strict: options.strict ?? false };
}

/** The member id of the node a user calls `label`; throws `InvalidRequestError` for an unknown node. */
export function memberOf(cluster: ResolvedCluster, label: string): ResolvedNode {
  const node = cluster.nodes.find((n) => n.label === label);
  if (!node) throw new InvalidRequestError(`no node "${label}" in this cluster (nodes: ${cluster.nodes.map((n) => n.label).join(', ')})`);
  return node;
}

/** The user's id for a member id (member ids of other clusters pass through). */
export function labelOf(cluster: ResolvedCluster, member: string): string {
  return cluster.nodes.find((n) => n.member === member)?.label ?? member;
}
