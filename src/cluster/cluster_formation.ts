/**
 * Which members a cluster of several processes has, decided by each
 * process from its own roster and those of its seeds (issue 16). Every
 * process decides alone, and they agree because the decision is a pure
 * function of the same rosters:
 *
 * - A process whose data directory has a cluster record runs that record's
 *   members and tokens, whoever answers: a restart never waits for peers.
 * - A process without one, whose seeds include a process with a record,
 *   adopts that record if its nodes are members (a process whose disk was
 *   replaced, say: anti-entropy refills it). Nodes that are not members
 *   are refused: joining a running cluster is a membership change.
 * - When no process has a record, the cluster is formed: the members are
 *   every node of every seed, ordered by id (which gives member ids and
 *   threads), the ring is built from them (`Ring.build`, deterministic),
 *   and the cluster id is a hash of the members and their addresses, so
 *   every process writes the same record. All seeds must have answered:
 *   the caller waits for them.
 *
 * Each process hosts its own nodes; every member's address says where the
 * others are. The ids of nodes are unique across processes, and every
 * process must agree on the replicas per key; a disagreement is refused
 * with every problem listed (`ConfigError`).
 *
 * Pure: no I/O, no clock (the caller passes `now_ms`). Safe from any thread.
 */
import { createHash } from 'node:crypto';
import type { ReplicationOptions } from './cluster_types.js';
import { resolveCluster, type ResolvedCluster } from './cluster_config.js';
import { newRecord, withRecordedTokens, type ClusterRecord } from './cluster_record.js';
import type { ProcessRoster, RosterNode } from './process_roster.js';
import { ConfigError } from '../core/errors.js';

/** What a process runs after formation. */
export interface Formation {
  /** Every member of the cluster, each with the address of its process (`ResolvedNode.host`). */
  config: ResolvedCluster;
  /** The record to keep (written when the process had none, or when an address changed). */
  record: ClusterRecord;
  /** Member ids (`n<thread>`) of the nodes this process hosts. */
  local: string[];
}

/**
 * Decide the cluster from `own` roster (its `record`: the data directory's,
 * or null) and the `peers`' rosters; `replication` is the W, R and
 * strictness this process was started with (its own coordinators' defaults;
 * the replicas per key are the rosters').
 */
export function formCluster(own: ProcessRoster, peers: readonly ProcessRoster[], replication: Pick<ReplicationOptions, 'w' | 'r' | 'strict'>, now_ms: number): Formation {
  const problems: string[] = [];
  const recorded = [own, ...peers].filter((r) => r.record !== null);
  const ids = new Set(recorded.map((r) => r.record!.cluster_id));
  if (ids.size > 1) {
    const which = recorded.map((r) => `${r.process} (${r.listen}) holds cluster ${r.record!.cluster_id}`).join('; ');
    throw new ConfigError([`the processes belong to different clusters: ${which}`], 'these processes are not one cluster', 'Give each process the seeds of its own cluster, or a new data directory to the one that should join.');
  }
  if (recorded.length > 0) return fromRecord((own.record ?? recorded[0]!.record)!, own, peers, replication, problems);

  // No record anywhere: form the cluster from every seed's nodes.
  const everyone = [own, ...peers];
  const hostOf = new Map<string, string>();
  const nodes: RosterNode[] = [];
  for (const roster of everyone) {
    for (const node of roster.nodes) {
      const other = hostOf.get(node.id);
      if (other !== undefined && other !== roster.listen) problems.push(`node id "${node.id}" is hosted by both ${other} and ${roster.listen}: node ids are unique across the cluster`);
      if (other === undefined) nodes.push(node);
      hostOf.set(node.id, roster.listen);
    }
  }
  const replicas = new Map(everyone.map((r) => [JSON.stringify(sortedReplicas(r.replicas)), r.process] as const));
  if (replicas.size > 1) {
    problems.push(`the processes were started with different replicas per key: ${[...replicas].map(([shape, process]) => `${process} ${shape}`).join(', ')}; give every process the same --n`);
  }
  if (problems.length > 0) throw new ConfigError(problems, 'the seeds cannot form one cluster');
  nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const resolved = resolveCluster({ nodes: nodes.map((n) => ({ id: n.id, dc: n.dc, rack: n.rack, weight: n.weight })), replication: { ...replication, ...own.replicas } });
  const config: ResolvedCluster = { ...resolved, nodes: resolved.nodes.map((n) => ({ ...n, host: hostOf.get(n.label)! })) };
  const clusterId = createHash('sha256')
    .update(JSON.stringify(config.nodes.map((n) => [n.label, n.host])))
    .digest('hex');
  const record = newRecord(config, now_ms, `${clusterId.slice(0, 8)}-${clusterId.slice(8, 12)}-${clusterId.slice(12, 16)}-${clusterId.slice(16, 20)}-${clusterId.slice(20, 32)}`);
  return { config, record, local: localMembers(config, own) };
}

