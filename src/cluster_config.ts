/**
 * Resolving `ClusterOptions` into what the nodes run with: each node's
 * member id and thread, its placement, the ring (tokens chosen to balance,
 * `src/core/ring.ts`) and the replication defaults. Pure: the same options
 * always give the same cluster, so a restarted node rejoins with the tokens
 * it had.
 *
 * Node ids: a node on worker thread t is member `n<t>` inside the cluster
 * (`actors/member_refs.ts`); the ids a user gave are labels mapped at the API
 * boundary (`labelOf` / `memberOf`). With default ids they are the same.
 */
import type { ClusterOptions, NodeSpec, ReplicationOptions } from './cluster_types.js';
import { majority, type Requirement } from './core/consistency.js';
import { InvalidRequestError } from './core/errors.js';
import { MEMBERS_MAX } from './core/limits.js';
import { Ring, type RingMember } from './core/ring.js';

/** Replicas per key when the options do not say. */
export const DEFAULT_REPLICAS = 3;

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

/** Resolve and validate options; throws `InvalidRequestError` saying what to fix. */
export function resolveCluster(options: Pick<ClusterOptions, 'nodes' | 'replication'>): ResolvedCluster {
  const specs = nodeSpecs(options.nodes);
  const nodes = specs.map((spec, i): ResolvedNode => ({
    label: spec.id,
    member: `n${i + 1}`,
    thread: i + 1,
    dc: spec.dc ?? 'dc1',
    rack: spec.rack ?? spec.id,
    weight: spec.weight ?? 1,
  }));
  const ring = Ring.build(nodes.map((node) => ({ id: node.member, dc: node.dc, rack: node.rack, weight: node.weight }))).members();
  return { nodes, ring: [...ring], replication: resolveReplication(options.replication ?? {}, nodes) };
}

function nodeSpecs(nodes: ClusterOptions['nodes']): NodeSpec[] {
  const specs: NodeSpec[] = typeof nodes === 'number' ? Array.from({ length: nodes }, (_, i) => ({ id: `n${i + 1}` })) : nodes;
  if (specs.length < 1 || specs.length > MEMBERS_MAX) throw new InvalidRequestError(`a cluster has 1..${MEMBERS_MAX} nodes, not ${specs.length}`);
  const seen = new Set<string>();
  for (const spec of specs) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(spec.id)) throw new InvalidRequestError(`node id "${spec.id}" must be 1-64 letters, digits, '_', '.' or '-'`);
    if (seen.has(spec.id)) throw new InvalidRequestError(`node id "${spec.id}" appears twice`);
    seen.add(spec.id);
    if (spec.weight !== undefined && !(spec.weight > 0 && spec.weight <= 2)) throw new InvalidRequestError(`node ${spec.id}: weight must be in (0, 2]`);
  }
  return specs;
}

function resolveReplication(options: ReplicationOptions, nodes: readonly ResolvedNode[]): ResolvedReplication {
  const perDc = new Map<string, number>();
  for (const node of nodes) perDc.set(node.dc, (perDc.get(node.dc) ?? 0) + 1);
  let dcs: Record<string, number>;
  if (options.dcs) {
    dcs = { ...options.dcs };
    for (const [dc, count] of Object.entries(dcs)) {
      const members = perDc.get(dc) ?? 0;
      if (!Number.isSafeInteger(count) || count < 0 || count > members) {
        throw new InvalidRequestError(`replication.dcs.${dc} = ${count}, but ${dc} has ${members} node(s)`);
      }
    }
  } else if (perDc.size === 1) {
    const [dc, members] = [...perDc.entries()][0]!;
    const n = options.n ?? Math.min(DEFAULT_REPLICAS, members);
    if (!Number.isSafeInteger(n) || n < 1 || n > members) throw new InvalidRequestError(`replication.n = ${n}, but the cluster has ${members} node(s)`);
    dcs = { [dc]: n };
  } else {
    throw new InvalidRequestError(`the nodes span data centers ${[...perDc.keys()].join(', ')}: give replication.dcs, e.g. { dc1: 3, dc2: 2 }`);
  }
  const n = Object.values(dcs).reduce((a, b) => a + b, 0);
  if (n < 1) throw new InvalidRequestError('replication places no replica anywhere');
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
