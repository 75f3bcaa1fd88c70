/**
 * What one process of a multi-process cluster tells the others once their
 * link is authenticated (issue 16): the address peers dial it at, the nodes
 * it hosts, the replicas per data center it was started with, and its
 * cluster record once it has one. Formation (`cluster_formation.ts`)
 * decides the cluster's members from the rosters of the seeds.
 *
 * Carried in a link's roster frame (`runtime/peer_frames.ts`), which is
 * checksummed and only read after the peer proved the cluster secret; it is
 * JSON, checked field by field here, since a peer of another ringkv version
 * may send other fields.
 *
 * Pure: no I/O. Safe from any thread.
 */
import type { ClusterRecord } from './cluster_record.js';
import { recordProblem } from './cluster_record.js';
import { CorruptionError } from '../core/errors.js';

/** Version of the roster's fields; a roster of another version is refused with a message. */
export const ROSTER_VERSION = 1;

/** A node as its process announces it. */
export interface RosterNode {
  id: string;
  dc: string;
  rack: string;
  weight: number;
}

/** One process's roster. */
export interface ProcessRoster {
  v: typeof ROSTER_VERSION;
  /** Its id on the links (the hello's), made of its node ids. */
  process: string;
  /** The address (`host:port`) its peer listener is reached at. */
  listen: string;
  /** The nodes it hosts. */
  nodes: RosterNode[];
  /** The replicas per key it was started with (`ReplicationOptions` n or dcs; absent: the default). */
  replicas: { n?: number; dcs?: Record<string, number> };
  /** Its cluster record, once it has one. */
  record: ClusterRecord | null;
}

/** The process id of a process hosting `nodeIds`: they are unique in the cluster, so it is too. */
export function processIdOf(nodeIds: readonly string[]): string {
  return [...nodeIds].sort().join('+');
}

/** A roster's frame payload. */
export function encodeRoster(roster: ProcessRoster): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(roster));
}

/** A roster from a frame payload; throws `CorruptionError` naming `peer` when it is not one. */
export function decodeRoster(payload: Uint8Array, peer: string): ProcessRoster {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (err) {
    throw new CorruptionError(`peer ${peer}`, -1, `a roster that is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const problem = rosterProblem(value);
  if (problem !== null) throw new CorruptionError(`peer ${peer}`, -1, `a malformed roster: ${problem}`);
  return value as ProcessRoster;
}

function rosterProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const r = value as Partial<Record<keyof ProcessRoster, unknown>>;
  if (r.v !== ROSTER_VERSION) return `version ${String(r.v)}, this ringkv reads ${ROSTER_VERSION} (run one ringkv version in every process)`;
  if (typeof r.process !== 'string' || r.process.length === 0) return 'no process id';
  if (typeof r.listen !== 'string' || !/^.+:\d{1,5}$/.test(r.listen)) return 'no listen address';
  if (!Array.isArray(r.nodes) || r.nodes.length === 0) return 'no nodes';
  for (const n of r.nodes as unknown[]) {
    const node = n as Partial<Record<keyof RosterNode, unknown>>;
    if (typeof node !== 'object' || node === null || typeof node.id !== 'string' || typeof node.dc !== 'string' || typeof node.rack !== 'string' || typeof node.weight !== 'number') {
      return 'a node without id, dc, rack or weight';
    }
  }
  if (typeof r.replicas !== 'object' || r.replicas === null) return 'no replicas';
  if (r.record !== null) {
    const problem = recordProblem(r.record);
    if (problem !== null) return `its record: ${problem}`;
  }
  return null;
}