/** The cluster of `record`, with each member's address as its process says today. */
function fromRecord(record: ClusterRecord, own: ProcessRoster, peers: readonly ProcessRoster[], replication: ReplicationOptions, problems: string[]): Formation {
  const members = new Map(record.members.map((m) => [m.id, m]));
  for (const node of own.nodes) {
    const member = members.get(node.id);
    if (member === undefined) {
      problems.push(
        `node "${node.id}" is not a member of cluster ${record.cluster_id} (members: ${record.members.map((m) => m.id).join(', ')}): ` +
          'a node joins a running cluster by a membership change, not by a start with its seeds; start it with a new cluster, or under the id of the member it replaces',
      );
    } else if (member.dc !== node.dc || member.rack !== node.rack || member.weight !== node.weight) {
      problems.push(`node "${node.id}" was created in data center ${member.dc}, rack ${member.rack}, weight ${member.weight}; ${node.dc}, ${node.rack}, ${node.weight} was asked`);
    }
  }
  const asked = own.replicas;
  const recordedN = Object.values(record.replicas_per_dc).reduce((x, y) => x + y, 0);
  const differs = asked.dcs !== undefined ? JSON.stringify(sortedReplicas({ dcs: asked.dcs })) !== JSON.stringify(sortedReplicas({ dcs: record.replicas_per_dc })) : asked.n !== undefined && asked.n !== recordedN;
  if (differs) {
    problems.push(`replicas per key: the cluster was created with ${JSON.stringify(record.replicas_per_dc)} (N=${recordedN}); ${JSON.stringify(asked.dcs ?? asked.n)} was asked`);
  }
  if (problems.length > 0) throw new ConfigError(problems, `this process does not fit cluster ${record.cluster_id}`);
  const hostOf = new Map<string, string>();
  for (const m of record.members) if (m.host !== undefined) hostOf.set(m.id, m.host);
  for (const roster of [...peers, own]) for (const node of roster.nodes) if (members.has(node.id)) hostOf.set(node.id, roster.listen);
  const resolved = withRecordedTokens(
    resolveCluster({
      nodes: record.members.map((m) => ({ id: m.id, dc: m.dc, rack: m.rack, weight: m.weight })),
      replication: { ...replication, dcs: { ...record.replicas_per_dc } },
    }),
    record,
  );
  const config: ResolvedCluster = { ...resolved, nodes: resolved.nodes.map((n) => (hostOf.has(n.label) ? { ...n, host: hostOf.get(n.label)! } : n)) };
  const updated: ClusterRecord = { ...record, members: record.members.map((m) => (hostOf.has(m.id) ? { ...m, host: hostOf.get(m.id)! } : m)) };
  return { config, record: updated, local: localMembers(config, own) };
}

function localMembers(config: ResolvedCluster, own: ProcessRoster): string[] {
  const ids = new Set(own.nodes.map((n) => n.id));
  return config.nodes.filter((n) => ids.has(n.label)).map((n) => n.member);
}

function sortedReplicas(replicas: ProcessRoster['replicas']): unknown {
  if (replicas.dcs !== undefined) return Object.fromEntries(Object.entries(replicas.dcs).filter(([, c]) => c > 0).sort(([a], [b]) => (a < b ? -1 : 1)));
  return replicas.n ?? null;
}
